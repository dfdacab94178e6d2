//! [`PoolSet`]: one pool per target, created on first use.

use super::{Pool, PoolBuilder, PooledConnection, Stats};
use crate::Manage;
use crate::Result;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};

/// A keyed set of pools for many targets (devices), each created on first use
/// from a factory. All share the one reaper thread and the one worker pool of
/// the process, so 1,000 devices cost no more background threads than one.
/// Cloning is cheap and clones share the set (hand one to each thread).
///
/// ```
/// use edgepool::{tcp, Pool, PoolSet};
///
/// let set = PoolSet::new(Pool::builder().max_size(2), |addr: &String| {
///     tcp::Manager::new(tcp::Config::new(addr.clone()))
/// });
/// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let addr = l.local_addr()?.to_string();
/// let conn = set.get(&addr)?;
/// drop(conn);
/// assert_eq!(set.stats()[&addr].acquired, 1);
/// let (shared, target) = (set.clone(), addr.clone()); // the same pools
/// std::thread::spawn(move || drop(shared.get(&target))).join().unwrap();
/// assert_eq!(set.stats()[&addr].acquired, 2);
/// set.remove(&addr);
/// assert!(set.is_empty());
/// # Ok::<(), edgepool::Error>(())
/// ```
pub struct PoolSet<K, M: Manage> {
    inner: Arc<SetInner<K, M>>,
}

struct SetInner<K, M: Manage> {
    builder: PoolBuilder<M>,
    factory: Box<dyn Fn(&K) -> M + Send + Sync>,
    pools: RwLock<HashMap<K, Pool<M>>>,
}

impl<K, M: Manage> Clone for PoolSet<K, M> {
    fn clone(&self) -> Self {
        PoolSet {
            inner: self.inner.clone(),
        }
    }
}

impl<K: fmt::Debug, M: Manage> fmt::Debug for PoolSet<K, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pools = self.read();
        f.debug_struct("PoolSet")
            .field("builder", &self.inner.builder)
            .field("targets", &pools.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<K, M> PoolSet<K, M>
where
    K: Eq + Hash + Clone,
    M: Manage,
{
    /// A set whose pools are built with `builder`'s settings, each from the
    /// manager `factory` returns for its key.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool, PoolSet};
    /// let set = PoolSet::new(Pool::builder(), |addr: &String| {
    ///     tcp::Manager::new(tcp::Config::new(addr.clone()))
    /// });
    /// # let _ = set;
    /// ```
    pub fn new<F>(builder: PoolBuilder<M>, factory: F) -> Self
    where
        F: Fn(&K) -> M + Send + Sync + 'static,
    {
        PoolSet {
            inner: Arc::new(SetInner {
                builder,
                factory: Box::new(factory),
                pools: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The pool for `key`, built on first use. Fails only on invalid
    /// settings; never blocks on the target.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool, PoolSet};
    /// # let set = PoolSet::new(Pool::builder(), |a: &String| tcp::Manager::new(tcp::Config::new(a.clone())));
    /// let pool = set.pool(&"127.0.0.1:9".to_string())?;
    /// assert_eq!(pool.stats().size, 0);
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn pool(&self, key: &K) -> Result<Pool<M>> {
        if let Some(pool) = self.read().get(key) {
            return Ok(pool.clone());
        }
        let mut pools = self.write();
        if let Some(pool) = pools.get(key) {
            return Ok(pool.clone());
        }
        let inner = &self.inner;
        let pool = inner.builder.clone().build_in_set((inner.factory)(key))?;
        pools.insert(key.clone(), pool.clone());
        Ok(pool)
    }

    /// Checks out a connection to `key`'s target (see [`Pool::get`]).
    ///
    /// ```no_run
    /// # use edgepool::{tcp, Pool, PoolSet};
    /// # let set = PoolSet::new(Pool::builder(), |a: &String| tcp::Manager::new(tcp::Config::new(a.clone())));
    /// let conn = set.get(&"127.0.0.1:502".to_string())?;
    /// # Ok::<(), edgepool::Error>(())
    /// ```
    pub fn get(&self, key: &K) -> Result<PooledConnection<M>> {
        self.pool(key)?.get()
    }

    /// Each target's [`Stats`].
    ///
    /// ```
    /// # use edgepool::{tcp, Pool, PoolSet};
    /// # let set = PoolSet::new(Pool::builder(), |a: &String| tcp::Manager::new(tcp::Config::new(a.clone())));
    /// for (target, stats) in set.stats() {
    ///     println!("{target}: {stats}");
    /// }
    /// ```
    pub fn stats(&self) -> HashMap<K, Stats> {
        self.read()
            .iter()
            .map(|(k, p)| (k.clone(), p.stats()))
            .collect()
    }

    /// Removes `key`'s pool and closes it; returns it if there was one.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool, PoolSet};
    /// # let set = PoolSet::new(Pool::builder(), |a: &String| tcp::Manager::new(tcp::Config::new(a.clone())));
    /// assert!(set.remove(&"127.0.0.1:9".to_string()).is_none());
    /// ```
    pub fn remove(&self, key: &K) -> Option<Pool<M>> {
        let pool = self.write().remove(key)?;
        pool.close();
        Some(pool)
    }

    /// The targets that have a pool.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool, PoolSet};
    /// # let set = PoolSet::new(Pool::builder(), |a: &String| tcp::Manager::new(tcp::Config::new(a.clone())));
    /// assert!(set.keys().is_empty());
    /// ```
    pub fn keys(&self) -> Vec<K> {
        self.read().keys().cloned().collect()
    }

    /// Number of targets that have a pool.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool, PoolSet};
    /// # let set = PoolSet::new(Pool::builder(), |a: &String| tcp::Manager::new(tcp::Config::new(a.clone())));
    /// assert_eq!(set.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// True when no target has a pool.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool, PoolSet};
    /// # let set = PoolSet::new(Pool::builder(), |a: &String| tcp::Manager::new(tcp::Config::new(a.clone())));
    /// assert!(set.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Closes every pool and forgets them.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool, PoolSet};
    /// # let set = PoolSet::new(Pool::builder(), |a: &String| tcp::Manager::new(tcp::Config::new(a.clone())));
    /// set.close();
    /// ```
    pub fn close(&self) {
        let pools: Vec<_> = self.write().drain().collect();
        for (_, pool) in pools {
            pool.close();
        }
    }

    /// Publishes every pool's [`Stats`] to the current `metrics` recorder
    /// now (see [`Pool::publish_metrics`]). Needs the `metrics` feature.
    ///
    /// ```
    /// # use edgepool::{tcp, Pool, PoolSet};
    /// # let set = PoolSet::new(Pool::builder(), |a: &String| tcp::Manager::new(tcp::Config::new(a.clone())));
    /// set.publish_metrics();
    /// ```
    #[cfg(feature = "metrics")]
    pub fn publish_metrics(&self) {
        for pool in self.read().values() {
            pool.publish_metrics();
        }
    }
}

impl<K, M: Manage> PoolSet<K, M> {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<K, Pool<M>>> {
        self.inner
            .pools
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<K, Pool<M>>> {
        self.inner
            .pools
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
