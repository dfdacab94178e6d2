//! [`PoolBuilder`]: the pool's settings, checked when the pool is built.

use super::Pool;
use crate::{Error, Manage, Result};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

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
    pub(crate) fail_fast: bool,
    /// Set with `PoolBuilder::name`; `None` = derived from the manager.
    pub(crate) name: Option<String>,
}

/// Builds a [`Pool`]. Every setting has a default suited to a gateway; invalid
/// values make [`build`](PoolBuilder::build) return [`Error::Config`].
///
/// ```
/// use std::time::Duration;
/// use edgepool::{tcp, Pool};
///
/// let pool = Pool::builder()
///     .max_size(4)
///     .min_idle(1)
///     .acquire_timeout(Duration::from_secs(2))
///     .max_idle_time(Some(Duration::from_secs(60)))
///     .health_check_interval(None)
///     .build(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?; // never blocks
/// assert_eq!(pool.max_size(), 4);
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct PoolBuilder<M> {
    settings: Settings,
    _manager: PhantomData<fn() -> M>,
}

impl<M> Clone for PoolBuilder<M> {
    fn clone(&self) -> Self {
        PoolBuilder {
            settings: self.settings.clone(),
            _manager: PhantomData,
        }
    }
}

impl<M> fmt::Debug for PoolBuilder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("settings", &self.settings)
            .finish()
    }
}

impl<M> Default for PoolBuilder<M> {
    fn default() -> Self {
        PoolBuilder {
            settings: Settings {
                max_size: 10,
                min_idle: 0,
                acquire_timeout: Duration::from_secs(5),
                max_idle_time: Some(Duration::from_secs(300)),
                max_lifetime: None,
                health_check_interval: Some(Duration::from_secs(30)),
                validation_bypass: Duration::from_millis(500),
                reconnect_min: Duration::from_millis(100),
                reconnect_max: Duration::from_secs(30),
                fail_fast: true,
                name: None,
            },
            _manager: PhantomData,
        }
    }
}

impl<M: Manage> PoolBuilder<M> {
    /// A builder with the defaults. Same as [`Pool::builder`].
    ///
    /// ```
    /// let b = edgepool::PoolBuilder::<edgepool::tcp::Manager>::new();
    /// # let _ = b;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Most connections the pool opens. Defaults to 10; must be at least 1.
    ///
    /// ```
    /// # let b = edgepool::PoolBuilder::<edgepool::tcp::Manager>::new();
    /// let b = b.max_size(32);
    /// # let _ = b;
    /// ```
    pub fn max_size(mut self, max_size: u32) -> Self {
        self.settings.max_size = max_size;
        self
    }

    /// Idle connections the pool keeps open, opening them in the background.
    /// Defaults to 0; must not exceed `max_size`. `build()` never waits for
    /// them: see [`Pool::warm_up`].
    ///
    /// ```
    /// # let b = edgepool::PoolBuilder::<edgepool::tcp::Manager>::new();
    /// let b = b.min_idle(2);
    /// # let _ = b;
    /// ```
    pub fn min_idle(mut self, min_idle: u32) -> Self {
        self.settings.min_idle = min_idle;
        self
    }

    /// How long [`Pool::get`] waits for a connection before
    /// [`Error::PoolTimeout`]. Defaults to 5 s; must not be zero.
    ///
    /// ```
    /// # let b = edgepool::PoolBuilder::<edgepool::tcp::Manager>::new();
    /// let b = b.acquire_timeout(std::time::Duration::from_millis(500));
    /// # let _ = b;
    /// ```
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.settings.acquire_timeout = timeout;
        self
    }

    /// Connections unused for longer are closed by the reaper, down to
    /// `min_idle`. Defaults to 5 minutes; `None` keeps them forever.
    ///
    /// ```
    /// # let b = edgepool::PoolBuilder::<edgepool::tcp::Manager>::new();
    /// let b = b.max_idle_time(Some(std::time::Duration::from_secs(60)));
    /// # let _ = b;
    /// ```
    pub fn max_idle_time(mut self, max_idle_time: Option<Duration>) -> Self {
        self.settings.max_idle_time = max_idle_time;
        self
    }

    /// Connections older than this are closed when next idle, whatever their
    /// health. Defaults to `None` (no limit).
    ///
    /// ```
    /// # let b = edgepool::PoolBuilder::<edgepool::tcp::Manager>::new();
    /// let b = b.max_lifetime(Some(std::time::Duration::from_secs(3600)));
    /// # let _ = b;
    /// ```
    pub fn max_lifetime(mut self, max_lifetime: Option<Duration>) -> Self {
        self.settings.max_lifetime = max_lifetime;
        self
    }

    /// How often the reaper probes idle connections (SNMP GET sysUpTime.0,
    /// Redis PING, …) and replaces the ones that fail. Defaults to 30 s;
    /// `None` turns background probes off.
    ///
    /// ```
    /// # let b = edgepool::PoolBuilder::<edgepool::tcp::Manager>::new();
    /// let b = b.health_check_interval(Some(std::time::Duration::from_secs(10)));
    /// # let _ = b;
    /// ```
    pub fn health_check_interval(mut self, interval: Option<Duration>) -> Self {
        self.settings.health_check_interval = interval;
        self
    }

    /// A connection is probed at checkout only if it has been idle (unused and
    /// unprobed) for longer than this. Defaults to 500 ms. `Duration::ZERO`
    /// probes at every checkout (r2d2's `test_on_check_out`, which halves
    /// throughput); `Duration::MAX` never probes at checkout.
    ///
    /// ```
    /// # let b = edgepool::PoolBuilder::<edgepool::tcp::Manager>::new();
    /// let b = b.validation_bypass(std::time::Duration::from_secs(2));
    /// # let _ = b;
    /// ```
    pub fn validation_bypass(mut self, bypass: Duration) -> Self {
        self.settings.validation_bypass = bypass;
        self
    }

    /// After a failed connect, the pool waits before dialling the target
    /// again: exponentially longer after each failure, with jitter, from `min`
    /// up to `max`. Checkouts in between fail at once with
    /// [`Error::Unavailable`] naming the last connect error (see
    /// [`fail_fast`](PoolBuilder::fail_fast)). When the wait is over, one
    /// connect on a shared worker tests the target while callers keep
    /// failing fast.
    /// Defaults to 100 ms → 30 s; `min` must not be zero nor exceed `max`.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let b = edgepool::PoolBuilder::<edgepool::tcp::Manager>::new();
    /// let b = b.reconnect_backoff(Duration::from_millis(50), Duration::from_secs(5));
    /// # let _ = b;
    /// ```
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.settings.reconnect_min = min;
        self.settings.reconnect_max = max;
        self
    }

    /// While the target is down (the last connect failed and the next is not
    /// due yet, or a background connect is testing it) and the pool holds
    /// no connection that could come back, [`Pool::get`] returns
    /// [`Error::Unavailable`] at once (or the connect error itself when no
    /// retry can fix it, see [`Error::is_permanent`]). `false` makes callers
    /// wait for the acquire timeout instead, dialling again when the backoff
    /// allows, and end with [`Error::PoolTimeout`]. Defaults to `true`.
    ///
    /// ```
    /// # let b = edgepool::PoolBuilder::<edgepool::tcp::Manager>::new();
    /// let patient = b.fail_fast(false);
    /// # let _ = patient;
    /// ```
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.settings.fail_fast = fail_fast;
        self
    }

    /// The pool's name: the `pool` label of its metrics (feature `metrics`)
    /// and [`Pool::name`]. Defaults to the target address for edgepool's own
    /// managers (`tcp`, `redis`, `snmp`, `s7`; `"127.0.0.1:6379"`), and to
    /// `"pool-1"`, `"pool-2"`, … for other managers. A default name already
    /// taken by a live pool gets `#2`, `#3`, … appended; a name you set is
    /// kept as is (give every pool its own, or their metrics mix). In a
    /// [`PoolSet`](crate::PoolSet)'s builder the name is a prefix: the pool
    /// for target `t` is named `"<name>/t"`. Must not be empty.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool};
    /// let pool = Pool::builder()
    ///     .name("plc-line-3")
    ///     .build(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")))?;
    /// assert_eq!(pool.name(), "plc-line-3");
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.settings.name = Some(name.into());
        self
    }

    /// Checks the settings (the pool's and the manager's, see
    /// [`Manage::validate`]) and builds the pool. Never blocks and never fails
    /// because the target is offline: connections are opened on demand (and
    /// `min_idle` of them in the background).
    ///
    /// ```
    /// # use edgepool::{tcp, Pool, Error};
    /// let err = Pool::builder().max_size(0).build(tcp::Manager::new(tcp::Config::new("127.0.0.1:9")));
    /// assert!(matches!(err, Err(Error::Config(_))));
    /// ```
    pub fn build(self, manager: M) -> Result<Pool<M>> {
        self.validate()?;
        manager.validate()?;
        let name = NameLease::new(self.settings.name.as_deref(), false, &manager);
        Ok(Pool::from_parts(self.settings, manager, name))
    }

    /// [`build`](PoolBuilder::build) for a [`PoolSet`](crate::PoolSet): the
    /// name set on the builder is a prefix.
    pub(crate) fn build_in_set(self, manager: M) -> Result<Pool<M>> {
        self.validate()?;
        manager.validate()?;
        let name = NameLease::new(self.settings.name.as_deref(), true, &manager);
        Ok(Pool::from_parts(self.settings, manager, name))
    }

    fn validate(&self) -> Result<()> {
        let s = &self.settings;
        let bad = |m: &str| Err(Error::Config(m.to_owned()));
        if s.max_size == 0 {
            return bad("max_size must be at least 1");
        }
        if s.min_idle > s.max_size {
            return Err(Error::Config(format!(
                "min_idle ({}) must not exceed max_size ({})",
                s.min_idle, s.max_size
            )));
        }
        if s.acquire_timeout.is_zero() {
            return bad("acquire_timeout must not be zero");
        }
        for (name, value) in [
            ("max_idle_time", s.max_idle_time),
            ("max_lifetime", s.max_lifetime),
            ("health_check_interval", s.health_check_interval),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(Error::Config(format!(
                    "{name} must not be zero (use None to turn it off)"
                )));
            }
        }
        if s.reconnect_min.is_zero() {
            return bad("reconnect_backoff min must not be zero");
        }
        if s.reconnect_min > s.reconnect_max {
            return bad("reconnect_backoff min must not exceed max");
        }
        if s.name.as_deref() == Some("") {
            return bad("name must not be empty");
        }
        Ok(())
    }
}

/// Names of the live pools, with how many pools carry each.
static LIVE_NAMES: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// Numbers the pools whose manager cannot name its target.
static UNNAMED: AtomicUsize = AtomicUsize::new(0);

/// A pool's name, registered among the live ones while the pool lives.
#[derive(Debug)]
pub(crate) struct NameLease(String);

impl NameLease {
    /// `name` as given (`prefix` false), or a default derived from the
    /// manager's target (`name` as prefix when `prefix` is true), made unique.
    fn new<M: Manage>(name: Option<&str>, prefix: bool, manager: &M) -> NameLease {
        let mut live = LIVE_NAMES.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(name), false) = (name, prefix) {
            let n = live.entry(name.to_owned()).or_insert(0);
            *n += 1;
            if *n > 1 {
                log::warn!("{n} live pools are named {name:?}: their metrics mix");
            }
            return NameLease(name.to_owned());
        }
        let target = manager.target().filter(|t| !t.is_empty());
        let base = match (name, target) {
            (Some(prefix), Some(target)) => format!("{prefix}/{target}"),
            (Some(prefix), None) => prefix.to_owned(),
            (None, Some(target)) => target,
            (None, None) => format!("pool-{}", UNNAMED.fetch_add(1, Ordering::Relaxed) + 1),
        };
        let mut unique = base.clone();
        let mut n = 1u64;
        while live.contains_key(&unique) {
            n += 1;
            unique = format!("{base}#{n}");
        }
        live.insert(unique.clone(), 1);
        NameLease(unique)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl Drop for NameLease {
    fn drop(&mut self) {
        let mut live = LIVE_NAMES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = live.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                live.remove(&self.0);
            }
        }
    }
}
