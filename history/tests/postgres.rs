//! The shared PostgreSQL store against a real server (tests/support): the same rollups as the
//! SQLite file, retention, the writer lock handed over between replicas, and errors that keep
//! the URL's password out. Time is passed in (`now`, `at`), never waited for; only the hand-over
//! polls, for a replica's lease task to take the lock.

mod support;

use std::time::{Duration, Instant};

use kube_shields_history::{
    CheckKey, Counts, HistoryError, PostgresStore, Sample, Store, Tier, UnixSeconds, Window, total,
};
use rstest::rstest;
use support::{PASSWORD_ROLE, PgServer, free_port};

const T0: UnixSeconds = 1_765_000_000; // 2025-12-06T05:46:40Z
const RETRY: Duration = Duration::from_millis(100);
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// Deterministic samples of `keys` every 53 s over `span` seconds ending at `end`: latencies
/// and ups from a linear congruential generator seeded with `seed`.
fn samples(keys: &[CheckKey], end: UnixSeconds, span: i64, seed: u64) -> Vec<(CheckKey, Sample)> {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let mut out = Vec::new();
    let mut at = end - span;
    while at <= end {
        for key in keys {
            let sample = Sample {
                at: at + (next() % 7) as i64,
                up: next() % 10 != 0,
                latency_us: 1_000 + next() % 500_000,
            };
            out.push((key.clone(), sample));
        }
        at += 53;
    }
    out
}

fn sum(batch: &[(CheckKey, Sample)], key: &CheckKey) -> Counts {
    batch
        .iter()
        .filter(|(of, _)| of == key)
        .fold(Counts::default(), |sum, (_, sample)| {
            sum.merge(Counts::of(sample))
        })
}

async fn postgres(server: &PgServer) -> Store {
    Store::connect_url(&server.url("postgres"), RETRY)
        .await
        .unwrap_or_else(|err| panic!("connect: {err}"))
}

/// Every bucket of `key` in `tier`.
async fn all_buckets(
    store: &Store,
    key: &CheckKey,
    tier: Tier,
) -> Vec<kube_shields_history::Bucket> {
    store
        .buckets(key, tier, i64::MIN, i64::MAX)
        .await
        .unwrap_or_else(|err| panic!("read {tier:?}: {err}"))
}

/// Polls `condition` until it holds or `limit` passes; whether it held.
async fn eventually(limit: Duration, condition: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !condition() {
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

#[tokio::test]
async fn rollups_equal_sqlites_in_every_tier_and_window() {
    let server = PgServer::start();
    let postgres = postgres(&server).await;
    assert!(
        postgres.is_writer(),
        "the only replica takes the writer lock at connect"
    );
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open_dir(dir.path().to_path_buf()).await.unwrap();

    let keys = [
        CheckKey::new("web", "health"),
        CheckKey::new("web", "rollout"),
        CheckKey::new("db", "health"),
    ];
    let batch = samples(&keys, T0, 2 * DAY + 5 * HOUR, 7);
    // Batches of 500 split minutes, hours and days: buckets are added to across transactions.
    for chunk in batch.chunks(500) {
        postgres.record(chunk.to_vec()).await.unwrap();
        sqlite.record(chunk.to_vec()).await.unwrap();
    }
    // One minute written in two batches: min and max merge in the upsert (LEAST, GREATEST).
    let api = CheckKey::new("api", "health");
    let at = T0 - 30;
    let first = vec![
        (
            api.clone(),
            Sample {
                at,
                up: true,
                latency_us: 500,
            },
        ),
        (
            api.clone(),
            Sample {
                at: at + 1,
                up: false,
                latency_us: 20,
            },
        ),
    ];
    let second = vec![(
        api.clone(),
        Sample {
            at: at + 2,
            up: true,
            latency_us: 900,
        },
    )];
    for store in [&postgres, &sqlite] {
        store.record(first.clone()).await.unwrap();
        store.record(second.clone()).await.unwrap();
        store.record(Vec::new()).await.unwrap();
    }
    let minute = all_buckets(&postgres, &api, Tier::Minute).await;
    assert_eq!(minute.len(), 1);
    assert_eq!(minute[0].start, Tier::Minute.bucket_start(at));
    assert_eq!(
        minute[0].counts,
        Counts {
            count: 3,
            up: 2,
            latency_sum_us: 1_420,
            latency_min_us: 20,
            latency_max_us: 900
        }
    );

    for key in keys.iter().chain([&api]) {
        for tier in Tier::ALL {
            let stored = all_buckets(&postgres, key, tier).await;
            assert!(!stored.is_empty(), "{key:?} {tier:?}");
            assert_eq!(
                stored,
                all_buckets(&sqlite, key, tier).await,
                "{key:?} {tier:?}"
            );
            let expected = sum(&batch, key)
                .merge(sum(&first, key))
                .merge(sum(&second, key));
            assert_eq!(
                total(&stored),
                expected,
                "{key:?} {tier:?}: every sample once"
            );
        }
        for now in [T0, T0 - 5 * HOUR - 17, T0 + 3 * DAY] {
            for window in Window::ALL {
                let report = postgres.report(key, window, now).await.unwrap();
                assert_eq!(report, sqlite.report(key, window, now).await.unwrap());
                assert_eq!(
                    report.total,
                    postgres.total(key, window, now).await.unwrap()
                );
                // The window total from the samples themselves.
                let tier = window.summary_tier();
                let first_bucket = window.first_bucket(tier, now);
                let expected = batch
                    .iter()
                    .chain(&first)
                    .chain(&second)
                    .filter(|(of, sample)| {
                        let start = tier.bucket_start(sample.at);
                        of == key && start >= first_bucket && start <= now
                    })
                    .fold(Counts::default(), |sum, (_, sample)| {
                        sum.merge(Counts::of(sample))
                    });
                assert_eq!(report.total, expected, "{key:?} {window} at {now}");
            }
        }
    }
    let day = postgres.total(&keys[0], Window::Day, T0).await.unwrap();
    assert!(day.count > 1_000 && day.up < day.count && day.latency_min_us < day.latency_max_us);
}

#[tokio::test]
async fn prune_drops_each_tiers_buckets_past_its_retention() {
    let server = PgServer::start();
    let postgres = postgres(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open_dir(dir.path().to_path_buf()).await.unwrap();
    let key = CheckKey::new("web", "health");
    let now = T0;
    let at = |at| {
        (
            key.clone(),
            Sample {
                at,
                up: true,
                latency_us: 1,
            },
        )
    };
    let batch = vec![
        at(now - 25 * HOUR - 60),  // minute gone; hour and day kept
        at(now - 25 * HOUR + 60),  // minute kept
        at(now - 31 * DAY - HOUR), // minute and hour gone; day kept
        at(now - 31 * DAY + HOUR), // hour kept
        at(now - 400 * DAY - DAY), // gone everywhere
        at(now - 400 * DAY + DAY), // day kept
        at(now),                   // kept everywhere
    ];
    for store in [&postgres, &sqlite] {
        store.record(batch.clone()).await.unwrap();
    }
    let deleted = postgres.prune(now).await.unwrap();
    // 5 minutes (all but the two within 25 h), 3 hours (those over 31 d old), 1 day (401 d).
    assert_eq!(deleted, 5 + 3 + 1);
    assert_eq!(
        deleted,
        sqlite.prune(now).await.unwrap(),
        "as SQLite prunes"
    );

    let starts = |tier: Tier, ats: &[i64]| -> Vec<i64> {
        let mut starts: Vec<i64> = ats.iter().map(|at| tier.bucket_start(*at)).collect();
        starts.sort();
        starts.dedup();
        starts
    };
    let kept = [
        (
            Tier::Minute,
            starts(Tier::Minute, &[now - 25 * HOUR + 60, now]),
        ),
        (
            Tier::Hour,
            starts(
                Tier::Hour,
                &[
                    now - 25 * HOUR - 60,
                    now - 25 * HOUR + 60,
                    now - 31 * DAY + HOUR,
                    now,
                ],
            ),
        ),
        (
            Tier::Day,
            starts(
                Tier::Day,
                &[
                    now - 25 * HOUR - 60,
                    now - 25 * HOUR + 60,
                    now - 31 * DAY - HOUR,
                    now - 31 * DAY + HOUR,
                    now - 400 * DAY + DAY,
                    now,
                ],
            ),
        ),
    ];
    for (tier, expected) in kept {
        let stored: Vec<i64> = all_buckets(&postgres, &key, tier)
            .await
            .iter()
            .map(|b| b.start)
            .collect();
        assert_eq!(stored, expected, "{tier:?}");
        assert!(stored.iter().all(|start| *start >= now - tier.retention()));
        assert_eq!(
            all_buckets(&postgres, &key, tier).await,
            all_buckets(&sqlite, &key, tier).await
        );
    }
    assert_eq!(
        postgres.prune(now).await.unwrap(),
        0,
        "nothing more to prune"
    );
    // The minute 25 h ago is kept but outside the 24 h window; 399 d is outside the year.
    assert_eq!(
        postgres.total(&key, Window::Day, now).await.unwrap().count,
        1
    );
    assert_eq!(
        postgres.total(&key, Window::Year, now).await.unwrap().count,
        5
    );
}

/// How replica A stops being the writer.
#[derive(Debug, Clone, Copy)]
enum Loss {
    /// Its writer connection is killed from outside (`pg_terminate_backend`); A lives on.
    Killed,
    /// A is dropped.
    Dropped,
    /// A is closed ([`PostgresStore::close`]); A lives on, reading.
    Closed,
}

/// The backend (pid) holding the writer lock, from `pg_locks`.
async fn lock_holders(admin: &tokio_postgres::Client) -> Vec<i32> {
    let key = PostgresStore::WRITER_LOCK_KEY as u64;
    admin
        .query(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1",
            &[&((key >> 32) as i64), &((key & 0xffff_ffff) as i64)],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[rstest]
#[case::killed(Loss::Killed)]
#[case::dropped(Loss::Dropped)]
#[case::closed(Loss::Closed)]
#[tokio::test]
async fn the_writer_lock_passes_to_the_other_replica(#[case] loss: Loss) {
    let server = PgServer::start();
    let admin = server.superuser().await;
    let a = postgres(&server).await;
    let b = postgres(&server).await;
    assert!(
        a.is_writer() && !b.is_writer(),
        "exactly one writer: the first to connect"
    );
    let holders = lock_holders(&admin).await;
    assert_eq!(holders.len(), 1, "one backend holds the writer lock");

    let key = CheckKey::new("web", "health");
    let keys = std::slice::from_ref(&key);
    let by_a = samples(keys, T0 - HOUR, HOUR, 1);
    a.record(by_a.clone()).await.unwrap();
    // B may neither record nor prune while A writes, and its batch is not written.
    let refused = samples(keys, T0 - HOUR, HOUR, 2);
    assert!(matches!(
        b.record(refused.clone()).await,
        Err(HistoryError::NotWriter)
    ));
    assert!(matches!(b.prune(T0).await, Err(HistoryError::NotWriter)));
    assert_eq!(
        b.total(&key, Window::Day, T0).await.unwrap(),
        sum(&by_a, &key),
        "B reads"
    );
    // Still A's after a few of B's tries.
    tokio::time::sleep(RETRY * 3).await;
    assert!(a.is_writer() && !b.is_writer());

    let a = match loss {
        Loss::Killed => {
            let terminated: bool = admin
                .query_one("SELECT pg_terminate_backend($1)", &[&holders[0]])
                .await
                .unwrap()
                .get(0);
            assert!(terminated);
            Some(a)
        }
        Loss::Dropped => {
            drop(a);
            None
        }
        Loss::Closed => {
            let Store::Postgres(store) = &a else {
                unreachable!()
            };
            store.close().await;
            assert!(!a.is_writer(), "closed, not the writer");
            Some(a)
        }
    };
    let handed_over = eventually(Duration::from_secs(20), || {
        b.is_writer() && a.as_ref().is_none_or(|a| !a.is_writer())
    })
    .await;
    assert!(
        handed_over,
        "B did not become the writer after A's {loss:?}"
    );
    let now_holding = lock_holders(&admin).await;
    assert_eq!(now_holding.len(), 1);
    assert_ne!(now_holding, holders, "another backend (B's) holds the lock");
    if let Some(a) = &a {
        let late = samples(keys, T0 - HOUR, HOUR, 3);
        assert!(matches!(a.record(late).await, Err(HistoryError::NotWriter)));
        assert!(matches!(a.prune(T0).await, Err(HistoryError::NotWriter)));
    }

    let by_b = samples(keys, T0, HOUR, 4);
    b.record(by_b.clone()).await.unwrap();
    // Nothing lost, nothing doubled, nothing from the refused batches.
    let expected = sum(&by_a, &key).merge(sum(&by_b, &key));
    let mut readers = vec![&b];
    readers.extend(a.as_ref());
    for store in readers {
        for tier in Tier::ALL {
            assert_eq!(
                total(&all_buckets(store, &key, tier).await),
                expected,
                "{tier:?}"
            );
        }
        assert_eq!(
            store.total(&key, Window::Day, T0 + HOUR).await.unwrap(),
            expected
        );
    }
    if let Some(a) = &a {
        tokio::time::sleep(RETRY * 3).await;
        assert!(!a.is_writer() && b.is_writer(), "B keeps the lock");
    }
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error_without_the_password() {
    let server = PgServer::start();
    let admin = server.superuser().await;
    admin
        .batch_execute(&format!(
            "CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'right-Pw-7c2e'"
        ))
        .await
        .unwrap();
    // Its own database: since PostgreSQL 15 only the database's owner may create tables in
    // `public`.
    admin
        .batch_execute(&format!("CREATE DATABASE history OWNER {PASSWORD_ROLE}"))
        .await
        .unwrap();
    let url = |password: &str| {
        format!(
            "postgres://{PASSWORD_ROLE}:{password}@127.0.0.1:{}/history?sslmode=disable",
            server.port()
        )
    };
    // The role and its password work: the failure below is the password's.
    match Store::connect_url(&url("right-Pw-7c2e"), RETRY).await {
        Ok(store) => assert!(store.is_writer()),
        Err(err) => panic!("the right password: {err}"),
    }

    let Err(err) = Store::connect_url(&url("Wr0ng-s3cret%21pw"), RETRY).await else {
        panic!("a wrong password connected");
    };
    let (text, debug) = (err.to_string(), format!("{err:?}"));
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}/history", server.port())),
        "{text}"
    );
    for leak in ["Wr0ng", "s3cret", "%21pw", "!pw"] {
        assert!(
            !text.contains(leak) && !debug.contains(leak),
            "{leak} in {text} / {debug}"
        );
    }
    assert_eq!(err.metric_label(), "open");
}

#[rstest]
#[case::closed_port("postgres://history:Cl0sed-s3cret@127.0.0.1:{port}/history", "connect")]
#[case::bad_port("postgres://history:B4dport-s3cret@127.0.0.1:notaport/history", "port")]
#[case::bad_syntax(
    "user=history password s3cret-Pw host=127.0.0.1",
    "unexpected character"
)]
#[case::tls(
    "postgres://history:Tls-s3cret@127.0.0.1:{port}/history?sslmode=require",
    "TLS"
)]
#[tokio::test]
async fn a_bad_url_or_a_closed_port_is_a_clear_error_without_the_password(
    #[case] url: &str,
    #[case] says: &str,
) {
    let port = free_port();
    let url = url.replace("{port}", &port.to_string());
    let Err(err) = Store::connect_url(&url, RETRY).await else {
        panic!("connected to {url}");
    };
    let (text, debug) = (err.to_string(), format!("{err:?}"));
    assert!(text.contains(says), "{text}");
    if url.contains(&format!(":{port}/")) {
        assert!(
            text.contains(&format!("127.0.0.1:{port}/history")),
            "{text}"
        );
    }
    assert!(
        !text.contains("s3cret") && !debug.contains("s3cret"),
        "{text} / {debug}"
    );
    assert_eq!(err.metric_label(), "open");
}
