//! The result cache of plugin runs (in [`crate::checks`]) and of peers' results (in
//! [`crate::peers`]): one slot per (scope, check), where a scope is the service as it was
//! resolved (`web` for every namespace, `web.staging` for one; for a peer, the peer and the
//! path), since the pods a plugin sees — and so its result — depend on it. Concurrent requests for a key share one run; a
//! global bound on runs answers the stale result (or nothing) when every run slot is taken.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::Semaphore;

/// How an answer was obtained, counted in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// A fresh cached result.
    Hit,
    /// Joined a run another request started.
    Joined,
    /// Started a run.
    Miss,
    /// No run slot free: a stale result or nothing.
    Busy,
}

impl CacheUse {
    /// The `result` label of the cache metric.
    pub fn metric_label(self) -> &'static str {
        match self {
            CacheUse::Hit => "hit",
            CacheUse::Joined => "joined",
            CacheUse::Miss => "miss",
            CacheUse::Busy => "busy",
        }
    }
}

/// What a cached value is keyed by: the resolved scope and the check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub(crate) scope: String,
    pub(crate) check: String,
}

type Running<V> = Shared<BoxFuture<'static, V>>;

/// A cached or running result for one key.
struct Slot<V> {
    /// The plugin generation the slot belongs to: a reload makes its results stale.
    generation: u64,
    done: Option<(Instant, V)>,
    running: Option<Running<V>>,
}

/// Results by key, and the bound on runs in flight.
pub(crate) struct ResultCache<V> {
    slots: Arc<Mutex<HashMap<CacheKey, Slot<V>>>>,
    runs: Arc<Semaphore>,
}

impl<V: Clone + Send + Sync + 'static> ResultCache<V> {
    /// A cache that lets at most `max_runs` runs go at once.
    pub(crate) fn new(max_runs: usize) -> Self {
        ResultCache {
            slots: Arc::default(),
            runs: Arc::new(Semaphore::new(max_runs)),
        }
    }

    /// The result for `key` under plugin `generation`: cached if younger than its time to live,
    /// else joined or started with `run`. `run` goes in a task of its own, so a request that
    /// goes away does not cancel it, and its result serves the requests that come after for
    /// `ttl`. `None` only when busy with nothing cached.
    pub(crate) async fn get(
        &self,
        key: CacheKey,
        generation: u64,
        ttl: Duration,
        run: impl FnOnce() -> BoxFuture<'static, V>,
    ) -> (Option<V>, CacheUse) {
        let (running, cache_use) = {
            let mut slots = self.slots.lock().expect("result cache lock");
            let slot = slots.entry(key.clone()).or_insert_with(|| Slot {
                generation,
                done: None,
                running: None,
            });
            if slot.generation != generation {
                *slot = Slot {
                    generation,
                    done: None,
                    running: None,
                };
            }
            if let Some((expires, value)) = &slot.done
                && *expires > Instant::now()
            {
                return (Some(value.clone()), CacheUse::Hit);
            }
            match &slot.running {
                Some(running) => (running.clone(), CacheUse::Joined),
                None => {
                    let Ok(permit) = Arc::clone(&self.runs).try_acquire_owned() else {
                        let stale = slot.done.as_ref().map(|(_, value)| value.clone());
                        return (stale, CacheUse::Busy);
                    };
                    let running = self.start(key, generation, ttl, run(), permit);
                    slot.running = Some(running.clone());
                    (running, CacheUse::Miss)
                }
            }
        };
        (Some(running.await), cache_use)
    }

    /// The last result for `key` under plugin `generation`, however old, without running
    /// anything (the index's overview).
    pub(crate) fn peek(&self, key: &CacheKey, generation: u64) -> Option<V> {
        let slots = self.slots.lock().expect("result cache lock");
        let slot = slots
            .get(key)
            .filter(|slot| slot.generation == generation)?;
        slot.done.as_ref().map(|(_, value)| value.clone())
    }

    fn start(
        &self,
        key: CacheKey,
        generation: u64,
        ttl: Duration,
        run: BoxFuture<'static, V>,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Running<V> {
        let slots = Arc::clone(&self.slots);
        let task = tokio::spawn(async move {
            let value = run.await;
            drop(permit);
            let mut slots = slots.lock().expect("result cache lock");
            if let Some(slot) = slots.get_mut(&key)
                && slot.generation == generation
            {
                slot.done = Some((Instant::now() + ttl, value.clone()));
                slot.running = None;
            }
            value
        });
        task.map(|joined| match joined {
            Ok(value) => value,
            // The run panicked: let the requests waiting for it see the panic too.
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        })
        .boxed()
        .shared()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    type Cache = Arc<ResultCache<&'static str>>;

    fn key(scope: &str) -> CacheKey {
        CacheKey {
            scope: scope.to_owned(),
            check: "image".to_owned(),
        }
    }

    /// Runs that answer a value and count themselves.
    #[derive(Default)]
    struct Runs(Arc<AtomicUsize>);

    impl Runs {
        fn answering(
            &self,
            value: &'static str,
        ) -> impl FnOnce() -> BoxFuture<'static, &'static str> + use<> {
            let runs = Arc::clone(&self.0);
            move || {
                runs.fetch_add(1, Ordering::SeqCst);
                async move { value }.boxed()
            }
        }

        fn count(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// A request for `scope` whose run answers `value` once released; it holds a run slot
    /// until then.
    async fn started(
        cache: &Cache,
        scope: &str,
        value: &'static str,
    ) -> (
        oneshot::Sender<()>,
        JoinHandle<(Option<&'static str>, CacheUse)>,
    ) {
        let (release, wait) = oneshot::channel::<()>();
        let (cache, key) = (Arc::clone(cache), key(scope));
        let request = tokio::spawn(async move {
            let run = move || {
                async move {
                    let _released = wait.await;
                    value
                }
                .boxed()
            };
            cache.get(key, 1, TTL, run).await
        });
        tokio::task::yield_now().await;
        (release, request)
    }

    #[tokio::test]
    async fn a_second_request_within_the_ttl_is_a_hit_and_runs_nothing() {
        let (cache, runs) = (ResultCache::new(4), Runs::default());
        assert_eq!(
            cache.get(key("web"), 1, TTL, runs.answering("1.0")).await,
            (Some("1.0"), CacheUse::Miss)
        );
        assert_eq!(
            cache.get(key("web"), 1, TTL, runs.answering("other")).await,
            (Some("1.0"), CacheUse::Hit)
        );
        assert_eq!(runs.count(), 1);
    }

    #[tokio::test]
    async fn an_expired_result_runs_again() {
        let (cache, runs) = (ResultCache::new(4), Runs::default());
        cache
            .get(key("web"), 1, Duration::ZERO, runs.answering("1.0"))
            .await;
        assert_eq!(
            cache.get(key("web"), 1, TTL, runs.answering("1.1")).await,
            (Some("1.1"), CacheUse::Miss)
        );
        assert_eq!(runs.count(), 2);
    }

    #[tokio::test]
    async fn concurrent_requests_join_one_run() {
        let (cache, runs): (Cache, _) = (Arc::new(ResultCache::new(4)), Runs::default());
        let (release, first) = started(&cache, "web", "1.0").await;
        let second = tokio::spawn({
            let (cache, run) = (Arc::clone(&cache), runs.answering("never"));
            async move { cache.get(key("web"), 1, TTL, run).await }
        });
        tokio::task::yield_now().await;
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), (Some("1.0"), CacheUse::Miss));
        assert_eq!(second.await.unwrap(), (Some("1.0"), CacheUse::Joined));
        assert_eq!(runs.count(), 0);
    }

    #[tokio::test]
    async fn busy_answers_the_stale_result_without_running() {
        let (cache, runs): (Cache, _) = (Arc::new(ResultCache::new(1)), Runs::default());
        cache
            .get(key("web"), 1, Duration::ZERO, runs.answering("stale"))
            .await;
        let (release, hog) = started(&cache, "api", "other").await;
        assert_eq!(
            cache.get(key("web"), 1, TTL, runs.answering("fresh")).await,
            (Some("stale"), CacheUse::Busy)
        );
        assert_eq!(runs.count(), 1);
        release.send(()).unwrap();
        hog.await.unwrap();
    }

    #[tokio::test]
    async fn busy_with_nothing_cached_answers_nothing() {
        let (cache, runs): (Cache, _) = (Arc::new(ResultCache::new(1)), Runs::default());
        let (release, hog) = started(&cache, "api", "other").await;
        assert_eq!(
            cache.get(key("web"), 1, TTL, runs.answering("fresh")).await,
            (None, CacheUse::Busy)
        );
        assert_eq!(runs.count(), 0);
        release.send(()).unwrap();
        hog.await.unwrap();
    }

    #[tokio::test]
    async fn a_reload_invalidates_the_cached_result() {
        let (cache, runs) = (ResultCache::new(4), Runs::default());
        cache
            .get(key("web"), 1, TTL, runs.answering("old plugin"))
            .await;
        let reloaded = cache
            .get(key("web"), 2, TTL, runs.answering("new plugin"))
            .await;
        assert_eq!(reloaded, (Some("new plugin"), CacheUse::Miss));
        assert_eq!(runs.count(), 2);
    }

    #[tokio::test]
    async fn qualified_and_flat_scopes_are_cached_apart() {
        let (cache, runs) = (ResultCache::new(4), Runs::default());
        for (scope, value) in [
            ("web.staging", "2.0"),
            ("web.default", "1.0"),
            ("web", "1.0, 2.0"),
        ] {
            assert_eq!(
                cache.get(key(scope), 1, TTL, runs.answering(value)).await,
                (Some(value), CacheUse::Miss)
            );
        }
        let again = cache
            .get(key("web.staging"), 1, TTL, runs.answering("never"))
            .await;
        assert_eq!(again, (Some("2.0"), CacheUse::Hit));
        assert_eq!(runs.count(), 3);
    }

    #[tokio::test]
    async fn a_client_that_goes_away_mid_run_leaves_the_result_for_the_next() {
        let (cache, runs): (Cache, _) = (Arc::new(ResultCache::new(4)), Runs::default());
        let (release, leaving) = started(&cache, "web", "1.0").await;
        leaving.abort();
        assert!(leaving.await.unwrap_err().is_cancelled());
        release.send(()).unwrap();
        // The run finishes on its own; the next request joins it or hits its result.
        let (value, cache_use) = cache.get(key("web"), 1, TTL, runs.answering("never")).await;
        assert_eq!(value, Some("1.0"));
        assert!(
            matches!(cache_use, CacheUse::Hit | CacheUse::Joined),
            "{cache_use:?}"
        );
        assert_eq!(runs.count(), 0);
    }
}
