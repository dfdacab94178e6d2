//! The one background reaper thread and the one small worker pool that every
//! pool in the process shares.
//!
//! The reaper only does bookkeeping (no I/O but closing sockets); background
//! dials (top-up to `min_idle`) and probes run as jobs on the shared workers.
//! Both go away when the last pool does. Callers' own dials never touch them.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

/// Default number of threads in the shared worker pool (background dials and
/// probes).
pub(crate) const WORKER_THREADS: usize = 3;

static WORKER_COUNT: AtomicUsize = AtomicUsize::new(WORKER_THREADS);

/// Something the reaper looks after.
pub(crate) trait Maintain: Send + Sync {
    /// One maintenance pass; returns when the next one is due, or `None` when
    /// this pool no longer needs the reaper (closed).
    fn maintain(&self) -> Option<Duration>;
}

enum Msg {
    Add(Weak<dyn Maintain>),
    Wake,
}

static REAPER: Mutex<Option<Sender<Msg>>> = Mutex::new(None);
static WORKERS: Mutex<Option<(Weak<Workers>, usize)>> = Mutex::new(None);

/// A job for the shared workers.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// The shared worker threads: they take jobs from one channel and exit when
/// the last handle (held by the pools) is dropped and the queue is empty.
#[derive(Debug)]
pub(crate) struct Workers {
    tx: Sender<Job>,
}

impl Workers {
    /// Queues `job`; a job that panics does not take its worker with it.
    pub(crate) fn execute(&self, job: Job) {
        // The workers only leave once every handle (this one too) is gone.
        let _ = self.tx.send(job);
    }
}

fn work(rx: Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            log::error!("edgepool: a background job panicked");
        }
    }
}

/// The shared worker pool, created on first use and dropped with the last pool.
pub(crate) fn workers() -> Arc<Workers> {
    let threads = WORKER_COUNT.load(Ordering::Relaxed);
    let mut slot = WORKERS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((pool, size)) = slot.as_ref() {
        if let (Some(pool), true) = (pool.upgrade(), *size == threads) {
            return pool;
        }
    }
    let (tx, rx) = crossbeam_channel::unbounded();
    for i in 0..threads {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("edgepool-worker-{i}"))
            .spawn(move || work(rx));
        if let Err(e) = spawned {
            log::error!("cannot start an edgepool worker thread: {e}");
        }
    }
    let pool = Arc::new(Workers { tx });
    *slot = Some((Arc::downgrade(&pool), threads));
    pool
}

/// See [`crate::pool::set_worker_threads`].
pub(crate) fn set_worker_threads(threads: usize) {
    WORKER_COUNT.store(threads, Ordering::Relaxed);
}

/// Puts a pool under the shared reaper, starting the reaper if needed. Its
/// first pass runs at once.
pub(crate) fn register(target: Weak<dyn Maintain>) {
    let mut slot = REAPER.lock().unwrap_or_else(PoisonError::into_inner);
    let msg = Msg::Add(target);
    let msg = match slot.as_ref() {
        Some(tx) => match tx.send(msg) {
            Ok(()) => return,
            Err(crossbeam_channel::SendError(msg)) => msg,
        },
        None => msg,
    };
    let (tx, rx) = crossbeam_channel::unbounded();
    let _ = tx.send(msg);
    let spawned = std::thread::Builder::new()
        .name("edgepool-reaper".into())
        .spawn(move || run(rx));
    match spawned {
        Ok(_) => *slot = Some(tx),
        Err(e) => log::error!("cannot start the edgepool reaper thread: {e}"),
    }
}

/// Asks the reaper to look at its pools now (one closed or dropped).
pub(crate) fn wake() {
    let slot = REAPER.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(tx) = slot.as_ref() {
        let _ = tx.send(Msg::Wake);
    }
}

struct Scheduled {
    target: Weak<dyn Maintain>,
    next: Instant,
}

fn run(rx: Receiver<Msg>) {
    let mut pools: Vec<Scheduled> = Vec::new();
    loop {
        let next = pools.iter().map(|p| p.next).min();
        let msg = match next {
            Some(at) => rx.recv_deadline(at),
            None => rx.recv_timeout(Duration::from_millis(100)),
        };
        match msg {
            Ok(Msg::Add(target)) => pools.push(Scheduled {
                target,
                next: Instant::now(),
            }),
            Ok(Msg::Wake) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        pools.retain_mut(|p| {
            if p.next > now {
                return p.target.strong_count() > 0;
            }
            let Some(target) = p.target.upgrade() else {
                return false;
            };
            // A bug in one pool must not stop the reaper of every pool.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target.maintain())) {
                Ok(Some(period)) => {
                    p.next = Instant::now() + period.min(Duration::from_secs(1));
                    true
                }
                Ok(None) => false,
                Err(_) => {
                    log::error!("edgepool: a pool's maintenance panicked; it is no longer reaped");
                    false
                }
            }
        });
        if pools.is_empty() {
            // Leave only if nobody registered meanwhile: registration holds
            // this lock while it sends.
            let mut slot = REAPER.lock().unwrap_or_else(PoisonError::into_inner);
            if rx.is_empty() {
                *slot = None;
                return;
            }
        }
    }
}
