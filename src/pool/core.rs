//! The pool core: idle connections, the connection count, dials in flight,
//! the target's connect state, waiters and the counters, all behind one
//! mutex that every checkout and return takes once.
//!
//! A checkout takes the most recently returned idle connection; without one
//! it dials on the caller's own thread when there is room and the target is
//! not in backoff, and waits on the condition variable otherwise. A return
//! puts the connection back and wakes one waiter (only when someone waits).
//! Background top-up to `min_idle` runs on the shared workers, one dial in
//! flight per pool; every dial is counted before it starts, so the pool never
//! opens more than callers and `min_idle` need.

use super::builder::{NameLease, Settings};
use super::reaper::Workers;
use super::stats::{Counters, Stats};
use crate::backoff::Backoff;
use crate::{Error, Manage, Result};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

/// One pooled connection and its times.
pub(crate) struct Entry<C> {
    pub(crate) conn: C,
    pub(crate) created: Instant,
    /// Last time a caller gave it back (idle eviction counts from here).
    pub(crate) last_used: Instant,
    /// Last time it was known good: opened, given back, or passed a probe.
    pub(crate) last_ok: Instant,
}

impl<C> Entry<C> {
    fn new(conn: C, now: Instant) -> Box<Entry<C>> {
        Box::new(Entry {
            conn,
            created: now,
            last_used: now,
            last_ok: now,
        })
    }
}

/// What the pool knows about reaching its target.
#[derive(Debug)]
pub(crate) struct Target {
    backoff: Backoff,
    /// The last connect failed: no dial before this.
    retry_at: Option<Instant>,
    /// Why the last connect failed; `None` once one succeeds.
    pub(crate) last_error: Option<Arc<Error>>,
    /// The last failed health probe's message.
    pub(crate) last_probe_error: Option<String>,
}

/// Everything behind the pool's lock.
pub(crate) struct State<C> {
    /// Idle connections, least recently used first.
    pub(crate) idle: VecDeque<Box<Entry<C>>>,
    /// Connections that exist: idle, in use, and held by maintenance.
    pub(crate) open: u32,
    /// Checked out by callers.
    pub(crate) in_use: u32,
    /// Taken out by maintenance (probes, health checks); counted as idle.
    pub(crate) held: u32,
    /// Dials in flight, callers' and background.
    pub(crate) dialing: u32,
    /// Dials of `warm_up` in flight: each lands idle, so a top-up counts
    /// them (or `min_idle` would be overshot).
    pub(crate) warming: u32,
    /// A background top-up dial is queued or in flight.
    pub(crate) topping_up: bool,
    /// A background probe job is queued or running.
    pub(crate) probing: bool,
    /// A background dial is testing a failing target (queued or in flight).
    pub(crate) testing: bool,
    /// Callers blocked on the condition variable.
    pub(crate) waiters: u32,
    pub(crate) target: Target,
    pub(crate) counters: Counters,
}

/// Whether a checkout may dial now.
enum DialGate {
    /// Yes.
    Open,
    /// No room: every connection the pool may open exists or is being opened.
    Full,
    /// The target is failing: the next dial is due at this time, or (`None`)
    /// it is due now, and a background dial tests it (callers never wait on
    /// a failing target's connect).
    Down(Option<Instant>),
}

impl<C> State<C> {
    fn gate(&self, max_size: u32, now: Instant) -> DialGate {
        if self.open + self.dialing >= max_size {
            return DialGate::Full;
        }
        if self.target.last_error.is_none() {
            return DialGate::Open;
        }
        match self.target.retry_at {
            Some(at) if at > now => DialGate::Down(Some(at)),
            // Half-open: one background dial tests the target.
            _ => DialGate::Down(None),
        }
    }

    /// True when the gate lets a dial through now.
    pub(crate) fn may_dial(&self, max_size: u32, now: Instant) -> bool {
        matches!(self.gate(max_size, now), DialGate::Open)
    }

    /// True unless the target is in backoff.
    pub(crate) fn target_due(&self, now: Instant) -> bool {
        self.target.retry_at.is_none_or(|at| at <= now)
    }

    /// True when a failing target is due for its test dial and none runs.
    pub(crate) fn test_due(&self, max_size: u32, now: Instant) -> bool {
        !self.testing && matches!(self.gate(max_size, now), DialGate::Down(None))
    }

    /// When the next dial is due after a failure.
    pub(crate) fn retry_at(&self) -> Option<Instant> {
        self.target.retry_at
    }

    /// Idle connections, counting those maintenance holds.
    pub(crate) fn idle_count(&self) -> u32 {
        u32::try_from(self.idle.len())
            .unwrap_or(u32::MAX)
            .saturating_add(self.held)
    }

    /// The error a caller gets while the target is down.
    fn down_error(&self, now: Instant) -> Error {
        let retry_in = self
            .target
            .retry_at
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
        match &self.target.last_error {
            Some(e) if e.is_permanent() => e.duplicate(),
            Some(e) => Error::Unavailable {
                last_error: e.clone(),
                retry_in,
            },
            None => Error::Unavailable {
                last_error: Arc::new(Error::Unhealthy("the target is being tested".into())),
                retry_in,
            },
        }
    }

    /// The last connect error, or else the last failed probe: what a caller
    /// who timed out wants to know.
    pub(crate) fn last_error_text(&self) -> Option<String> {
        let t = &self.target;
        t.last_error.as_ref().map(|e| e.to_string()).or_else(|| {
            t.last_probe_error
                .as_ref()
                .map(|e| format!("health probe failed: {e}"))
        })
    }

    /// Counts a failed probe and keeps its message for timeouts to report.
    pub(crate) fn note_probe_failure(&mut self, msg: String) {
        self.counters.health_failures += 1;
        self.target.last_probe_error = Some(msg);
    }

    /// Closes one connection's slot (the caller drops the connection, after
    /// unlocking).
    pub(crate) fn forget_one(&mut self) {
        self.open -= 1;
        self.counters.closed += 1;
    }
}

/// One pool: settings, manager, state.
pub(crate) struct Core<M: Manage> {
    pub(crate) manager: M,
    pub(crate) settings: Settings,
    pub(crate) name: NameLease,
    /// The manager's longest connect, to know when a caller's dial is cut short.
    budget: Option<Duration>,
    state: Mutex<State<M::Connection>>,
    cond: Condvar,
    closed: AtomicBool,
    pub(crate) workers: Arc<Workers>,
    pub(crate) me: Weak<Core<M>>,
    #[cfg(feature = "metrics")]
    pub(crate) metrics: super::metrics::PoolMetrics,
}

/// How a dial ended, for the books.
pub(crate) enum Dialled<C> {
    Ok(C),
    /// The target failed (recorded: backoff, last error).
    Failed(Arc<Error>),
    /// A dial cut short by the caller's deadline timed out: says nothing
    /// about the target.
    OutOfTime(Error),
}

impl<M: Manage> Core<M> {
    pub(crate) fn new(
        settings: Settings,
        manager: M,
        name: NameLease,
        workers: Arc<Workers>,
        me: Weak<Core<M>>,
    ) -> Core<M> {
        let budget = manager.connect_budget();
        Core {
            #[cfg(feature = "metrics")]
            metrics: super::metrics::PoolMetrics::new(name.as_str()),
            state: Mutex::new(State {
                idle: VecDeque::with_capacity(settings.max_size.min(64) as usize),
                open: 0,
                in_use: 0,
                held: 0,
                dialing: 0,
                warming: 0,
                topping_up: false,
                probing: false,
                testing: false,
                waiters: 0,
                target: Target {
                    backoff: Backoff::new(settings.reconnect_min, settings.reconnect_max),
                    retry_at: None,
                    last_error: None,
                    last_probe_error: None,
                },
                counters: Counters::default(),
            }),
            manager,
            settings,
            name,
            budget,
            cond: Condvar::new(),
            closed: AtomicBool::new(false),
            workers,
            me,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<M::Connection>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Checks out a connection: see `Pool::get_timeout`.
    pub(crate) fn checkout(&self, timeout: Duration) -> Result<Box<Entry<M::Connection>>> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let start = Instant::now();
        let mut st = self.lock();
        // The fast path: an idle connection known good recently enough.
        if let Some(entry) = st.idle.pop_back() {
            if start.saturating_duration_since(entry.last_ok) < self.settings.validation_bypass {
                st.in_use += 1;
                st.counters.acquired += 1;
                let top_up = self.wants_top_up(&st, start);
                drop(st);
                if top_up {
                    self.spawn_top_up();
                }
                return Ok(entry);
            }
            st.idle.push_back(entry);
        }
        self.checkout_slow(st, start, later(start, timeout))
    }

    fn checkout_slow<'a>(
        &'a self,
        mut st: MutexGuard<'a, State<M::Connection>>,
        start: Instant,
        deadline: Instant,
    ) -> Result<Box<Entry<M::Connection>>> {
        let mut now = start;
        let mut waited = false;
        loop {
            if self.is_closed() {
                return Err(Error::Closed);
            }
            if let Some(mut entry) = st.idle.pop_back() {
                if now.saturating_duration_since(entry.last_ok) >= self.settings.validation_bypass {
                    // Probe it outside the lock; held meanwhile.
                    st.held += 1;
                    drop(st);
                    let ok = self.probe(&mut entry);
                    st = self.lock();
                    st.held -= 1;
                    if let Err(msg) = ok {
                        st.note_probe_failure(msg);
                        st.forget_one();
                        let top_up = self.wants_top_up(&st, now);
                        drop(st);
                        drop(entry);
                        if top_up {
                            self.spawn_top_up();
                        }
                        now = Instant::now();
                        st = self.lock();
                        continue;
                    }
                }
                st.in_use += 1;
                st.counters.acquired += 1;
                if waited {
                    self.record_wait(&mut st, now.saturating_duration_since(start));
                }
                let top_up = self.wants_top_up(&st, now);
                drop(st);
                if top_up {
                    self.spawn_top_up();
                }
                return Ok(entry);
            }
            match st.gate(self.settings.max_size, now) {
                DialGate::Open => {
                    st.dialing += 1;
                    drop(st);
                    let dialled = self.dial(Some(deadline));
                    let end = Instant::now();
                    st = self.lock();
                    let result = self.settle_dial(&mut st, dialled, end);
                    if matches!(result, Err(Error::Unavailable { .. }))
                        && !self.settings.fail_fast
                        && end < deadline
                    {
                        // Patient callers wait for the next attempt.
                        waited = true;
                        now = end;
                        continue;
                    }
                    self.record_wait(&mut st, end.saturating_duration_since(start));
                    return match result {
                        Ok(entry) => {
                            st.in_use += 1;
                            st.counters.acquired += 1;
                            Ok(entry)
                        }
                        Err(e) => {
                            match e {
                                Error::PoolTimeout { .. } => st.counters.timeouts += 1,
                                Error::Closed => {}
                                _ => st.counters.unavailable += 1,
                            }
                            Err(e)
                        }
                    };
                }
                DialGate::Down(due) if self.settings.fail_fast && st.open == 0 => {
                    if due.is_none() {
                        self.start_test(&mut st);
                    }
                    st.counters.unavailable += 1;
                    if waited {
                        self.record_wait(&mut st, now.saturating_duration_since(start));
                    }
                    return Err(st.down_error(now));
                }
                gate => {
                    if matches!(gate, DialGate::Down(None)) {
                        self.start_test(&mut st);
                    }
                    if now >= deadline {
                        st.counters.timeouts += 1;
                        let waited_for = now.saturating_duration_since(start);
                        self.record_wait(&mut st, waited_for);
                        return Err(Error::PoolTimeout {
                            waited: waited_for,
                            last_error: st.last_error_text(),
                        });
                    }
                    // Wake for a return, a close, a dial's end, or when the
                    // backoff allows the next dial.
                    let until = match gate {
                        DialGate::Down(Some(at)) => at.min(deadline),
                        _ => deadline,
                    };
                    waited = true;
                    st.waiters += 1;
                    let (guard, _) = self
                        .cond
                        .wait_timeout(st, until.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner);
                    st = guard;
                    st.waiters -= 1;
                    now = Instant::now();
                }
            }
        }
    }

    fn record_wait(&self, st: &mut State<M::Connection>, waited: Duration) {
        st.counters.add_wait(waited);
        #[cfg(feature = "metrics")]
        self.metrics.record_wait(waited);
    }

    /// Opens a connection (no lock held; the caller counted it in `dialing`),
    /// within `deadline` when the manager can be told.
    pub(crate) fn dial(&self, deadline: Option<Instant>) -> Dialled<M::Connection> {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let result = match left {
            Some(left) => self
                .manager
                .connect_within(left.max(Duration::from_millis(1))),
            None => self.manager.connect(),
        };
        // Given less than half of what a connect normally takes, a timeout
        // says nothing about the target.
        let cut_short = matches!((left, self.budget), (Some(l), Some(b)) if l < b / 2);
        match result {
            Ok(conn) => Dialled::Ok(conn),
            Err(e) => {
                let e = self.manager.to_error(e);
                if cut_short && e.is_timeout() {
                    Dialled::OutOfTime(e)
                } else {
                    Dialled::Failed(Arc::new(e))
                }
            }
        }
    }

    /// Books a finished dial (with the lock): the connection counted, or the
    /// failure recorded; wakes whoever waits on the outcome. A connection
    /// opened after `close` is dropped here, under the lock (edgepool's
    /// connections only close their socket when dropped).
    pub(crate) fn settle_dial(
        &self,
        st: &mut State<M::Connection>,
        dialled: Dialled<M::Connection>,
        now: Instant,
    ) -> Result<Box<Entry<M::Connection>>> {
        st.dialing -= 1;
        let was_failing = st.target.last_error.is_some();
        match dialled {
            Dialled::Ok(conn) => {
                if was_failing {
                    log::info!(
                        "{}: connected again after {} failed attempts",
                        self.name.as_str(),
                        st.target.backoff.failures()
                    );
                    // Callers waiting on the test dial may dial too now.
                    self.cond.notify_all();
                }
                st.target.backoff.success();
                st.target.retry_at = None;
                st.target.last_error = None;
                if self.is_closed() {
                    drop(conn);
                    return Err(Error::Closed);
                }
                st.open += 1;
                st.counters.created += 1;
                Ok(Entry::new(conn, now))
            }
            Dialled::Failed(e) => {
                let wait = st.target.backoff.failure();
                st.target.retry_at = Some(later(now, wait));
                if st.target.backoff.failures() == 1 {
                    log::warn!(
                        "{}: connect failed: {e}; retrying with backoff",
                        self.name.as_str()
                    );
                } else {
                    log::debug!(
                        "{}: connect failed again: {e}; next attempt in {wait:?}",
                        self.name.as_str()
                    );
                }
                st.target.last_error = Some(e.clone());
                self.cond.notify_all();
                if self.is_closed() {
                    return Err(Error::Closed);
                }
                Err(if e.is_permanent() {
                    e.duplicate()
                } else {
                    Error::Unavailable {
                        last_error: e,
                        retry_in: wait,
                    }
                })
            }
            Dialled::OutOfTime(e) => {
                if st.waiters > 0 {
                    self.cond.notify_one();
                }
                Err(Error::PoolTimeout {
                    waited: Duration::ZERO,
                    last_error: Some(e.to_string()),
                })
            }
        }
    }

    /// Takes a connection back from a caller.
    pub(crate) fn give_back(&self, mut entry: Box<Entry<M::Connection>>, discard: bool) {
        let now = Instant::now();
        let broken = discard
            || self.is_closed()
            || self.manager.has_broken(&mut entry.conn)
            || self
                .settings
                .max_lifetime
                .is_some_and(|l| now.saturating_duration_since(entry.created) >= l);
        let mut st = self.lock();
        st.in_use -= 1;
        st.counters.released += 1;
        if !broken {
            entry.last_used = now;
            entry.last_ok = now;
            st.idle.push_back(entry);
            if st.waiters > 0 {
                self.cond.notify_one();
            }
            return;
        }
        st.forget_one();
        if st.waiters > 0 {
            // There is room to dial now.
            self.cond.notify_one();
        }
        let top_up = self.wants_top_up(&st, now);
        drop(st);
        drop(entry);
        if top_up {
            self.spawn_top_up();
        }
    }

    /// Probes one connection with the manager, counting it. `Err` carries
    /// the message; the caller closes the connection.
    pub(crate) fn probe(
        &self,
        entry: &mut Entry<M::Connection>,
    ) -> std::result::Result<(), String> {
        let result = self.manager.is_valid(&mut entry.conn);
        let mut st = self.lock();
        st.counters.health_checks += 1;
        match result {
            Ok(()) => {
                entry.last_ok = Instant::now();
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                log::debug!("{}: health probe failed: {msg}", self.name.as_str());
                Err(msg)
            }
        }
    }

    /// True when a background dial should start now (the lock held): below
    /// `min_idle` counting the dials in flight, room left, target not in
    /// backoff, none already going.
    pub(crate) fn wants_top_up(&self, st: &State<M::Connection>, now: Instant) -> bool {
        let min = self.settings.min_idle;
        min > 0
            && !st.topping_up
            && !self.is_closed()
            && st.idle_count() + st.warming < min
            && st.may_dial(self.settings.max_size, now)
    }

    /// Starts the background dial that tests a failing target, if it is due
    /// and none runs (the lock held). Callers never wait on it: they fail
    /// fast, or wait for its outcome on the condition variable.
    pub(crate) fn start_test(&self, st: &mut State<M::Connection>) {
        if !st.test_due(self.settings.max_size, Instant::now()) || self.is_closed() {
            return;
        }
        let Some(core) = self.me.upgrade() else {
            return;
        };
        st.testing = true;
        st.dialing += 1;
        self.workers.execute(Box::new(move || {
            let dialled = core.dial(None);
            let now = Instant::now();
            let mut st = core.lock();
            st.testing = false;
            if let Ok(entry) = core.settle_dial(&mut st, dialled, now) {
                st.idle.push_back(entry);
                core.cond.notify_all();
            }
        }));
    }

    /// Starts the background top-up job on the shared workers.
    pub(crate) fn spawn_top_up(&self) {
        let Some(core) = self.me.upgrade() else {
            return;
        };
        {
            let mut st = self.lock();
            if !self.wants_top_up(&st, Instant::now()) {
                return;
            }
            st.topping_up = true;
        }
        self.workers.execute(Box::new(move || core.top_up()));
    }

    /// The background top-up job: dials one connection at a time until
    /// `min_idle` are idle (or the target fails, or the pool closes).
    fn top_up(&self) {
        loop {
            {
                let mut st = self.lock();
                let now = Instant::now();
                let min = self.settings.min_idle;
                if self.is_closed()
                    || st.idle_count() + st.warming >= min
                    || !st.may_dial(self.settings.max_size, now)
                {
                    st.topping_up = false;
                    return;
                }
                st.dialing += 1;
            }
            let dialled = self.dial(None);
            let now = Instant::now();
            let mut st = self.lock();
            match self.settle_dial(&mut st, dialled, now) {
                Ok(entry) => {
                    st.idle.push_back(entry);
                    if st.waiters > 0 {
                        self.cond.notify_one();
                    }
                }
                Err(_) => {
                    st.topping_up = false;
                    return;
                }
            }
        }
    }

    /// Closes the pool: marks it, closes the idle connections, wakes every
    /// waiter. Returns false if it was closed already.
    pub(crate) fn close(&self) -> bool {
        if self.closed.swap(true, Ordering::AcqRel) {
            return false;
        }
        let idle: Vec<_> = {
            let mut st = self.lock();
            let idle: Vec<_> = st.idle.drain(..).collect();
            for _ in &idle {
                st.forget_one();
            }
            self.cond.notify_all();
            idle
        };
        drop(idle);
        true
    }

    /// A snapshot of the gauges and counters.
    pub(crate) fn stats(&self) -> Stats {
        let st = self.lock();
        let mut s = st.counters.snapshot();
        s.size = st.open;
        s.in_use = st.in_use;
        s.idle = st.idle_count();
        s.waiting = st.waiters;
        s
    }

    /// Counts a retry of `execute_with_retry`.
    pub(crate) fn count_retry(&self) {
        self.lock().counters.retries += 1;
    }

    /// Wakes every waiter (after maintenance freed room or connections).
    pub(crate) fn wake_all(&self) {
        self.cond.notify_all();
    }

    /// Puts connections that maintenance held back among the idle ones
    /// (oldest first), closing the ones in `dead`.
    pub(crate) fn return_held(
        &self,
        kept: Vec<Box<Entry<M::Connection>>>,
        dead: Vec<Box<Entry<M::Connection>>>,
    ) {
        let now = Instant::now();
        let mut st = self.lock();
        let n = u32::try_from(kept.len() + dead.len()).unwrap_or(u32::MAX);
        st.held = st.held.saturating_sub(n);
        let closed = self.is_closed();
        let mut dead = dead;
        for entry in kept.into_iter().rev() {
            if closed {
                dead.push(entry);
            } else {
                st.idle.push_front(entry);
            }
        }
        for _ in &dead {
            st.forget_one();
        }
        if st.waiters > 0 {
            self.cond.notify_all();
        }
        let top_up = self.wants_top_up(&st, now);
        drop(st);
        drop(dead);
        if top_up {
            self.spawn_top_up();
        }
    }
}

/// `t + d`, saturating instead of panicking on huge durations.
pub(crate) fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(t)
}
