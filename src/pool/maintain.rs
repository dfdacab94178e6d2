//! The pool's maintenance: reaper passes (idle eviction, lifetime, background
//! probes, `min_idle`), `health_check` and `warm_up`.
//!
//! The core keeps idle connections least recently used first, so eviction
//! looks only at the front; connections due for a probe are taken out
//! (counted as idle meanwhile) and probed on a shared worker.

use super::core::{later, Core, Entry};
use super::reaper::Maintain;
use super::stats::HealthReport;
use crate::Manage;
use std::time::{Duration, Instant};

type Boxed<M> = Box<Entry<<M as r2d2::ManageConnection>::Connection>>;

impl<M: Manage> Core<M> {
    /// The shortest period among the enabled timers.
    fn shortest_period(&self) -> Option<Duration> {
        let s = &self.settings;
        [s.max_idle_time, s.max_lifetime, s.health_check_interval]
            .into_iter()
            .flatten()
            .min()
    }

    /// How often the reaper looks at this pool.
    fn tick(&self) -> Duration {
        let t = self.shortest_period().map_or(Duration::from_secs(1), |p| {
            (p / 4).min(Duration::from_secs(1))
        });
        t.max(Duration::from_millis(10))
    }

    /// One reaper pass: closes what is too idle (down to `min_idle`) or too
    /// old, sends connections due for a probe to a worker, tops up.
    fn pass(&self) -> Option<Duration> {
        if self.is_closed() {
            // Late arrivals (dials in flight at close) are closed as they
            // settle; keep coming back while any connection is left.
            let st = self.lock();
            let left = st.open + st.dialing;
            return (left > 0).then(|| self.tick());
        }
        let now = Instant::now();
        let s = &self.settings;
        let mut dead: Vec<Boxed<M>> = Vec::new();
        let mut due: Vec<Boxed<M>> = Vec::new();
        let top_up = {
            let mut st = self.lock();
            // Too old, wherever it sits.
            if let Some(limit) = s.max_lifetime {
                let mut i = 0;
                while i < st.idle.len() {
                    if now.saturating_duration_since(st.idle[i].created) >= limit {
                        if let Some(e) = st.idle.remove(i) {
                            dead.push(e);
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            // Too idle: the least recently used first, down to min_idle.
            if let Some(limit) = s.max_idle_time {
                while st.idle.len() + st.held as usize > s.min_idle as usize {
                    match st.idle.front() {
                        Some(e) if now.saturating_duration_since(e.last_used) >= limit => {
                            if let Some(e) = st.idle.pop_front() {
                                dead.push(e);
                            }
                        }
                        _ => break,
                    }
                }
            }
            for _ in &dead {
                st.forget_one();
            }
            // Due for a probe (one job per pool at a time).
            if let (Some(interval), false) = (s.health_check_interval, st.probing) {
                let mut i = 0;
                while i < st.idle.len() {
                    if now.saturating_duration_since(st.idle[i].last_ok) >= interval {
                        if let Some(e) = st.idle.remove(i) {
                            due.push(e);
                        }
                    } else {
                        i += 1;
                    }
                }
                if !due.is_empty() {
                    st.held += u32::try_from(due.len()).unwrap_or(u32::MAX);
                    st.probing = true;
                }
            }
            if !dead.is_empty() {
                self.wake_all();
            }
            // A failing target that must keep min_idle is tested in the
            // background when its backoff is over, callers or not.
            if s.min_idle > 0 {
                self.start_test(&mut st);
            }
            self.wants_top_up(&st, now)
        };
        drop(dead);
        if !due.is_empty() {
            self.spawn_probes(due);
        }
        if top_up {
            self.spawn_top_up();
        }
        Some(self.tick())
    }

    /// Probes `due` on a shared worker; passes go back, failures close.
    fn spawn_probes(&self, due: Vec<Boxed<M>>) {
        let Some(core) = self.me.upgrade() else {
            return;
        };
        self.workers.execute(Box::new(move || {
            let (kept, dead) = core.probe_all(due);
            core.lock().probing = false;
            core.return_held(kept, dead);
        }));
    }

    /// Probes every connection in `held`; returns (passed, failed).
    fn probe_all(&self, held: Vec<Boxed<M>>) -> (Vec<Boxed<M>>, Vec<Boxed<M>>) {
        let mut kept = Vec::with_capacity(held.len());
        let mut dead = Vec::new();
        for mut e in held {
            if self.is_closed() {
                dead.push(e);
                continue;
            }
            match self.probe(&mut e) {
                Ok(()) => kept.push(e),
                Err(msg) => {
                    self.lock().note_probe_failure(msg);
                    dead.push(e);
                }
            }
        }
        (kept, dead)
    }

    /// See [`Pool::health_check`](super::Pool::health_check).
    pub(crate) fn health_check(&self) -> HealthReport {
        let mut report = HealthReport::default();
        if self.is_closed() {
            report.last_error = Some("the pool is closed".into());
            return report;
        }
        let now = Instant::now();
        let (held, dial) = {
            let mut st = self.lock();
            let held: Vec<Boxed<M>> = st.idle.drain(..).collect();
            st.held += u32::try_from(held.len()).unwrap_or(u32::MAX);
            // Nothing open at all: open one to test the target, unless it is
            // down and not due for a dial (then report why at once).
            let dial = if held.is_empty() && st.open == 0 {
                match st.target.last_error.as_ref() {
                    Some(e) if !st.target_due(now) || st.dialing > 0 => {
                        report.unhealthy = 1;
                        report.last_error = Some(e.to_string());
                        return report;
                    }
                    _ if st.dialing == 0 => {
                        st.dialing += 1;
                        true
                    }
                    _ => false,
                }
            } else {
                false
            };
            (held, dial)
        };
        let mut held = held;
        if dial {
            let deadline = later(now, self.settings.acquire_timeout);
            let dialled = self.dial(Some(deadline));
            let end = Instant::now();
            let mut st = self.lock();
            match self.settle_dial(&mut st, dialled, end) {
                Ok(e) => {
                    st.held += 1;
                    held.push(e);
                }
                Err(e) => {
                    report.unhealthy = 1;
                    report.last_error = Some(match e {
                        crate::Error::Unavailable { last_error, .. } => last_error.to_string(),
                        e => e.to_string(),
                    });
                    return report;
                }
            }
        }
        let (kept, dead) = self.probe_all(held);
        report.healthy = u32::try_from(kept.len()).unwrap_or(u32::MAX);
        report.unhealthy = u32::try_from(dead.len()).unwrap_or(u32::MAX);
        if !dead.is_empty() {
            report.last_error = self.lock().target.last_probe_error.clone();
        }
        self.return_held(kept, dead);
        report
    }

    /// See [`Pool::warm_up`](super::Pool::warm_up): dials on this thread
    /// until `min_idle` connections are idle (counting a background dial in
    /// flight, so the two never open more than `min_idle`).
    pub(crate) fn warm_up(&self, timeout: Duration) -> u32 {
        let min = self.settings.min_idle;
        let deadline = later(Instant::now(), timeout);
        loop {
            let now = Instant::now();
            let mut st = self.lock();
            let idle = st.idle_count();
            if idle >= min || now >= deadline || self.is_closed() {
                return idle.min(min);
            }
            let coming = u32::from(st.topping_up) + st.warming;
            if idle + coming < min && st.may_dial(self.settings.max_size, now) {
                st.dialing += 1;
                st.warming += 1;
                drop(st);
                let dialled = self.dial(Some(deadline));
                let end = Instant::now();
                let mut st = self.lock();
                st.warming -= 1;
                if let Ok(entry) = self.settle_dial(&mut st, dialled, end) {
                    st.idle.push_back(entry);
                    self.wake_all();
                }
                continue;
            }
            // Wait for the background dial, a return, or the backoff.
            self.start_test(&mut st);
            let until = st.retry_at().map_or(deadline, |at| at.min(deadline));
            let wait = until
                .saturating_duration_since(now)
                .clamp(Duration::from_millis(1), Duration::from_millis(50));
            drop(st);
            std::thread::sleep(wait);
        }
    }
}

impl<M: Manage> Maintain for Core<M> {
    fn maintain(&self) -> Option<Duration> {
        let next = self.pass();
        #[cfg(feature = "metrics")]
        {
            let max_size = self.settings.max_size;
            match next {
                Some(_) => self.metrics.publish_if_due(|| self.stats(), max_size),
                // Closed and empty: the reaper lets go; the final numbers.
                None => self.metrics.publish(&self.stats(), max_size),
            }
        }
        next
    }
}
