//! The r2d2 manager that wraps the user's manager: per-connection bookkeeping,
//! the validation bypass, connect backoff, and the event counters.

use super::stats::Counters;
use crate::backoff::Backoff;
use portable_atomic::Ordering::Relaxed;
use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The settings a pool runs with, after validation.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_size: u32,
    pub(crate) min_idle: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) max_idle_time: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) health_check_interval: Option<Duration>,
    pub(crate) validation_bypass: Duration,
    pub(crate) reconnect_min: Duration,
    pub(crate) reconnect_max: Duration,
    /// Set with `PoolBuilder::name`; `None` = derived from the manager.
    pub(crate) name: Option<String>,
}

/// State shared by a pool, its connections, its manager and its event handler.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    /// The pool's name (see `Pool::name`), unique among live pools unless
    /// the user gave two the same one.
    pub(crate) name: String,
    #[cfg(feature = "metrics")]
    pub(crate) metrics: super::metrics::PoolMetrics,
    pub(crate) counters: Counters,
    pub(crate) closed: AtomicBool,
    /// Connections taken out by maintenance (reaper passes, probes); counted as idle.
    pub(crate) held: AtomicUsize,
    /// Connection openings the reaper asked for that have not arrived yet.
    pub(crate) topup_pending: AtomicUsize,
    /// A probe job of this pool is queued or running.
    pub(crate) probing: AtomicBool,
    dial: Mutex<DialState>,
}

#[derive(Debug)]
struct DialState {
    backoff: Backoff,
    next_attempt: Option<Instant>,
    last_error: Option<String>,
    /// The last connect failed in a way a retry cannot fix.
    fatal: Option<Fatal>,
    /// The last failed health probe's message.
    last_probe_error: Option<String>,
}

/// A connect error that waiting will not cure, kept so that callers get it at
/// once instead of waiting for the acquire timeout.
#[derive(Debug, Clone)]
enum Fatal {
    Auth(String),
    Config(String),
}

impl Fatal {
    fn of<E: 'static>(e: &E) -> Option<Fatal> {
        match (e as &dyn std::any::Any).downcast_ref::<crate::Error>()? {
            crate::Error::Auth(m) => Some(Fatal::Auth(m.clone())),
            crate::Error::Config(m) => Some(Fatal::Config(m.clone())),
            _ => None,
        }
    }
}

impl Shared {
    pub(crate) fn new(settings: Settings, name: String) -> Shared {
        let backoff = Backoff::new(settings.reconnect_min, settings.reconnect_max);
        Shared {
            settings,
            #[cfg(feature = "metrics")]
            metrics: super::metrics::PoolMetrics::new(&name),
            name,
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            topup_pending: AtomicUsize::new(0),
            probing: AtomicBool::new(false),
            dial: Mutex::new(DialState {
                backoff,
                next_attempt: None,
                last_error: None,
                fatal: None,
                last_probe_error: None,
            }),
        }
    }

    fn dial(&self) -> MutexGuard<'_, DialState> {
        self.dial.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a checkout that had to wait (and records it as a metric).
    pub(crate) fn record_wait(&self, waited: Duration) {
        self.counters.add_wait(waited);
        #[cfg(feature = "metrics")]
        self.metrics.record_wait(waited);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The last connect error, while the target is failing.
    pub(crate) fn last_connect_error(&self) -> Option<String> {
        self.dial().last_error.clone()
    }

    /// The last connect error, or else the last failed probe: what a caller
    /// who timed out wants to know.
    pub(crate) fn last_error(&self) -> Option<String> {
        let dial = self.dial();
        dial.last_error.clone().or_else(|| {
            dial.last_probe_error
                .as_ref()
                .map(|e| format!("health probe failed: {e}"))
        })
    }

    /// True while connects are held back after failures.
    /// After a connect failed with an error a retry cannot fix (refused
    /// credentials, invalid settings), and until a connect succeeds: that
    /// error. r2d2 keeps retrying in the background (with our backoff), so a
    /// fix on the server side is picked up.
    pub(crate) fn fatal_error(&self) -> Option<crate::Error> {
        self.dial().fatal.clone().map(|f| match f {
            Fatal::Auth(m) => crate::Error::Auth(m),
            Fatal::Config(m) => crate::Error::Config(m),
        })
    }

    pub(crate) fn backing_off(&self) -> bool {
        matches!(self.dial().next_attempt, Some(t) if t > Instant::now())
    }
}

/// One pooled connection with the pool's bookkeeping. r2d2 holds it boxed
/// (`Managed`'s connection type is `Box<Entry<C>>`): r2d2 moves its connection
/// several times per checkout + return, and a box keeps those moves small
/// whatever the size of the user's connection.
pub(crate) struct Entry<C> {
    pub(crate) conn: C,
    pub(crate) shared: Arc<Shared>,
    pub(crate) created: Instant,
    /// Last time a caller gave it back (idle eviction counts from here).
    pub(crate) last_used: Instant,
    /// Last time it was known good: given back by a caller or passed a probe.
    pub(crate) last_ok: Instant,
    /// Close it instead of putting it back.
    pub(crate) discard: bool,
    /// Not yet seen by maintenance or a caller (see `Shared::topup_pending`).
    pub(crate) fresh: bool,
}

impl<C> Entry<C> {
    /// The first time anyone sees a new connection, it stops counting as a
    /// pending top-up (r2d2 announces a connection before it is idle, so the
    /// announcement cannot be used without a race).
    pub(crate) fn mark_seen(&mut self) {
        if self.fresh {
            self.fresh = false;
            let _ = self.shared.topup_pending.fetch_update(
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
                |n| n.checked_sub(1),
            );
        }
    }
}

/// Why the wrapped manager could not open a connection.
#[derive(Debug)]
pub(crate) enum ConnectError<E> {
    /// The user's manager failed.
    Inner(E),
    /// The pool is closed.
    Closed,
    /// A recent connect failed; the next one is not due yet.
    BackingOff { left: Duration, last: String },
    /// The checkout probe failed.
    Unhealthy(String),
}

impl<E: fmt::Display> fmt::Display for ConnectError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Inner(e) => e.fmt(f),
            ConnectError::Closed => f.write_str("the pool is closed"),
            ConnectError::BackingOff { left, last } => {
                write!(f, "{last} (next connect attempt in {left:?})")
            }
            ConnectError::Unhealthy(msg) => write!(f, "health probe failed: {msg}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ConnectError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Inner(e) => Some(e),
            _ => None,
        }
    }
}

thread_local! {
    /// Set while pool maintenance takes connections out: no checkout probe then.
    static MAINTENANCE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with checkout validation switched off on this thread.
pub(crate) fn without_validation<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            MAINTENANCE.with(|m| m.set(self.0));
        }
    }
    let _reset = Reset(MAINTENANCE.with(|m| m.replace(true)));
    f()
}

/// The manager r2d2 sees: the user's manager plus bookkeeping.
pub(crate) struct Managed<M> {
    pub(crate) inner: Arc<M>,
    pub(crate) shared: Arc<Shared>,
}

impl<M: fmt::Debug> fmt::Debug for Managed<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Probes one connection with the user's manager, counting the result; `Err`
/// carries the message and marks the connection for discarding.
pub(crate) fn probe<M: r2d2::ManageConnection>(
    manager: &M,
    shared: &Shared,
    entry: &mut Entry<M::Connection>,
) -> Result<(), String> {
    let counters = &shared.counters;
    counters.health_checks.fetch_add(1, Relaxed);
    match manager.is_valid(&mut entry.conn) {
        Ok(()) => {
            entry.last_ok = Instant::now();
            Ok(())
        }
        Err(e) => {
            counters.health_failures.fetch_add(1, Relaxed);
            entry.discard = true;
            let msg = e.to_string();
            log::debug!("health probe failed: {msg}");
            shared.dial().last_probe_error = Some(msg.clone());
            Err(msg)
        }
    }
}

impl<M: r2d2::ManageConnection> r2d2::ManageConnection for Managed<M> {
    type Connection = Box<Entry<M::Connection>>;
    type Error = ConnectError<M::Error>;

    fn connect(&self) -> Result<Self::Connection, Self::Error> {
        if self.shared.is_closed() {
            return Err(ConnectError::Closed);
        }
        {
            let dial = self.shared.dial();
            if let Some(at) = dial.next_attempt {
                let now = Instant::now();
                if at > now {
                    return Err(ConnectError::BackingOff {
                        left: at - now,
                        last: dial.last_error.clone().unwrap_or_default(),
                    });
                }
            }
        }
        match self.inner.connect() {
            Ok(_) if self.shared.is_closed() => Err(ConnectError::Closed),
            Ok(conn) => {
                let mut dial = self.shared.dial();
                if dial.backoff.failures() > 0 {
                    log::info!("connected again after {} failures", dial.backoff.failures());
                }
                dial.backoff.success();
                dial.next_attempt = None;
                dial.last_error = None;
                dial.fatal = None;
                drop(dial);
                let now = Instant::now();
                Ok(Box::new(Entry {
                    conn,
                    shared: self.shared.clone(),
                    created: now,
                    last_used: now,
                    last_ok: now,
                    discard: false,
                    fresh: true,
                }))
            }
            Err(e) => {
                let msg = e.to_string();
                let mut dial = self.shared.dial();
                let wait = dial.backoff.failure();
                if dial.backoff.failures() == 1 {
                    log::warn!("connect failed: {msg}; retrying with backoff");
                } else {
                    log::debug!("connect failed again: {msg}; next attempt in {wait:?}");
                }
                dial.next_attempt = Some(Instant::now() + wait);
                dial.last_error = Some(msg);
                dial.fatal = Fatal::of(&e);
                Err(ConnectError::Inner(e))
            }
        }
    }

    fn is_valid(&self, entry: &mut Self::Connection) -> Result<(), Self::Error> {
        if MAINTENANCE.with(Cell::get) {
            return Ok(());
        }
        if self.shared.is_closed() {
            return Err(ConnectError::Closed);
        }
        if entry.last_ok.elapsed() < self.shared.settings.validation_bypass {
            return Ok(());
        }
        probe(&*self.inner, &self.shared, entry).map_err(ConnectError::Unhealthy)
    }

    fn has_broken(&self, entry: &mut Self::Connection) -> bool {
        entry.discard || self.inner.has_broken(&mut entry.conn)
    }
}

/// Counts what only r2d2 sees: connections opened and closed.
#[derive(Debug)]
pub(crate) struct Events(pub(crate) Arc<Shared>);

impl r2d2::HandleEvent for Events {
    fn handle_acquire(&self, _: r2d2::event::AcquireEvent) {
        self.0.counters.created.fetch_add(1, Relaxed);
    }

    fn handle_release(&self, _: r2d2::event::ReleaseEvent) {
        self.0.counters.closed.fetch_add(1, Relaxed);
    }
}

/// r2d2's default handler logs every error at `error` level; ours are logged
/// (rate-limited) where they happen.
#[derive(Debug)]
pub(crate) struct QuietErrors;

impl<E> r2d2::HandleError<E> for QuietErrors {
    fn handle_error(&self, _: E) {}
}
