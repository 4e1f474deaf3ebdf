//! The embedded store: one SQLite file in `--history-dir`, in WAL mode, one transaction per
//! batch. A process killed mid-write (`kill -9`) loses the batch it was writing and nothing
//! else; SQLite's journal keeps the file whole.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::rollup::{Bucket, CheckKey, Counts, Sample, Tier, UnixSeconds, rollup};
use crate::store::HistoryError;

/// The file in `--history-dir`.
pub const FILE_NAME: &str = "history.sqlite3";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS checks (
    id INTEGER PRIMARY KEY,
    service TEXT NOT NULL,
    check_name TEXT NOT NULL,
    UNIQUE (service, check_name)
);
CREATE TABLE IF NOT EXISTS buckets (
    check_id INTEGER NOT NULL,
    tier INTEGER NOT NULL,
    start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    up INTEGER NOT NULL,
    latency_sum INTEGER NOT NULL,
    latency_min INTEGER NOT NULL,
    latency_max INTEGER NOT NULL,
    PRIMARY KEY (check_id, tier, start)
) WITHOUT ROWID;
";

const UPSERT: &str = "
INSERT INTO buckets (check_id, tier, start, count, up, latency_sum, latency_min, latency_max)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (check_id, tier, start) DO UPDATE SET
    count = count + excluded.count,
    up = up + excluded.up,
    latency_sum = latency_sum + excluded.latency_sum,
    latency_min = min(latency_min, excluded.latency_min),
    latency_max = max(latency_max, excluded.latency_max)
";

/// A tier's buckets before a time, found through the primary key check by check: `tier` and
/// `start` alone are not a prefix of it, and a scan of a year's store (a gigabyte at 10,000
/// checks) held the writer for seconds.
const PRUNE: &str = "
DELETE FROM buckets WHERE check_id IN (SELECT id FROM checks) AND tier = ?1 AND start < ?2
";

const SELECT_BUCKETS: &str = "
SELECT b.start, b.count, b.up, b.latency_sum, b.latency_min, b.latency_max
FROM buckets b JOIN checks c ON c.id = b.check_id
WHERE c.service = ?1 AND c.check_name = ?2 AND b.tier = ?3 AND b.start >= ?4 AND b.start <= ?5
ORDER BY b.start
";

/// The writer's connection and the ids of the checks it has seen.
struct Writer {
    connection: Connection,
    ids: HashMap<CheckKey, i64>,
}

/// History in a SQLite file. Blocking: the async [`crate::Store`] calls it off the runtime.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Writer>,
    /// Reads go through their own connection: in WAL mode they never wait for a write.
    reader: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (or creates) the store in `dir`, creating `dir` if needed.
    pub fn open(dir: &Path) -> Result<Self, HistoryError> {
        let path = dir.join(FILE_NAME);
        let open_error = |source: Box<dyn std::error::Error + Send + Sync>| HistoryError::Open {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|err| open_error(err.into()))?;
        let connection = Connection::open(&path).map_err(|err| open_error(err.into()))?;
        // WAL: readers and the writer do not block each other, and a killed process leaves
        // the last committed transaction intact. NORMAL sync: a power loss may drop the last
        // transactions (never corrupts); a process crash drops none.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
            )
            .and_then(|()| connection.execute_batch(SCHEMA))
            .map_err(|err| open_error(err.into()))?;
        let reader = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|err| open_error(err.into()))?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(Writer {
                connection,
                ids: HashMap::new(),
            }),
            reader: Mutex::new(reader),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a batch of samples to every tier, in one transaction.
    pub fn record(&self, batch: &[(CheckKey, Sample)]) -> Result<(), HistoryError> {
        let increments = rollup(batch.iter().map(|(key, sample)| (key, sample)));
        let mut writer = self.writer.lock().expect("history writer lock");
        let Writer { connection, ids } = &mut *writer;
        let transaction = connection.transaction()?;
        {
            let mut upsert = transaction.prepare_cached(UPSERT)?;
            for ((key, tier, start), counts) in increments {
                let id = match ids.get(key) {
                    Some(id) => *id,
                    None => {
                        let id = check_id(&transaction, key)?;
                        ids.insert(key.clone(), id);
                        id
                    }
                };
                upsert.execute(params![
                    id,
                    tier.id(),
                    start,
                    counts.count as i64,
                    counts.up as i64,
                    counts.latency_sum_us as i64,
                    counts.latency_min_us as i64,
                    counts.latency_max_us as i64,
                ])?;
            }
        }
        transaction.commit().inspect_err(|_| {
            // A failed commit may have rolled back ids inserted in it.
            ids.clear();
        })?;
        Ok(())
    }

    /// The buckets of `key` in `tier` starting within `from..=to`, oldest first.
    pub fn buckets(
        &self,
        key: &CheckKey,
        tier: Tier,
        from: UnixSeconds,
        to: UnixSeconds,
    ) -> Result<Vec<Bucket>, HistoryError> {
        let reader = self.reader.lock().expect("history reader lock");
        let mut select = reader.prepare_cached(SELECT_BUCKETS)?;
        let rows = select.query_map(
            params![key.service, key.check, tier.id(), from, to],
            |row| {
                Ok(Bucket {
                    start: row.get(0)?,
                    counts: Counts {
                        count: row.get::<_, i64>(1)? as u64,
                        up: row.get::<_, i64>(2)? as u64,
                        latency_sum_us: row.get::<_, i64>(3)? as u64,
                        latency_min_us: row.get::<_, i64>(4)? as u64,
                        latency_max_us: row.get::<_, i64>(5)? as u64,
                    },
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes the buckets each tier no longer keeps at `now`; returns how many.
    pub fn prune(&self, now: UnixSeconds) -> Result<u64, HistoryError> {
        let writer = self.writer.lock().expect("history writer lock");
        let mut deleted = 0;
        for tier in Tier::ALL {
            deleted += writer
                .connection
                .execute(PRUNE, params![tier.id(), now - tier.retention()])?
                as u64;
        }
        Ok(deleted)
    }

    /// Whether SQLite finds the file whole (`PRAGMA integrity_check`).
    pub fn integrity_ok(&self) -> Result<bool, HistoryError> {
        let reader = self.reader.lock().expect("history reader lock");
        let verdict: String = reader.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        Ok(verdict == "ok")
    }

    /// Bytes the store takes on disk: the file, its write-ahead log and shared memory.
    pub fn size_bytes(&self) -> u64 {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut path = self.path.clone().into_os_string();
                path.push(suffix);
                std::fs::metadata(path).ok()
            })
            .map(|meta| meta.len())
            .sum()
    }

    /// Writes the log back into the file and truncates it (after pruning, to give space back
    /// to the file system's view of the store).
    pub fn checkpoint(&self) -> Result<(), HistoryError> {
        let writer = self.writer.lock().expect("history writer lock");
        writer
            .connection
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }
}

/// The id of `key`'s row in `checks`, inserted if new.
fn check_id(transaction: &rusqlite::Transaction<'_>, key: &CheckKey) -> rusqlite::Result<i64> {
    let select = "SELECT id FROM checks WHERE service = ?1 AND check_name = ?2";
    if let Some(id) = transaction
        .query_row(select, params![key.service, key.check], |row| row.get(0))
        .optional()?
    {
        return Ok(id);
    }
    transaction.execute(
        "INSERT INTO checks (service, check_name) VALUES (?1, ?2)",
        params![key.service, key.check],
    )?;
    Ok(transaction.last_insert_rowid())
}
