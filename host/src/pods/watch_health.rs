//! Whether the pod watch works, per watched scope: failing since when and why, and when the
//! API server last answered. Each change of state is logged once (a watch that keeps failing
//! while the API server is down retries many times, and says so once).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;

/// One scope's watch as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeHealth {
    /// When the watch started failing; `None` while it works.
    pub failing_since: Option<Instant>,
    /// The last failure's reason while failing.
    pub last_error: Option<String>,
    /// When the API server last answered a list or watch of this scope.
    pub last_success: Option<Timestamp>,
    /// The same moment on the monotonic clock, for [`WatchHealth::notice_silence`].
    last_answer: Option<Instant>,
}

impl ScopeHealth {
    /// Whether the watch works.
    pub fn is_healthy(&self) -> bool {
        self.failing_since.is_none()
    }
}

/// The watch state of every scope of the pod source (or of the workload watches).
#[derive(Debug)]
pub struct WatchHealth {
    /// What is watched, for the log: `pod` or `workload`.
    what: &'static str,
    scopes: Mutex<BTreeMap<String, ScopeHealth>>,
    /// Whether any scope is failing: every health badge asks, mostly when none is, without
    /// the lock.
    any_failing: AtomicBool,
}

impl Default for WatchHealth {
    fn default() -> Self {
        WatchHealth::of("pod")
    }
}

impl WatchHealth {
    /// The health of the `what` watches (`pod`: health badges turn stale; `workload`: rollout
    /// badges).
    pub fn of(what: &'static str) -> Self {
        WatchHealth {
            what,
            scopes: Mutex::default(),
            any_failing: AtomicBool::default(),
        }
    }

    fn badges(&self) -> &'static str {
        if self.what == "pod" {
            "health"
        } else {
            "rollout"
        }
    }

    /// The API server answered a list or watch of `scope`: the watch works (again).
    pub fn answered(&self, scope: &str) {
        let mut scopes = self.lock();
        let health = scopes
            .entry(scope.to_owned())
            .or_insert_with(ScopeHealth::new);
        if let Some(since) = health.failing_since.take() {
            tracing::info!(
                scope,
                failed_for_secs = since.elapsed().as_secs(),
                "{} watch recovered",
                self.what
            );
        }
        health.last_error = None;
        health.last_success = Some(Timestamp::now());
        health.last_answer = Some(Instant::now());
        self.any_failing.store(
            scopes.values().any(|scope| !scope.is_healthy()),
            Ordering::Release,
        );
    }

    /// A list or watch of `scope` failed; kube's watcher retries after `retry_in`.
    pub fn failed(&self, scope: &str, reason: &str, retry_in: Option<Duration>) {
        let mut scopes = self.lock();
        let health = scopes
            .entry(scope.to_owned())
            .or_insert_with(ScopeHealth::new);
        if health.failing_since.is_none() {
            let retry = retry_in.map_or_else(
                || "soon".to_owned(),
                |delay| format!("in {:.1} s", delay.as_secs_f64()),
            );
            tracing::warn!(
                scope,
                error = reason,
                "{} watch failing; retrying {retry}, backing off up to 30 s; {} badges turn stale after --stale-after",
                self.what,
                self.badges()
            );
            health.failing_since = Some(Instant::now());
        }
        health.last_error = Some(reason.to_owned());
        self.any_failing.store(true, Ordering::Release);
    }

    /// Marks as failing every working scope the API server has not answered for longer than
    /// `bound` (a watch that hangs, or a request never answered, reports no error of its own),
    /// failing since the bound ran out; the next answer ([`answered`](Self::answered)) ends it.
    pub fn notice_silence(&self, bound: Duration) {
        let mut scopes = self.lock();
        let mut any_silent = false;
        for (scope, health) in scopes.iter_mut() {
            let Some(last) = health.last_answer else {
                continue;
            };
            if health.failing_since.is_some() || last.elapsed() <= bound {
                continue;
            }
            let reason = format!(
                "the API server has not answered for more than {} s",
                bound.as_secs_f64().ceil()
            );
            tracing::warn!(
                scope = scope.as_str(),
                error = reason,
                "{} watch silent; the watcher retries; {} badges turn stale after --stale-after",
                self.what,
                self.badges()
            );
            health.failing_since = Some(last + bound);
            health.last_error = Some(reason);
            any_silent = true;
        }
        if any_silent {
            self.any_failing.store(true, Ordering::Release);
        }
    }

    /// How long the longest-failing scope has been failing; `None` when every watch works.
    pub fn failing_for(&self) -> Option<Duration> {
        if !self.any_failing.load(Ordering::Acquire) {
            return None;
        }
        self.lock()
            .values()
            .filter_map(|health| health.failing_since)
            .map(|since| since.elapsed())
            .max()
    }

    /// Every scope's state, by scope name.
    pub fn scopes(&self) -> BTreeMap<String, ScopeHealth> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ScopeHealth>> {
        self.scopes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ScopeHealth {
    fn new() -> Self {
        ScopeHealth {
            failing_since: None,
            last_error: None,
            last_success: None,
            last_answer: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_scope_is_reported_until_it_answers_again() {
        let health = WatchHealth::default();
        health.answered("all namespaces");
        assert_eq!(health.failing_for(), None);
        health.failed(
            "all namespaces",
            "connection refused",
            Some(Duration::from_millis(800)),
        );
        health.failed("all namespaces", "connection refused again", None);
        let scope = &health.scopes()["all namespaces"];
        assert!(!scope.is_healthy());
        assert_eq!(
            scope.last_error.as_deref(),
            Some("connection refused again")
        );
        assert!(health.failing_for().is_some());
        health.answered("all namespaces");
        assert_eq!(health.failing_for(), None);
        assert!(health.scopes()["all namespaces"].last_success.is_some());
    }

    #[test]
    fn a_scope_silent_past_the_bound_fails_until_it_answers_again() {
        let health = WatchHealth::default();
        health.answered("*");
        health.notice_silence(Duration::from_secs(60));
        assert_eq!(health.failing_for(), None, "answered within the bound");
        std::thread::sleep(Duration::from_millis(30));
        health.notice_silence(Duration::from_millis(10));
        let scope = &health.scopes()["*"];
        assert!(!scope.is_healthy());
        assert_eq!(
            scope.last_error.as_deref(),
            Some("the API server has not answered for more than 1 s")
        );
        let failing = health.failing_for().expect("failing");
        assert!(
            failing >= Duration::from_millis(20),
            "since the bound ran out: {failing:?}"
        );
        health.answered("*");
        assert_eq!(health.failing_for(), None);
    }

    #[test]
    fn a_scope_never_answered_is_not_silent() {
        let health = WatchHealth::default();
        health.failed("*", "connection refused", None);
        health.answered("*");
        health.failed("other", "403", None);
        health.notice_silence(Duration::ZERO);
        assert_eq!(health.scopes()["other"].last_error.as_deref(), Some("403"));
    }

    #[test]
    fn one_failing_scope_of_several_counts() {
        let health = WatchHealth::default();
        health.answered("namespace default");
        health.failed("namespace staging", "403", None);
        assert!(health.failing_for().is_some());
    }
}
