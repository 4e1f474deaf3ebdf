//! History in the core: a scheduled evaluation of a check (up or down, and how long it took),
//! and a check's history over a window, from this cluster's store or from the peer that has
//! the service. What counts as up is [`Answer::up`]; the badges' texts and colors are here.

use std::time::{Duration, Instant};

use kube_shields_badge::{Badge, ChartBar, Color};
use kube_shields_history::{Bucket, CheckKey, Counts, Report, Tier, Window};
use serde::{Deserialize, Serialize};

use super::{Answer, CheckError, Checker, Located, Reach, Service};
use crate::pods::model::PodInfo;

/// The pod-template annotation that sets a service's uptime colors: five percentages, best
/// first, e.g. `99.9,99,97,95,90` (the default).
pub const UPTIME_THRESHOLDS_ANNOTATION: &str = "kube-shields.io/uptime-thresholds";

/// The pod-template annotation that sets a service's response-time colors: five times in
/// milliseconds, best first, e.g. `100,250,500,1000,2000` (the default).
pub const RESPONSE_TIME_THRESHOLDS_ANNOTATION: &str = "kube-shields.io/response-time-thresholds";

/// The colors from best to worst; a value past the last threshold is red.
const SCALE: [Color; 5] = [
    Color::BRIGHTGREEN,
    Color::GREEN,
    Color::YELLOWGREEN,
    Color::YELLOW,
    Color::ORANGE,
];

/// What a history badge shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// The percentage of samples up.
    Uptime,
    /// The mean time a check took.
    ResponseTime,
}

impl Measure {
    /// Its name in URLs (`/_/<service>/<check>/uptime/30d`).
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Uptime => "uptime",
            Measure::ResponseTime => "response-time",
        }
    }

    /// The measure a URL segment names.
    pub fn from_segment(segment: &str) -> Option<Measure> {
        [Measure::Uptime, Measure::ResponseTime]
            .into_iter()
            .find(|measure| measure.as_str() == segment)
    }
}

/// Where a service's history badges change color: uptime percentages and response times (ms),
/// best first. A value at or past a threshold gets its color ([`SCALE`]); past the last, red.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Uptime in percent: at least `uptime[0]` is bright green, ... below `uptime[4]` red.
    pub uptime: [f64; 5],
    /// Mean response time in ms: at most `response_time_ms[0]` is bright green, ... above
    /// `response_time_ms[4]` red.
    pub response_time_ms: [f64; 5],
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            uptime: [99.9, 99.0, 97.0, 95.0, 90.0],
            response_time_ms: [100.0, 250.0, 500.0, 1_000.0, 2_000.0],
        }
    }
}

impl Thresholds {
    /// A service's thresholds: its pods' annotations where they are valid (five finite numbers,
    /// from best to worst), the defaults otherwise.
    pub fn of(pods: &[std::sync::Arc<PodInfo>]) -> Thresholds {
        let defaults = Thresholds::default();
        let from = |annotation: &str, uptime: bool| {
            pods.iter()
                .find_map(|pod| pod.annotation(annotation))
                .and_then(|text| parse_scale(text, uptime))
        };
        Thresholds {
            uptime: from(UPTIME_THRESHOLDS_ANNOTATION, true).unwrap_or(defaults.uptime),
            response_time_ms: from(RESPONSE_TIME_THRESHOLDS_ANNOTATION, false)
                .unwrap_or(defaults.response_time_ms),
        }
    }

    /// The color of an uptime percentage.
    pub fn uptime_color(&self, percent: f64) -> Color {
        color_of(self.uptime.iter().position(|limit| percent >= *limit))
    }

    /// The color of a mean response time in ms.
    pub fn response_time_color(&self, ms: f64) -> Color {
        color_of(self.response_time_ms.iter().position(|limit| ms <= *limit))
    }

    /// Thresholds read from a peer: kept when they are a scale, else this cluster's defaults.
    fn checked(self) -> Thresholds {
        if is_scale(&self.uptime, true) && is_scale(&self.response_time_ms, false) {
            self
        } else {
            Thresholds::default()
        }
    }
}

fn color_of(step: Option<usize>) -> Color {
    step.map_or(Color::RED, |step| SCALE[step].clone())
}

/// Five numbers separated by commas or spaces, descending for uptime (within 0–100),
/// ascending for response times.
fn parse_scale(text: &str, uptime: bool) -> Option<[f64; 5]> {
    let values: Vec<f64> = text
        .split([',', ' '])
        .filter(|part| !part.is_empty())
        .map(|part| part.parse::<f64>().ok())
        .collect::<Option<_>>()?;
    let values: [f64; 5] = values.try_into().ok()?;
    is_scale(&values, uptime).then_some(values)
}

/// The one rule for thresholds, from an annotation or a peer: finite, not negative, descending
/// percentages up to 100 for uptime, ascending times for response time.
fn is_scale(values: &[f64; 5], uptime: bool) -> bool {
    values.iter().all(|v| v.is_finite() && *v >= 0.0)
        && values.windows(2).all(|pair| {
            if uptime {
                pair[0] >= pair[1] && pair[0] <= 100.0
            } else {
                pair[0] <= pair[1]
            }
        })
}

/// A check's history as the history routes send it (`/_/<service>/<check>/history`) and peers
/// read it back: the report and the service's thresholds, with the totals in words for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryReport {
    /// Totals and chart buckets.
    #[serde(flatten)]
    pub report: Report,
    /// The service's colors.
    pub thresholds: Thresholds,
}

/// A check's history, or why there is none to show.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryAnswer {
    /// The history over the window.
    Report(HistoryReport),
    /// The store could not be read (`unavailable`), or the peer did not answer (`unreachable`).
    Failed(&'static str),
}

impl HistoryAnswer {
    /// The badge of `measure` over the window: `uptime 30d` `99.95%`, `response time 30d`
    /// `12 ms`, or `no data` before the first sample.
    pub fn badge(&self, measure: Measure, window: Window) -> Badge {
        let label = match measure {
            Measure::Uptime => format!("uptime {window}"),
            Measure::ResponseTime => format!("response time {window}"),
        };
        let (report, thresholds) = match self {
            HistoryAnswer::Report(HistoryReport { report, thresholds }) => (report, thresholds),
            HistoryAnswer::Failed(text) => return Badge::failure(label, *text),
        };
        let value = match measure {
            Measure::Uptime => report
                .total
                .uptime_percent()
                .map(|percent| (uptime_text(percent), thresholds.uptime_color(percent))),
            Measure::ResponseTime => report
                .total
                .mean_latency_ms()
                .map(|ms| (duration_text(ms), thresholds.response_time_color(ms))),
        };
        match value {
            Some((text, color)) => Badge::new(label, text, color),
            None => Badge::new(label, "no data", Color::LIGHTGREY),
        }
    }

    /// `?raw` of a history badge: the measure's value over the window and its sample counts.
    pub fn raw(&self, measure: Measure, window: Window) -> (bool, serde_json::Value) {
        let report = match self {
            HistoryAnswer::Report(HistoryReport { report, .. }) => report,
            HistoryAnswer::Failed(text) => return (true, serde_json::json!({ "failed": text })),
        };
        let total = &report.total;
        let body = match measure {
            Measure::Uptime => serde_json::json!({
                "measure": measure.as_str(),
                "window": window,
                "uptime": total.uptime_percent(),
                "count": total.count,
                "up": total.up,
            }),
            Measure::ResponseTime => serde_json::json!({
                "measure": measure.as_str(),
                "window": window,
                "mean_ms": total.mean_latency_ms(),
                "min_ms": (total.count > 0).then(|| total.latency_min_us as f64 / 1_000.0),
                "max_ms": (total.count > 0).then(|| total.latency_max_us as f64 / 1_000.0),
                "count": total.count,
            }),
        };
        (true, body)
    }

    /// The chart's bars: one per bucket, colored by its uptime, with its time, uptime, count
    /// and mean response time as hover text.
    pub fn bars(&self) -> Vec<ChartBar> {
        let HistoryAnswer::Report(HistoryReport { report, thresholds }) = self else {
            return Vec::new();
        };
        report
            .buckets
            .iter()
            .map(|bucket| bar(report.tier, bucket, thresholds))
            .collect()
    }
}

fn bar(tier: Tier, bucket: &Bucket, thresholds: &Thresholds) -> ChartBar {
    let when = jiff::Timestamp::from_second(bucket.start).unwrap_or_default();
    let when = match tier {
        Tier::Day => when.strftime("%Y-%m-%d").to_string(),
        Tier::Hour | Tier::Minute => when.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    };
    let counts: &Counts = &bucket.counts;
    match (counts.uptime_percent(), counts.mean_latency_ms()) {
        (Some(percent), Some(ms)) => ChartBar {
            title: format!(
                "{when}: {} up ({} checks), {}",
                uptime_text(percent),
                counts.count,
                duration_text(ms)
            ),
            color: thresholds.uptime_color(percent),
            filled: true,
        },
        _ => ChartBar {
            title: format!("{when}: no data"),
            color: Color::LIGHTGREY,
            filled: false,
        },
    }
}

/// `99.95%`: two decimals, cut rather than rounded, so only a perfect record says `100%`.
fn uptime_text(percent: f64) -> String {
    if percent >= 100.0 {
        return "100%".to_owned();
    }
    let cut = (percent * 100.0).floor() / 100.0;
    format!("{cut:.2}%")
}

/// `12 ms`, `1.5 ms`, `0.04 ms`: about two significant digits.
fn duration_text(ms: f64) -> String {
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

impl Checker {
    /// One scheduled evaluation of `check` of `service`: whether it is up ([`Answer::up`]) and
    /// how long it took — a plugin's run that produced the answer (a cached one's too), a
    /// built-in check's computation. `None` when the answer says nothing (busy, stale) or the
    /// check is gone.
    pub async fn evaluate(&self, service: &Service, check: &str) -> Option<(bool, Duration)> {
        let started = Instant::now();
        let answer = self.run(service, check).await.ok()?;
        let took = started.elapsed();
        let up = answer.up(check)?;
        let took = match answer {
            Answer::Plugin(_) => self.last_duration(&service.name, check).unwrap_or(took),
            _ => took,
        };
        Some((up, took))
    }

    /// How long the last run of a plugin's check took.
    fn last_duration(&self, service: &str, check: &str) -> Option<Duration> {
        let runs = self.runs.lock().expect("runs lock");
        runs.get(service)?.checks.get(check)?.last_duration
    }

    /// Whether this cluster keeps history.
    pub fn keeps_history(&self) -> bool {
        self.keeps_history
    }

    /// The history of `check` of `name` over `window` ending `now`, resolved as badges are
    /// ([`Checker::answer`]): this cluster's store, or the peer that has the service.
    pub async fn history(
        &self,
        name: &str,
        check: &str,
        window: Window,
        reach: Reach,
    ) -> Result<HistoryAnswer, CheckError> {
        match self.locate(name, check, reach)? {
            Located::Local(service) => {
                if !service.has_check(check) {
                    return Err(CheckError::UnknownCheck {
                        service: service.scope.clone(),
                        check: check.to_owned(),
                    });
                }
                if !self.keeps_history {
                    return Err(CheckError::NoHistory);
                }
                let Some(store) = self.history.get() else {
                    return Ok(HistoryAnswer::Failed("unavailable"));
                };
                let key = CheckKey::new(service.name.as_str(), check);
                let now = jiff::Timestamp::now().as_second();
                match store.report(&key, window, now).await {
                    Ok(report) => Ok(HistoryAnswer::Report(HistoryReport {
                        report,
                        thresholds: Thresholds::of(&service.pods),
                    })),
                    Err(err) => {
                        tracing::warn!(service = %service.name, check, error = %err, "history unavailable");
                        Ok(HistoryAnswer::Failed("unavailable"))
                    }
                }
            }
            Located::Remote { cluster, service } => {
                let path = format!("/_/{service}/{check}/history?window={window}");
                let Some(body) = self.peers.document(&cluster, &path).await else {
                    return Ok(HistoryAnswer::Failed(crate::peers::UNREACHABLE));
                };
                Ok(match remote_report(&body, window) {
                    Ok(report) => HistoryAnswer::Report(report),
                    Err(err) => {
                        tracing::info!(peer = %cluster, error = %err, "peer history invalid");
                        HistoryAnswer::Failed("unavailable")
                    }
                })
            }
        }
    }
}

/// A peer's history document, checked as untrusted input.
fn remote_report(body: &[u8], window: Window) -> Result<HistoryReport, String> {
    let report: HistoryReport =
        serde_json::from_slice(body).map_err(|_| "not a kube-shields history".to_owned())?;
    report.report.validate(window)?;
    Ok(HistoryReport {
        thresholds: report.thresholds.checked(),
        ..report
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(100.0, "100%", Color::BRIGHTGREEN)]
    #[case(99.999, "99.99%", Color::BRIGHTGREEN)]
    #[case(99.9, "99.90%", Color::BRIGHTGREEN)]
    #[case(99.5, "99.50%", Color::GREEN)]
    #[case(97.0, "97.00%", Color::YELLOWGREEN)]
    #[case(96.0, "96.00%", Color::YELLOW)]
    #[case(91.0, "91.00%", Color::ORANGE)]
    #[case(50.0, "50.00%", Color::RED)]
    fn uptime_texts_and_default_colors(
        #[case] percent: f64,
        #[case] text: &str,
        #[case] color: Color,
    ) {
        assert_eq!(uptime_text(percent), text);
        assert_eq!(Thresholds::default().uptime_color(percent), color);
    }

    #[rstest]
    #[case(0.042, "0.04 ms", Color::BRIGHTGREEN)]
    #[case(1.54, "1.5 ms", Color::BRIGHTGREEN)]
    #[case(240.4, "240 ms", Color::GREEN)]
    #[case(900.0, "900 ms", Color::YELLOW)]
    #[case(5_000.0, "5000 ms", Color::RED)]
    fn response_time_texts_and_default_colors(
        #[case] ms: f64,
        #[case] text: &str,
        #[case] color: Color,
    ) {
        assert_eq!(duration_text(ms), text);
        assert_eq!(Thresholds::default().response_time_color(ms), color);
    }

    #[rstest]
    #[case("99,98,97,96,95", true, Some([99.0, 98.0, 97.0, 96.0, 95.0]))]
    #[case("99 98 97 96 95", true, Some([99.0, 98.0, 97.0, 96.0, 95.0]))]
    #[case("95,96,97,98,99", true, None)]
    #[case("101,99,98,97,96", true, None)]
    #[case("99,98,97", true, None)]
    #[case("10,20,30,40,50", false, Some([10.0, 20.0, 30.0, 40.0, 50.0]))]
    #[case("10,20,NaN,40,50", false, None)]
    #[case("50,40,30,20,10", false, None)]
    fn threshold_annotations(
        #[case] text: &str,
        #[case] uptime: bool,
        #[case] parsed: Option<[f64; 5]>,
    ) {
        assert_eq!(parse_scale(text, uptime), parsed);
    }

    #[test]
    fn no_samples_say_no_data_and_failures_say_why() {
        let empty = HistoryAnswer::Report(HistoryReport {
            report: Report {
                window: Window::Month,
                total: Counts::default(),
                tier: Tier::Day,
                buckets: Vec::new(),
            },
            thresholds: Thresholds::default(),
        });
        let badge = empty.badge(Measure::Uptime, Window::Month);
        assert_eq!(
            (badge.label.as_str(), badge.message.as_str()),
            ("uptime 30d", "no data")
        );
        let badge = HistoryAnswer::Failed("unreachable").badge(Measure::ResponseTime, Window::Day);
        assert_eq!(
            (badge.label.as_str(), badge.message.as_str(), badge.is_error),
            ("response time 24h", "unreachable", true)
        );
    }

    #[test]
    fn a_peers_history_is_checked() {
        let now = 1_767_225_600;
        let report = Report {
            window: Window::Day,
            total: Counts::default(),
            tier: Tier::Hour,
            buckets: kube_shields_history::chart_buckets(Window::Day, now, &[]),
        };
        let good = HistoryReport {
            report: report.clone(),
            thresholds: Thresholds::default(),
        };
        let body = serde_json::to_vec(&good).unwrap();
        assert_eq!(remote_report(&body, Window::Day), Ok(good.clone()));
        assert!(remote_report(&body, Window::Week).is_err());
        let mut impossible = good.clone();
        impossible.report.total.up = 5;
        let body = serde_json::to_vec(&impossible).unwrap();
        assert_eq!(
            remote_report(&body, Window::Day),
            Err("impossible counts".to_owned())
        );
        let mut shuffled = good.clone();
        shuffled.report.buckets.swap(0, 1);
        assert!(remote_report(&serde_json::to_vec(&shuffled).unwrap(), Window::Day).is_err());
        let mut odd_colors = good;
        odd_colors.thresholds.uptime = [1.0, 50.0, 2.0, 3.0, 4.0];
        let read = remote_report(&serde_json::to_vec(&odd_colors).unwrap(), Window::Day).unwrap();
        assert_eq!(read.thresholds, Thresholds::default());
        assert!(remote_report(b"<html>", Window::Day).is_err());
    }
}
