//! [`RetryPolicy`] and [`Pool::execute_with_retry`].

use super::core::later;
use super::{Pool, PooledConnection};
use crate::backoff::full_jitter;
use crate::{Error, Manage, Result};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Predicate = Arc<dyn Fn(&Error) -> bool + Send + Sync>;

/// When and how [`Pool::execute_with_retry`] runs a closure again.
///
/// A failed attempt is retried when the predicate says so (by default: a
/// transport error or a timeout, see [`RetryPolicy::transient`]), at most
/// `max_retries` times, each after a random backoff ("full jitter": uniform
/// in `[0, min(max_backoff, min_backoff × 2ⁿ)]` before retry `n`, counting
/// from 0), and never past the optional overall `deadline`. Errors a retry
/// cannot fix come back at once: refused credentials, a Redis error reply,
/// an SNMP error-status such as noSuchName, an S7 item error (address out of
/// range), a closed pool.
///
/// # Idempotency
/// A retried closure can take effect twice. When a connection fails after
/// the request was sent (a read timeout, a reset while waiting for the
/// reply), the peer may have applied it: a retried Redis `INCR` can count
/// twice, an SNMP `SET` or an S7 write can happen twice. Retry only what is
/// safe to repeat (reads, absolute writes like `SET k v`), or narrow the
/// predicate for the rest, for example to failures before anything was sent:
///
/// ```
/// use edgepool::{Error, Phase, RetryPolicy};
///
/// // For INCR and friends: retry only when no connection could be had (or
/// // opened), so the command never reached the server.
/// let not_sent = RetryPolicy::default().retry_if(|e| {
///     matches!(e, Error::PoolTimeout { .. } | Error::Unavailable { .. } | Error::Timeout(Phase::Connect))
/// });
/// assert!(not_sent.should_retry(&Error::Timeout(Phase::Connect)));
/// assert!(!not_sent.should_retry(&Error::Timeout(Phase::Read)));
/// ```
///
/// # Defaults
/// ```
/// use std::time::Duration;
/// use edgepool::RetryPolicy;
///
/// let p = RetryPolicy::default();
/// assert_eq!(p.max_retries, 3);
/// assert_eq!((p.min_backoff, p.max_backoff), (Duration::from_millis(10), Duration::from_secs(1)));
/// assert_eq!(p.deadline, None);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Runs after the first attempt; 0 turns retries off. Defaults to 3 (at
    /// most 4 attempts).
    pub max_retries: u32,
    /// Ceiling of the first backoff; each later one doubles it. `ZERO`
    /// retries at once. Defaults to 10 ms.
    pub min_backoff: Duration,
    /// Largest backoff ceiling (a smaller value than `min_backoff` counts as
    /// `min_backoff`). Defaults to 1 s.
    pub max_backoff: Duration,
    /// Bound on the whole call, from its start: acquire waits are cut to it
    /// and no backoff sleeps past it (the last error is returned instead).
    /// An attempt already running is bounded by the connection's own I/O
    /// timeouts, so the call can overrun by one attempt. Defaults to `None`
    /// (bounded by `max_retries` only).
    pub deadline: Option<Duration>,
    retry_if: Predicate,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
            deadline: None,
            retry_if: Arc::new(RetryPolicy::transient),
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_retries", &self.max_retries)
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl RetryPolicy {
    /// The defaults: 3 retries, backoff 10 ms → 1 s with full jitter, no
    /// deadline, retry on transport errors and timeouts.
    ///
    /// ```
    /// let p = edgepool::RetryPolicy::new().max_retries(5);
    /// assert_eq!(p.max_retries, 5);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `max_retries`. Defaults to 3.
    ///
    /// ```
    /// let no_retries = edgepool::RetryPolicy::new().max_retries(0);
    /// # let _ = no_retries;
    /// ```
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the wait between the attempts of one call: `min_backoff` and
    /// `max_backoff`. Defaults to 10 ms and 1 s. (Not to be confused with
    /// [`PoolBuilder::reconnect_backoff`](crate::PoolBuilder::reconnect_backoff),
    /// the pool's wait before it dials a failed target again.)
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = edgepool::RetryPolicy::new()
    ///     .retry_backoff(Duration::from_millis(50), Duration::from_secs(2));
    /// assert_eq!(p.min_backoff, Duration::from_millis(50));
    /// assert_eq!(p.max_backoff, Duration::from_secs(2));
    /// ```
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max;
        self
    }

    /// The old name of [`RetryPolicy::retry_backoff`].
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// use std::time::Duration;
    /// let p = edgepool::RetryPolicy::new().backoff(Duration::from_millis(50), Duration::from_secs(2));
    /// assert_eq!(p.max_backoff, Duration::from_secs(2));
    /// ```
    #[deprecated(since = "0.2.0", note = "renamed to `retry_backoff`")]
    pub fn backoff(self, min: Duration, max: Duration) -> Self {
        self.retry_backoff(min, max)
    }

    /// Sets the overall `deadline`. Defaults to `None`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = edgepool::RetryPolicy::new().deadline(Some(Duration::from_secs(2)));
    /// assert_eq!(p.deadline, Some(Duration::from_secs(2)));
    /// ```
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets which errors are retried. Defaults to [`RetryPolicy::transient`].
    /// See the [idempotency](RetryPolicy#idempotency) caveat.
    ///
    /// ```
    /// use edgepool::{Error, RetryPolicy};
    /// # #[cfg(feature = "redis")] {
    /// // Also retry Redis replies that say the server is still loading its data.
    /// let p = RetryPolicy::new().retry_if(|e| {
    ///     RetryPolicy::transient(e) || matches!(e, Error::Redis(m) if m.starts_with("LOADING"))
    /// });
    /// assert!(p.should_retry(&Error::Redis("LOADING Redis is loading the dataset".into())));
    /// assert!(!p.should_retry(&Error::Redis("WRONGTYPE".into())));
    /// # }
    /// ```
    pub fn retry_if<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&Error) -> bool + Send + Sync + 'static,
    {
        self.retry_if = Arc::new(predicate);
        self
    }

    /// The default predicate: a transport error ([`Error::is_transport`]:
    /// I/O, TLS, a failed probe, a peer out of step), a timeout
    /// ([`Error::is_timeout`], including [`Error::PoolTimeout`]: no
    /// connection came free in time), or a target that is down for now
    /// ([`Error::Unavailable`]; the retry then waits for the pool's next
    /// connect attempt if the deadline allows). Not: errors no retry can fix
    /// ([`Error::is_permanent`]: [`Error::Auth`], [`Error::Config`], …),
    /// [`Error::Closed`], or an error the peer reported on a working
    /// connection (Redis, SNMP, S7).
    ///
    /// ```
    /// use edgepool::{Error, Phase, RetryPolicy};
    /// assert!(RetryPolicy::transient(&Error::Timeout(Phase::Read)));
    /// assert!(!RetryPolicy::transient(&Error::Auth("WRONGPASS".into())));
    /// # #[cfg(feature = "redis")]
    /// assert!(!RetryPolicy::transient(&Error::Redis("ERR unknown command".into())));
    /// ```
    pub fn transient(e: &Error) -> bool {
        !e.is_permanent()
            && (e.is_transport() || e.is_timeout() || matches!(e, Error::Unavailable { .. }))
    }

    /// True when the predicate says `e` is worth a retry.
    ///
    /// ```
    /// use edgepool::{Error, RetryPolicy};
    /// assert!(!RetryPolicy::default().should_retry(&Error::Closed));
    /// ```
    pub fn should_retry(&self, e: &Error) -> bool {
        (self.retry_if)(e)
    }

    /// A backoff before retry `n` (0 for the first): random, uniform in
    /// `[0, min(max_backoff, min_backoff × 2ⁿ)]`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = edgepool::RetryPolicy::new();
    /// assert!(p.delay(0) <= Duration::from_millis(10));
    /// assert!(p.delay(2) <= Duration::from_millis(40));
    /// assert!(p.delay(20) <= Duration::from_secs(1));
    /// ```
    pub fn delay(&self, n: u32) -> Duration {
        full_jitter(self.min_backoff, self.max_backoff, n)
    }
}

impl<M: Manage> Pool<M> {
    /// [`execute`](Pool::execute) with retries: runs `f` on a pooled
    /// connection and, when it fails with an error `policy` retries (by
    /// default a transport error or a timeout), runs it again on another (or
    /// a new) connection after a backoff, up to `policy.max_retries` times
    /// and within `policy.deadline`. A connection that failed with a
    /// transport error is closed, as in `execute`. A failed checkout
    /// ([`Error::PoolTimeout`], for example while the target restarts) counts
    /// as a failed attempt; its wait is cut to what is left of the deadline.
    /// Returns the first success, or the last error.
    ///
    /// After a connection breaks (an I/O error other than a timeout: reset,
    /// closed by the peer), the others may be dead too (a restarted server):
    /// retries then probe the connection they get first, unless it was
    /// opened or known good since, so a pool of stale connections costs one
    /// retry rather than one per connection.
    ///
    /// **A retried `f` can take effect twice** (see
    /// [`RetryPolicy`'s idempotency note](RetryPolicy#idempotency)).
    /// Retries are counted in [`Stats::retries`](crate::Stats::retries).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// use edgepool::{tcp, Pool, RetryPolicy};
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let addr = listener.local_addr()?.to_string();
    /// # std::thread::spawn(move || for mut s in listener.incoming().flatten() {
    /// #     std::thread::spawn(move || { let mut b = [0u8; 64];
    /// #         while let Ok(n @ 1..) = s.read(&mut b) { if s.write_all(&b[..n]).is_err() { break } } });
    /// # });
    ///
    /// let pool = Pool::new(tcp::Manager::new(tcp::Config::new(addr)))?; // an echo server
    /// let policy = RetryPolicy::default().deadline(Some(Duration::from_secs(2)));
    /// let echoed = pool.execute_with_retry(&policy, |conn| {
    ///     conn.write_all(b"ping")?;
    ///     let mut buf = [0u8; 4];
    ///     conn.read_exact(&mut buf)?; // an error here closes conn and tries again
    ///     Ok(buf)
    /// })?;
    /// assert_eq!(&echoed, b"ping");
    /// assert_eq!(pool.stats().retries, 0);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn execute_with_retry<T, F>(&self, policy: &RetryPolicy, mut f: F) -> Result<T>
    where
        F: FnMut(&mut M::Connection) -> Result<T>,
    {
        let deadline = policy.deadline.map(|d| later(Instant::now(), d));
        // Connections last known good before this are probed before use.
        let mut suspect_before: Option<Instant> = None;
        let mut retry = 0u32;
        loop {
            let err = match self.attempt(deadline, suspect_before, &mut f) {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if retry >= policy.max_retries || !policy.should_retry(&err) {
                return Err(err);
            }
            // While the target is down, the next connect attempt is the
            // earliest a retry can succeed.
            let delay = match &err {
                Error::Unavailable { retry_in, .. } => policy.delay(retry).max(*retry_in),
                _ => policy.delay(retry),
            };
            let now = Instant::now();
            if deadline.is_some_and(|end| later(now, delay) >= end) {
                log::debug!("{}: out of time for a retry after: {err}", self.name());
                return Err(err);
            }
            if matches!(err, Error::Io(_)) && !err.is_timeout() {
                suspect_before = Some(now);
            }
            log::debug!(
                "{}: attempt {} failed ({err}); retrying in {delay:?}",
                self.name(),
                retry + 1
            );
            std::thread::sleep(delay);
            retry += 1;
            self.inner.count_retry();
        }
    }

    /// One attempt: a checkout (bounded by the deadline, probing suspects),
    /// then `f` as in `execute`.
    fn attempt<T, F>(
        &self,
        deadline: Option<Instant>,
        suspect_before: Option<Instant>,
        f: &mut F,
    ) -> Result<T>
    where
        F: FnMut(&mut M::Connection) -> Result<T>,
    {
        let mut conn = self.checkout_before(deadline, suspect_before)?;
        Self::run(&mut conn, f)
    }

    fn checkout_before(
        &self,
        deadline: Option<Instant>,
        suspect_before: Option<Instant>,
    ) -> Result<PooledConnection<M>> {
        let inner = &self.inner;
        let acquire = inner.settings.acquire_timeout;
        let timeout = || match deadline {
            Some(end) => acquire.min(end.saturating_duration_since(Instant::now())),
            None => acquire,
        };
        let Some(suspect_before) = suspect_before else {
            return self.get_timeout(timeout());
        };
        // Bounded: each failed probe closes a connection, and a full pool of
        // them is replaced by new ones (never suspect).
        for _ in 0..inner.settings.max_size {
            let mut conn = self.get_timeout(timeout())?;
            if conn.entry().last_ok >= suspect_before || conn.probe_now() {
                return Ok(conn);
            }
            // It failed the probe: dropping it closes it.
        }
        self.get_timeout(timeout())
    }
}
