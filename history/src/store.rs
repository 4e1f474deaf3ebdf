//! The store a server records into and answers from: the embedded SQLite file, or a shared
//! PostgreSQL for several replicas. Both keep the same rollups ([`crate::rollup`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::postgres::PostgresStore;
use crate::rollup::{
    Bucket, CheckKey, Counts, Sample, Tier, UnixSeconds, Window, chart_buckets, total,
};
use crate::sqlite::SqliteStore;

/// Why the history could not be read or written. The store's own error is kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The store could not be opened or created.
    #[error("cannot open the history store {path}: {source}")]
    Open {
        /// The file or database.
        path: PathBuf,
        /// What failed.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// SQLite failed a read or write.
    #[error("history store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed a read or write, or its connection broke.
    #[error("history database: {}", crate::postgres::describe_error(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// A write to the shared database from a replica that does not hold the writer lock:
    /// nothing was written.
    #[error("history database: not the writer (another replica holds the writer lock)")]
    NotWriter,
    /// The blocking task running a store call panicked or was cancelled.
    #[error("history store task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl HistoryError {
    /// A short, stable name for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            HistoryError::Open { .. } => "open",
            HistoryError::Sqlite(_) => "sqlite",
            HistoryError::Postgres(_) => "postgres",
            HistoryError::NotWriter => "not_writer",
            HistoryError::Task(_) => "task",
        }
    }
}

/// A check's history over a window: its totals and its chart's buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The window.
    pub window: Window,
    /// Totals over the window (from [`Window::summary_tier`]).
    pub total: Counts,
    /// The chart's tier.
    pub tier: Tier,
    /// One bucket per chart bar, oldest first, empty ones included.
    pub buckets: Vec<Bucket>,
}

impl Report {
    /// Checks a report read from elsewhere (a peer) for `window`: the window asked for, one
    /// bucket per bar at its tier's alignment, oldest first, and counts that can be (up at most
    /// the count, minimum at most maximum, totals at most the buckets' sum bound).
    pub fn validate(&self, window: Window) -> Result<(), String> {
        if self.window != window {
            return Err(format!("window {} instead of {window}", self.window));
        }
        if self.tier != window.chart_tier() || self.buckets.len() != window.chart_bars() {
            return Err(format!("not the {window} chart"));
        }
        let width = self.tier.width();
        let ordered = self
            .buckets
            .windows(2)
            .all(|pair| pair[1].start == pair[0].start + width);
        let aligned = self.buckets.iter().all(|bucket| bucket.start % width == 0);
        if !ordered || !aligned {
            return Err("buckets out of order".to_owned());
        }
        let sane = |counts: &Counts| {
            counts.up <= counts.count
                && (counts.count == 0 || counts.latency_min_us <= counts.latency_max_us)
        };
        if !sane(&self.total) || !self.buckets.iter().all(|bucket| sane(&bucket.counts)) {
            return Err("impossible counts".to_owned());
        }
        Ok(())
    }
}

/// Where history is kept.
#[derive(Clone)]
pub enum Store {
    /// The embedded store in `--history-dir`.
    Sqlite(Arc<SqliteStore>),
    /// The database shared by the replicas, written by the one holding its writer lock.
    Postgres(Arc<PostgresStore>),
}

impl Store {
    /// Opens the embedded store in `dir`.
    pub async fn open_dir(dir: PathBuf) -> Result<Store, HistoryError> {
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(&dir)).await??;
        Ok(Store::Sqlite(Arc::new(store)))
    }

    /// Connects to the shared PostgreSQL database at `url` (which may hold a password: it is
    /// neither logged nor put in errors); this replica tries for the writer lock at once and
    /// then every `lease_retry` while another holds it. See [`PostgresStore::connect`].
    pub async fn connect_url(url: &str, lease_retry: Duration) -> Result<Store, HistoryError> {
        let store = PostgresStore::connect(url, lease_retry).await?;
        Ok(Store::Postgres(Arc::new(store)))
    }

    /// Whether this replica writes: always for the embedded store; for a shared database, the
    /// replica holding the writer lock.
    pub fn is_writer(&self) -> bool {
        match self {
            Store::Sqlite(_) => true,
            Store::Postgres(store) => store.is_writer(),
        }
    }

    /// Adds a batch of samples to every tier, in one transaction. On a shared database only
    /// the writer may: the others get [`HistoryError::NotWriter`] and nothing is written.
    pub async fn record(&self, batch: Vec<(CheckKey, Sample)>) -> Result<(), HistoryError> {
        match self {
            Store::Sqlite(store) => {
                let store = Arc::clone(store);
                tokio::task::spawn_blocking(move || store.record(&batch)).await?
            }
            Store::Postgres(store) => store.record(&batch).await,
        }
    }

    /// The buckets of `key` in `tier` starting within `from..=to`, oldest first.
    pub async fn buckets(
        &self,
        key: &CheckKey,
        tier: Tier,
        from: UnixSeconds,
        to: UnixSeconds,
    ) -> Result<Vec<Bucket>, HistoryError> {
        match self {
            Store::Sqlite(store) => {
                let (store, key) = (Arc::clone(store), key.clone());
                tokio::task::spawn_blocking(move || store.buckets(&key, tier, from, to)).await?
            }
            Store::Postgres(store) => store.buckets(key, tier, from, to).await,
        }
    }

    /// Deletes what each tier no longer keeps at `now`; returns how many buckets went. On a
    /// shared database only the writer may ([`HistoryError::NotWriter`] for the others).
    pub async fn prune(&self, now: UnixSeconds) -> Result<u64, HistoryError> {
        match self {
            Store::Sqlite(store) => {
                let store = Arc::clone(store);
                tokio::task::spawn_blocking(move || {
                    let deleted = store.prune(now)?;
                    store.checkpoint()?;
                    Ok(deleted)
                })
                .await?
            }
            Store::Postgres(store) => store.prune(now).await,
        }
    }

    /// `key`'s totals over `window` ending at `now`.
    pub async fn total(
        &self,
        key: &CheckKey,
        window: Window,
        now: UnixSeconds,
    ) -> Result<Counts, HistoryError> {
        let tier = window.summary_tier();
        let buckets = self
            .buckets(key, tier, window.first_bucket(tier, now), now)
            .await?;
        Ok(total(&buckets))
    }

    /// `key`'s history over `window` ending at `now`: totals and chart buckets.
    pub async fn report(
        &self,
        key: &CheckKey,
        window: Window,
        now: UnixSeconds,
    ) -> Result<Report, HistoryError> {
        let tier = window.chart_tier();
        let (total, stored) = tokio::join!(
            self.total(key, window, now),
            self.buckets(key, tier, window.first_bucket(tier, now), now),
        );
        Ok(Report {
            window,
            total: total?,
            tier,
            buckets: chart_buckets(window, now, &stored?),
        })
    }
}
