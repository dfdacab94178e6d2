//! The pool's maintenance: reaper passes (idle eviction, lifetime, probes,
//! keeping `min_idle`), `health_check` and `warm_up`.
//!
//! r2d2 has no API to look at idle connections, so maintenance checks them
//! all out at once (with checkout probes off), decides, and gives them back.
//! A full scan only runs when some connection can be due, so a busy pool is
//! not disturbed every tick.

use super::managed::{self, probe, Entry};
use super::reaper::Maintain;
use super::stats::HealthReport;
use super::{Inner, R2Conn};
use r2d2::ManageConnection;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{MutexGuard, PoisonError, TryLockError, Weak};
use std::time::{Duration, Instant};

/// A connection taken out by maintenance; counted as idle in `Stats` while held.
pub(crate) struct Held<M: ManageConnection>(R2Conn<M>);

impl<M: ManageConnection> Held<M> {
    fn new(mut conn: R2Conn<M>) -> Self {
        conn.mark_seen();
        conn.shared.held.fetch_add(1, Relaxed);
        Held(conn)
    }
}

impl<M: ManageConnection> Drop for Held<M> {
    fn drop(&mut self) {
        // The pool may have been closed while maintenance held it.
        if self.0.shared.is_closed() {
            self.0.discard = true;
        }
        self.0.shared.held.fetch_sub(1, Relaxed);
    }
}

impl<M: ManageConnection> Deref for Held<M> {
    type Target = Entry<M::Connection>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<M: ManageConnection> DerefMut for Held<M> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Maintenance state, behind the maintenance lock.
#[derive(Debug, Default)]
pub(crate) struct TopUp {
    /// When connections were last asked for (`Shared::topup_pending`).
    since: Option<Instant>,
    /// When a full scan can next find something to do; `None` = now.
    next_scan: Option<Instant>,
}

impl<M: ManageConnection> Inner<M> {
    /// Checks out every idle connection, without checkout probes.
    pub(crate) fn take_idle(&self) -> Vec<Held<M>> {
        managed::without_validation(|| {
            let mut out = Vec::new();
            // Bounded: returns racing with us cannot keep the loop going.
            for _ in 0..self.shared.settings.max_size {
                match self.r2d2.try_get() {
                    Some(conn) => out.push(Held::new(conn)),
                    None => break,
                }
            }
            out
        })
    }

    /// The shortest period among the enabled timers.
    fn shortest_period(&self) -> Option<Duration> {
        let s = &self.shared.settings;
        [s.max_idle_time, s.max_lifetime, s.health_check_interval]
            .into_iter()
            .flatten()
            .min()
    }

    /// How often the reaper looks at this pool (cheap look; full scans only
    /// when due).
    fn tick(&self) -> Duration {
        let t = self.shortest_period().map_or(Duration::from_secs(1), |p| {
            (p / 4).min(Duration::from_secs(1))
        });
        t.max(Duration::from_millis(10))
    }

    /// The maintenance lock: one maintenance operation per pool at a time,
    /// so two of them never both see a deficit and both open connections.
    fn lock_maint(&self) -> MutexGuard<'_, TopUp> {
        self.maint.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn try_lock_maint(&self) -> Option<MutexGuard<'_, TopUp>> {
        match self.maint.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Asks r2d2 to open connections until `min_idle` are idle. Call it with
    /// the maintenance lock, holding every idle connection: r2d2 opens a
    /// connection in the background when a checkout finds none idle, and a
    /// zero-timeout checkout is how we ask for one.
    fn top_up(&self, t: &mut TopUp) {
        let s = &self.shared.settings;
        let min = s.min_idle as usize;
        if min == 0 || self.shared.is_closed() {
            return;
        }
        // r2d2's API leaves the count of requests in flight inexact (a
        // request can be answered by a connection coming back instead). While
        // the target is answering, requests older than a second are settled.
        if t.since
            .is_some_and(|at| at.elapsed() > Duration::from_secs(1))
            && !self.shared.backing_off()
        {
            self.shared.topup_pending.store(0, Relaxed);
            t.since = None;
        }
        let pending = self.shared.topup_pending.load(Relaxed);
        // Ours and those a probe job holds: all idle.
        let idle_now = self.shared.held.load(Relaxed);
        let size = self.r2d2.state().connections as usize;
        let room = (s.max_size as usize).saturating_sub(size);
        let want = min.saturating_sub(idle_now + pending).min(room);
        if want == 0 {
            return;
        }
        t.since = Some(Instant::now());
        self.shared.topup_pending.fetch_add(want, Relaxed);
        let mut returned = Vec::new();
        managed::without_validation(|| {
            for _ in 0..want {
                if let Ok(conn) = self.r2d2.get_timeout(Duration::ZERO) {
                    // One came back meanwhile; hold it so that the next
                    // request does not find it idle.
                    returned.push(Held::new(conn));
                }
            }
        });
    }

    /// Tops up to `min_idle` if needed (a cheap look first).
    fn refill_locked(&self, t: &mut TopUp) {
        let min = self.shared.settings.min_idle as usize;
        if min == 0 {
            return;
        }
        let idle = self.r2d2.state().idle_connections as usize;
        if idle + self.shared.held.load(Relaxed) >= min {
            return;
        }
        let _held = self.take_idle();
        self.top_up(t);
    }

    /// A full scan: evicts what is too idle (down to `min_idle`) or too old,
    /// sends connections due for a probe to a worker, tops up. Returns when
    /// the next scan can be needed.
    fn scan(&self, now: Instant, t: &mut TopUp) -> Instant {
        let s = &self.shared.settings;
        let mut idle = self.take_idle();
        idle.sort_by_key(|c| c.last_used);
        let mut left = idle.len();
        let mut kept = Vec::with_capacity(left);
        let mut due = Vec::new();
        let mut next = later(
            now,
            self.shortest_period().unwrap_or(Duration::from_secs(3600)),
        );
        for mut c in idle {
            let age = now.saturating_duration_since(c.created);
            let unused = now.saturating_duration_since(c.last_used);
            let too_old = s.max_lifetime.is_some_and(|l| age >= l);
            let too_idle =
                s.max_idle_time.is_some_and(|t| unused >= t) && left > s.min_idle as usize;
            if too_old || too_idle {
                c.discard = true;
                left -= 1;
                continue; // dropped here: r2d2 closes it
            }
            if let Some(l) = s.max_lifetime {
                next = next.min(later(c.created, l));
            }
            if let Some(t) = s.max_idle_time {
                next = next.min(later(c.last_used, t));
            }
            match s.health_check_interval {
                Some(i) if now.saturating_duration_since(c.last_ok) >= i => due.push(c),
                Some(i) => {
                    next = next.min(later(c.last_ok, i));
                    kept.push(c);
                }
                None => kept.push(c),
            }
        }
        self.top_up(t);
        drop(kept);
        if !due.is_empty() {
            self.spawn_probes(due);
            if let Some(i) = s.health_check_interval {
                next = next.min(later(now, i));
            }
        }
        next
    }

    /// Probes `due` on the shared worker pool, one job per pool at a time.
    fn spawn_probes(&self, due: Vec<Held<M>>) {
        if self.shared.probing.swap(true, Relaxed) {
            return; // the previous job is still at it; these go back
        }
        let manager = self.manager.clone();
        let shared = self.shared.clone();
        let me: Weak<Inner<M>> = self.me.clone();
        self.workers.execute(move || {
            let mut failed = 0;
            for mut c in due {
                if probe(&*manager, &shared, &mut c).is_err() {
                    failed += 1;
                }
            }
            shared.probing.store(false, Relaxed);
            if failed > 0 {
                if let Some(inner) = me.upgrade() {
                    // Busy means someone else is at it; the reaper's next
                    // tick tops up otherwise.
                    if let Some(mut t) = inner.try_lock_maint() {
                        inner.refill_locked(&mut t);
                    }
                }
            }
        });
    }

    /// See [`Pool::health_check`](super::Pool::health_check).
    pub(crate) fn health_check(&self) -> HealthReport {
        let mut report = HealthReport::default();
        let mut t = self.lock_maint();
        if self.shared.is_closed() {
            report.last_error = Some("the pool is closed".into());
            return report;
        }
        let mut idle = self.take_idle();
        if idle.is_empty() && self.r2d2.state().connections == 0 {
            // Nothing to probe: open one to test the target.
            let opened = if self.shared.backing_off() {
                None
            } else {
                managed::without_validation(|| {
                    self.r2d2
                        .get_timeout(self.shared.settings.acquire_timeout)
                        .ok()
                })
            };
            match opened {
                Some(conn) => idle.push(Held::new(conn)),
                None => {
                    report.unhealthy = 1;
                    report.last_error = Some(
                        self.shared
                            .last_connect_error()
                            .unwrap_or_else(|| "could not open a connection in time".into()),
                    );
                    return report;
                }
            }
        }
        for mut c in idle {
            match probe(&*self.manager, &self.shared, &mut c) {
                Ok(()) => report.healthy += 1,
                Err(e) => {
                    report.unhealthy += 1;
                    report.last_error = Some(e);
                }
            }
        }
        if report.unhealthy > 0 {
            self.refill_locked(&mut t);
        }
        report
    }

    /// See [`Pool::warm_up`](super::Pool::warm_up). Asks for the missing
    /// connections like the reaper does (so the two never open more than
    /// `min_idle`), then watches them arrive.
    pub(crate) fn warm_up(&self, timeout: Duration) -> u32 {
        let min = self.shared.settings.min_idle;
        let deadline = later(Instant::now(), timeout);
        loop {
            self.refill_locked(&mut self.lock_maint());
            let idle = self.r2d2.state().idle_connections;
            if idle >= min || Instant::now() >= deadline {
                return idle.min(min);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// `t + d`, saturating instead of panicking on huge durations.
pub(crate) fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(t)
}

impl<M: ManageConnection> Maintain for Inner<M> {
    fn maintain(&self) -> Option<Duration> {
        let next = self.pass();
        #[cfg(feature = "metrics")]
        {
            let max_size = self.shared.settings.max_size;
            match next {
                Some(_) => self
                    .shared
                    .metrics
                    .publish_if_due(|| self.stats(), max_size),
                // Closed and empty: the reaper lets go; the final numbers.
                None => self.shared.metrics.publish(&self.stats(), max_size),
            }
        }
        next
    }
}

impl<M: ManageConnection> Inner<M> {
    /// One reaper pass; see [`Maintain::maintain`].
    fn pass(&self) -> Option<Duration> {
        if self.shared.is_closed() {
            // Held drops discard in a closed pool. Keep coming back while
            // connections remain (late arrivals, ones being probed).
            drop(self.take_idle());
            let left = self.r2d2.state().connections;
            return (left > 0).then(|| self.tick());
        }
        // Busy: a health_check or warm_up is at it; come back next tick.
        let Some(mut t) = self.try_lock_maint() else {
            return Some(self.tick());
        };
        let now = Instant::now();
        if t.next_scan.is_none_or(|at| at <= now) {
            t.next_scan = Some(self.scan(now, &mut t));
        } else {
            self.refill_locked(&mut t);
        }
        Some(self.tick())
    }
}
