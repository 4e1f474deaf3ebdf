//! Checks on a schedule, for the history: every check of every service of this cluster is
//! evaluated once per interval (its plugin's `interval_seconds`, else `--history-interval`),
//! each at its own offset in the interval so the runs spread out, through the same path as a
//! badge request (the result cache, `--max-plugin-runs`, the plugin CPU threads). At most half
//! the plugin run slots are the scheduler's, so badge requests always have some. Samples are
//! written in one transaction a second; buckets past their retention are pruned hourly. Only
//! the replica that holds the store's writer lock runs the schedule.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use kube_shields_history::{CheckKey, Sample, Store};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use crate::checks::Checker;

/// The default `--history-interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// How often the list of checks is read again from the pod index and the plugins.
const LIST_REFRESH: Duration = Duration::from_secs(5);
/// How often samples are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How often old buckets are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// How the schedule runs.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleConfig {
    /// How often a check runs unless its plugin says otherwise.
    pub interval: Duration,
    /// Checks the scheduler runs at once (half of `--max-plugin-runs`, at least one).
    pub concurrency: usize,
}

/// One scheduled check: how often it runs and when next.
struct Entry {
    interval: Duration,
    next: Instant,
}

/// Runs the schedule over `checker`'s services, recording into `store`, until aborted.
pub async fn run(checker: Arc<Checker>, store: Store, config: ScheduleConfig) {
    let (samples, received) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write(store.clone(), received, Arc::clone(&checker)));
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut entries: HashMap<CheckKey, Entry> = HashMap::new();
    let mut listed = None::<Instant>;
    loop {
        let now = Instant::now();
        checker.metrics().set_history_writer(store.is_writer());
        if !store.is_writer() {
            // Another replica writes; try again shortly (the store takes the lock meanwhile).
            entries.clear();
            listed = None;
            tokio::time::sleep(FLUSH_EVERY).await;
            continue;
        }
        if listed.is_none_or(|at| now.duration_since(at) >= LIST_REFRESH) {
            list(&checker, config.interval, now, &mut entries);
            listed = Some(now);
        }
        for (key, entry) in entries.iter_mut().filter(|(_, entry)| entry.next <= now) {
            // Behind by more than an interval (a long pause): run once, not once per miss.
            entry.next = (entry.next + entry.interval).max(now);
            let permit = Arc::clone(&slots)
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let (checker, key, samples) = (Arc::clone(&checker), key.clone(), samples.clone());
            tokio::spawn(async move {
                let _permit = permit;
                if let Some(sample) = evaluate(&checker, &key).await {
                    let _ = samples.send((key, sample));
                }
            });
        }
        let next = entries
            .values()
            .map(|entry| entry.next)
            .min()
            .unwrap_or(now + LIST_REFRESH)
            .min(listed.map_or(now, |at| at + LIST_REFRESH));
        tokio::time::sleep_until(next.max(now + Duration::from_millis(10))).await;
        if writer.is_finished() {
            return;
        }
    }
}

/// Reads the services and their checks: new checks start at an offset within their interval
/// (a hash of the key, so a restart keeps the spread), gone ones are dropped.
fn list(
    checker: &Checker,
    default: Duration,
    now: Instant,
    entries: &mut HashMap<CheckKey, Entry>,
) {
    let mut seen: HashMap<CheckKey, Duration> = HashMap::new();
    for name in checker.service_names() {
        let Ok(service) = checker.service(&name) else {
            continue;
        };
        for check in service.check_names() {
            let interval = service.interval(check).unwrap_or(default);
            seen.insert(CheckKey::new(service.name.as_str(), check), interval);
        }
    }
    entries.retain(|key, _| seen.contains_key(key));
    for (key, interval) in seen {
        let entry = entries.entry(key.clone()).or_insert_with(|| Entry {
            interval,
            next: now + offset(&key, interval),
        });
        if entry.interval != interval {
            entry.next = entry.next.min(now + interval);
            entry.interval = interval;
        }
    }
}

/// Where in its interval a check runs: spread by a hash of its key.
fn offset(key: &CheckKey, interval: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    let millis = interval.as_millis().max(1) as u64;
    Duration::from_millis(hasher.finish() % millis)
}

/// One run of a scheduled check, as a sample; `None` when it says nothing.
async fn evaluate(checker: &Checker, key: &CheckKey) -> Option<Sample> {
    let service = checker.service(&key.service).ok()?;
    let (up, took) = checker.evaluate(&service, &key.check).await?;
    Some(Sample {
        at: jiff::Timestamp::now().as_second(),
        up,
        latency_us: took.as_micros().min(u128::from(u64::MAX)) as u64,
    })
}

/// Writes what arrives once a second in one transaction, and prunes hourly. A failed write is
/// logged and its samples dropped: the history has a gap, the server goes on.
async fn write(
    store: Store,
    mut received: mpsc::UnboundedReceiver<(CheckKey, Sample)>,
    checker: Arc<Checker>,
) {
    let mut last_prune = None::<Instant>;
    loop {
        let mut batch = Vec::new();
        let deadline = tokio::time::sleep(FLUSH_EVERY);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => break,
                sample = received.recv() => match sample {
                    Some(sample) => batch.push(sample),
                    None if batch.is_empty() => return,
                    None => break,
                },
            }
        }
        if !batch.is_empty() {
            let samples = batch.len();
            let ups: Vec<bool> = batch.iter().map(|(_, sample)| sample.up).collect();
            match store.record(batch).await {
                Ok(()) => ups
                    .into_iter()
                    .for_each(|up| checker.metrics().observe_sample(up)),
                Err(err) => {
                    checker.metrics().history_write_failed();
                    tracing::warn!(samples, error = %err, "history not written");
                }
            }
        }
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            match store.prune(jiff::Timestamp::now().as_second()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "history pruned"),
                Err(err) => tracing::warn!(error = %err, "history not pruned"),
            }
        }
    }
}
