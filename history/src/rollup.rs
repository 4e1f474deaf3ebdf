//! The rollup rules, shared by every store: which buckets a sample counts in, how long each tier
//! is kept, which tier answers which window, and how buckets add up.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch (UTC). Every store method takes `now` from its caller, so tests
/// run a year in milliseconds.
pub type UnixSeconds = i64;

/// A check of a service, as history is kept: the flat service name (every namespace) and the
/// check name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckKey {
    /// The service's flat name (`web`, not `web.prod`).
    pub service: String,
    /// The check (`health`, `rollout` or a plugin's).
    pub check: String,
}

impl CheckKey {
    /// The key of `check` of `service`.
    pub fn new(service: impl Into<String>, check: impl Into<String>) -> Self {
        CheckKey {
            service: service.into(),
            check: check.into(),
        }
    }
}

/// One scheduled evaluation of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When it ran.
    pub at: UnixSeconds,
    /// Whether the check counted as up (see the host's rule).
    pub up: bool,
    /// How long the check took, in microseconds.
    pub latency_us: u64,
}

/// A resolution of the history: each tier keeps buckets of its width for its retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// One-minute buckets, kept 25 hours: the 24 h window.
    Minute,
    /// One-hour buckets, kept 31 days: the 7 d and 30 d windows, and the 24 h and 7 d charts.
    Hour,
    /// One-day buckets, kept 400 days: the 90 d and 1 y windows and their charts.
    Day,
}

impl Tier {
    /// Every tier, finest first; a sample counts once in each.
    pub const ALL: [Tier; 3] = [Tier::Minute, Tier::Hour, Tier::Day];

    /// A bucket's width in seconds.
    pub const fn width(self) -> i64 {
        match self {
            Tier::Minute => 60,
            Tier::Hour => 3_600,
            Tier::Day => 86_400,
        }
    }

    /// How long buckets of this tier are kept, in seconds: the longest window it answers plus
    /// one bucket.
    pub const fn retention(self) -> i64 {
        match self {
            Tier::Minute => 25 * 3_600,
            Tier::Hour => 31 * 86_400,
            Tier::Day => 400 * 86_400,
        }
    }

    /// The start of the bucket `at` falls in (UTC-aligned).
    pub const fn bucket_start(self, at: UnixSeconds) -> UnixSeconds {
        at.div_euclid(self.width()) * self.width()
    }

    /// The stored number of the tier (the `tier` column).
    pub const fn id(self) -> i64 {
        match self {
            Tier::Minute => 0,
            Tier::Hour => 1,
            Tier::Day => 2,
        }
    }
}

/// A span of history a badge or chart is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Window {
    /// The last 24 hours.
    #[serde(rename = "24h")]
    Day,
    /// The last 7 days.
    #[serde(rename = "7d")]
    Week,
    /// The last 30 days.
    #[serde(rename = "30d")]
    Month,
    /// The last 90 days.
    #[serde(rename = "90d")]
    Quarter,
    /// The last 365 days.
    #[serde(rename = "1y")]
    Year,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 5] = [
        Window::Day,
        Window::Week,
        Window::Month,
        Window::Quarter,
        Window::Year,
    ];

    /// Its length in seconds.
    pub const fn seconds(self) -> i64 {
        const DAY: i64 = 86_400;
        match self {
            Window::Day => DAY,
            Window::Week => 7 * DAY,
            Window::Month => 30 * DAY,
            Window::Quarter => 90 * DAY,
            Window::Year => 365 * DAY,
        }
    }

    /// The tier its totals are summed from: the finest one that still covers it.
    pub const fn summary_tier(self) -> Tier {
        match self {
            Window::Day => Tier::Minute,
            Window::Week | Window::Month => Tier::Hour,
            Window::Quarter | Window::Year => Tier::Day,
        }
    }

    /// The tier of its chart's bars: hours up to a week (24 or 168 bars), else days.
    pub const fn chart_tier(self) -> Tier {
        match self {
            Window::Day | Window::Week => Tier::Hour,
            Window::Month | Window::Quarter | Window::Year => Tier::Day,
        }
    }

    /// The first bucket start of `tier` inside the window ending at `now`: the bucket holding
    /// `now - seconds` is left out, so the window spans exactly its number of buckets, the last
    /// of which is still filling.
    pub const fn first_bucket(self, tier: Tier, now: UnixSeconds) -> UnixSeconds {
        tier.bucket_start(now - self.seconds()) + tier.width()
    }

    /// How many bars its chart has: its length in chart buckets (24, 168, 30, 90, 365).
    pub const fn chart_bars(self) -> usize {
        (self.seconds() / self.chart_tier().width()) as usize
    }

    /// Its name in URLs and badges.
    pub const fn as_str(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
            Window::Month => "30d",
            Window::Quarter => "90d",
            Window::Year => "1y",
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A window name that is none of `24h`, `7d`, `30d`, `90d`, `1y`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("window must be 24h, 7d, 30d, 90d or 1y, not {0:?}")]
pub struct UnknownWindow(pub String);

impl FromStr for Window {
    type Err = UnknownWindow;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Window::ALL
            .into_iter()
            .find(|window| window.as_str() == value)
            .ok_or_else(|| UnknownWindow(value.chars().take(16).collect()))
    }
}

/// Counters of the samples in a span: a stored bucket, or the sum of several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Samples.
    pub count: u64,
    /// Samples that were up.
    pub up: u64,
    /// Sum of the samples' latencies (µs).
    pub latency_sum_us: u64,
    /// Least latency (µs); 0 when empty.
    pub latency_min_us: u64,
    /// Greatest latency (µs); 0 when empty.
    pub latency_max_us: u64,
}

impl Counts {
    /// The counts of one sample.
    pub fn of(sample: &Sample) -> Self {
        Counts {
            count: 1,
            up: u64::from(sample.up),
            latency_sum_us: sample.latency_us,
            latency_min_us: sample.latency_us,
            latency_max_us: sample.latency_us,
        }
    }

    /// These counts and `other`'s together (what a bucket's upsert does in SQL).
    pub fn merge(self, other: Counts) -> Counts {
        if self.count == 0 {
            return other;
        }
        if other.count == 0 {
            return self;
        }
        Counts {
            count: self.count + other.count,
            up: self.up + other.up,
            latency_sum_us: self.latency_sum_us.saturating_add(other.latency_sum_us),
            latency_min_us: self.latency_min_us.min(other.latency_min_us),
            latency_max_us: self.latency_max_us.max(other.latency_max_us),
        }
    }

    /// Percent of samples up; `None` without samples.
    pub fn uptime_percent(&self) -> Option<f64> {
        (self.count > 0).then(|| self.up as f64 * 100.0 / self.count as f64)
    }

    /// Mean latency in milliseconds; `None` without samples.
    pub fn mean_latency_ms(&self) -> Option<f64> {
        (self.count > 0).then(|| self.latency_sum_us as f64 / self.count as f64 / 1_000.0)
    }
}

/// A stored bucket: its tier, start and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Start of the bucket (Unix seconds, UTC-aligned to its tier's width).
    pub start: UnixSeconds,
    /// What was counted in it.
    #[serde(flatten)]
    pub counts: Counts,
}

/// A batch of samples as bucket increments: each sample counted once in each tier, samples of
/// one bucket merged. Stores add these to what they hold, in one transaction.
pub fn rollup<'a>(
    samples: impl IntoIterator<Item = (&'a CheckKey, &'a Sample)>,
) -> BTreeMap<(&'a CheckKey, Tier, UnixSeconds), Counts> {
    let mut increments: BTreeMap<(&CheckKey, Tier, UnixSeconds), Counts> = BTreeMap::new();
    for (key, sample) in samples {
        for tier in Tier::ALL {
            let slot = increments
                .entry((key, tier, tier.bucket_start(sample.at)))
                .or_default();
            *slot = slot.merge(Counts::of(sample));
        }
    }
    increments
}

/// The buckets of `window`'s chart ending at `now`, oldest first, one per bucket start of its
/// chart tier: the stored ones, and empty ones where nothing was recorded.
pub fn chart_buckets(window: Window, now: UnixSeconds, stored: &[Bucket]) -> Vec<Bucket> {
    let tier = window.chart_tier();
    let first = window.first_bucket(tier, now);
    let last = tier.bucket_start(now);
    let by_start: BTreeMap<UnixSeconds, Counts> = stored
        .iter()
        .map(|bucket| (bucket.start, bucket.counts))
        .collect();
    (first..=last)
        .step_by(tier.width() as usize)
        .map(|start| Bucket {
            start,
            counts: by_start.get(&start).copied().unwrap_or_default(),
        })
        .collect()
}

/// The sum of buckets.
pub fn total(buckets: &[Bucket]) -> Counts {
    buckets
        .iter()
        .fold(Counts::default(), |sum, bucket| sum.merge(bucket.counts))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const T: UnixSeconds = 1_765_000_000; // 2025-12-06T05:46:40Z

    #[rstest]
    #[case(Tier::Minute, T, 1_764_999_960)]
    #[case(Tier::Hour, T, 1_764_997_200)]
    #[case(Tier::Day, T, 1_764_979_200)]
    #[case(Tier::Minute, 59, 0)]
    #[case(Tier::Minute, -1, -60)]
    fn buckets_align_to_their_width(
        #[case] tier: Tier,
        #[case] at: UnixSeconds,
        #[case] start: UnixSeconds,
    ) {
        assert_eq!(tier.bucket_start(at), start);
    }

    #[rstest]
    #[case(Window::Day, Tier::Minute, 1440)]
    #[case(Window::Week, Tier::Hour, 168)]
    #[case(Window::Month, Tier::Hour, 720)]
    #[case(Window::Quarter, Tier::Day, 90)]
    #[case(Window::Year, Tier::Day, 365)]
    fn a_window_spans_its_number_of_buckets_and_its_tier_keeps_them(
        #[case] window: Window,
        #[case] tier: Tier,
        #[case] buckets: i64,
    ) {
        assert_eq!(window.summary_tier(), tier);
        let first = window.first_bucket(tier, T);
        assert_eq!((tier.bucket_start(T) - first) / tier.width() + 1, buckets);
        assert!(T - first < tier.retention(), "{window} outlives its tier");
    }

    #[rstest]
    #[case("24h", Some(Window::Day))]
    #[case("1y", Some(Window::Year))]
    #[case("30d", Some(Window::Month))]
    #[case("30D", None)]
    #[case("", None)]
    #[case("2y", None)]
    fn window_names(#[case] name: &str, #[case] window: Option<Window>) {
        assert_eq!(name.parse::<Window>().ok(), window);
    }

    #[test]
    fn a_batch_counts_each_sample_once_per_tier_and_merges_a_bucket() {
        let key = CheckKey::new("web", "health");
        let samples = [
            Sample {
                at: T,
                up: true,
                latency_us: 10,
            },
            Sample {
                at: T + 1,
                up: false,
                latency_us: 30,
            },
            Sample {
                at: T + 3_600,
                up: true,
                latency_us: 20,
            },
        ];
        let increments = rollup(samples.iter().map(|sample| (&key, sample)));
        let minute = increments[&(&key, Tier::Minute, Tier::Minute.bucket_start(T))];
        assert_eq!(
            minute,
            Counts {
                count: 2,
                up: 1,
                latency_sum_us: 40,
                latency_min_us: 10,
                latency_max_us: 30
            }
        );
        let day = increments[&(&key, Tier::Day, Tier::Day.bucket_start(T))];
        assert_eq!((day.count, day.up, day.latency_max_us), (3, 2, 30));
        assert_eq!(increments.len(), 2 + 2 + 1);
    }

    #[test]
    fn a_chart_has_one_bar_per_bucket_with_gaps_empty() {
        let stored = [Bucket {
            start: Tier::Hour.bucket_start(T),
            counts: Counts::of(&Sample {
                at: T,
                up: true,
                latency_us: 5,
            }),
        }];
        let bars = chart_buckets(Window::Day, T, &stored);
        assert_eq!(bars.len(), 24);
        assert_eq!(bars.last().unwrap().counts.count, 1);
        assert!(bars[..23].iter().all(|bar| bar.counts.count == 0));
        assert_eq!(chart_buckets(Window::Year, T, &[]).len(), 365);
    }

    #[test]
    fn uptime_and_latency_of_counts() {
        let counts = Counts {
            count: 4,
            up: 3,
            latency_sum_us: 8_000,
            latency_min_us: 1,
            latency_max_us: 4,
        };
        assert_eq!(counts.uptime_percent(), Some(75.0));
        assert_eq!(counts.mean_latency_ms(), Some(2.0));
        assert_eq!(Counts::default().uptime_percent(), None);
    }
}
