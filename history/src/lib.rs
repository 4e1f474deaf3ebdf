//! Check history for kube-shields: scheduled check results kept as counter rollups — one-minute
//! buckets for 25 hours, one-hour buckets for 31 days, one-day buckets for 400 days, each with
//! the number of samples, how many were up, and latency sum, minimum and maximum — in an
//! embedded SQLite file or a shared PostgreSQL. Each sample is added to its bucket in every
//! tier in one transaction (as Uptime Kuma writes each tier), so downsampling needs no
//! background merge, and pruning past each tier's retention bounds the size.
//!
//! Windows: 24 h sums minutes; 7 d and 30 d sum hours; 90 d and 1 y sum days. Charts have
//! hourly bars up to 7 d and daily bars beyond.
//!
//! Time is always passed in (`now`), never read here, so tests can run a year at once.
#![deny(missing_docs)]

mod postgres;
mod rollup;
mod sqlite;
mod store;

pub use postgres::PostgresStore;
pub use rollup::{
    Bucket, CheckKey, Counts, Sample, Tier, UnixSeconds, UnknownWindow, Window, chart_buckets,
    rollup, total,
};
pub use sqlite::{FILE_NAME, SqliteStore};
pub use store::{HistoryError, Report, Store};
