//! The one background reaper thread and the one small worker pool that every
//! pool in the process shares.
//!
//! The reaper only does bookkeeping (no I/O but closing sockets); background
//! dials (top-up to `min_idle`) and probes run as jobs on the shared workers.
//! Both go away when the last pool does. Callers' own dials never touch them.
//!
//! Both are a mutex-protected queue and a condition variable (std only): the
//! smallest code for what they do, which matters on a gateway's flash.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A job for the shared workers.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// The last handle is gone: finish the queue, then leave.
    closing: bool,
}

#[derive(Default)]
struct WorkQueue {
    queue: Mutex<Queue>,
    cond: Condvar,
}

/// A handle on the shared worker threads; they exit when the last handle
/// (held by the pools) is dropped and the queue is empty.
pub(crate) struct Workers {
    shared: Arc<WorkQueue>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Workers")
    }
}

impl Workers {
    /// Queues `job`; a job that panics does not take its worker with it.
    pub(crate) fn execute(&self, job: Job) {
        lock(&self.shared.queue).jobs.push_back(job);
        self.shared.cond.notify_one();
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        lock(&self.shared.queue).closing = true;
        self.shared.cond.notify_all();
    }
}

fn work(shared: Arc<WorkQueue>) {
    loop {
        let job = {
            let mut q = lock(&shared.queue);
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    break job;
                }
                if q.closing {
                    return;
                }
                q = shared.cond.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
        };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            log::error!("edgepool: a background job panicked");
        }
    }
}

static WORKERS: Mutex<Option<(Weak<Workers>, usize)>> = Mutex::new(None);

/// The shared worker pool, created on first use and dropped with the last pool.
pub(crate) fn workers() -> Arc<Workers> {
    let threads = WORKER_COUNT.load(Ordering::Relaxed);
    let mut slot = lock(&WORKERS);
    if let Some((pool, size)) = slot.as_ref() {
        if let (Some(pool), true) = (pool.upgrade(), *size == threads) {
            return pool;
        }
    }
    let shared = Arc::new(WorkQueue::default());
    for i in 0..threads {
        let shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("edgepool-worker-{i}"))
            .spawn(move || work(shared));
        if let Err(e) = spawned {
            log::error!("cannot start an edgepool worker thread: {e}");
        }
    }
    let pool = Arc::new(Workers { shared });
    *slot = Some((Arc::downgrade(&pool), threads));
    pool
}

/// See [`crate::pool::set_worker_threads`].
pub(crate) fn set_worker_threads(threads: usize) {
    WORKER_COUNT.store(threads, Ordering::Relaxed);
}

/// What the reaper thread is told.
#[derive(Default)]
struct Inbox {
    /// Pools registered since the reaper last looked.
    added: Vec<Weak<dyn Maintain>>,
    /// Look at every pool now (one closed or dropped).
    wake: bool,
    /// A reaper thread is running.
    running: bool,
}

static INBOX: Mutex<Inbox> = Mutex::new(Inbox {
    added: Vec::new(),
    wake: false,
    running: false,
});
static BELL: Condvar = Condvar::new();

/// Puts a pool under the shared reaper, starting the reaper if needed. Its
/// first pass runs at once.
pub(crate) fn register(target: Weak<dyn Maintain>) {
    let mut inbox = lock(&INBOX);
    inbox.added.push(target);
    if inbox.running {
        BELL.notify_one();
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("edgepool-reaper".into())
        .spawn(run);
    match spawned {
        Ok(_) => inbox.running = true,
        Err(e) => log::error!("cannot start the edgepool reaper thread: {e}"),
    }
}

/// Asks the reaper to look at its pools now (one closed or dropped).
pub(crate) fn wake() {
    let mut inbox = lock(&INBOX);
    if inbox.running {
        inbox.wake = true;
        BELL.notify_one();
    }
}

struct Scheduled {
    target: Weak<dyn Maintain>,
    next: Instant,
}

fn run() {
    let mut pools: Vec<Scheduled> = Vec::new();
    loop {
        {
            let mut inbox = lock(&INBOX);
            if pools.is_empty() && inbox.added.is_empty() {
                // The last pool is gone and nobody registered meanwhile
                // (registration holds this lock).
                inbox.running = false;
                return;
            }
            let next = pools.iter().map(|p| p.next).min();
            while inbox.added.is_empty() && !inbox.wake {
                let now = Instant::now();
                let until = next.unwrap_or(now);
                if until <= now {
                    break;
                }
                inbox = BELL
                    .wait_timeout(inbox, until - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            inbox.wake = false;
            let now = Instant::now();
            pools.extend(
                inbox
                    .added
                    .drain(..)
                    .map(|target| Scheduled { target, next: now }),
            );
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
    }
}
