//! Source health: what `GET /api/sources` and `/metrics` report per source, and the
//! `source_down` incidents that keep a silent gap from going unnoticed.
//!
//! Two conditions open a `source_down` incident (rule `source_down:<source>`):
//! - **down**: the source has failed every attempt for longer than its `down_after`
//!   (`crawler.down_after`, default 1h, or the source's own `down_after`);
//! - **silent**: the source keeps succeeding, but a brand it used to bring mentions
//!   for got none for `crawler.silent_after` (default 24h), while the seven windows of
//!   that length before it brought at least [`SILENCE_MIN_BASELINE`] mentions in all.
//!   A changed page layout or API usually looks exactly like this. (Checked at most
//!   every five minutes.)
//!
//! The incident (brand `*` for "down", the silent brand otherwise) goes through the
//! normal response clock and mails `alerts.source_down_notify`; when the condition
//! clears, the daemon resolves it itself, with a note saying so.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::Serialize;
use tracing::{info, warn};
use vigil_config::{Config, SourceConfig};
use vigil_core::{AlertStore, IncidentStatus, NewIncident, Severity, SourceCheckpoint, Trigger};
use vigil_store::Store;

/// The baseline a brand must have had on a source (mentions in the seven windows
/// before the silent one) for its silence to mean something.
pub const SILENCE_MIN_BASELINE: u64 = 7;

/// Baseline windows compared with the silent one.
const SILENCE_BASELINE_WINDOWS: i32 = 7;

/// Who resolves incidents whose condition cleared.
const RESOLVER: &str = "vigil";

/// The silence check counts posts per (source, brand) over eight windows; it runs at
/// most this often, not at every alert evaluation.
const SILENCE_CHECK_EVERY: ChronoDuration = ChronoDuration::minutes(5);

/// When the silence check last ran (process-wide: one daemon per process).
static LAST_SILENCE_CHECK: std::sync::Mutex<Option<DateTime<Utc>>> = std::sync::Mutex::new(None);

/// Whether the silence check is due at `now`, and if so marks it as run.
fn silence_check_due(now: DateTime<Utc>) -> bool {
    let mut last = LAST_SILENCE_CHECK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let due = last.is_none_or(|at| now < at || now - at >= SILENCE_CHECK_EVERY);
    if due {
        *last = Some(now);
    }
    due
}

/// One source as the API and metrics show it.
#[derive(Debug, Clone, Serialize)]
pub struct SourceHealth {
    pub name: String,
    pub kind: &'static str,
    pub url: String,
    pub interval_secs: u64,
    /// `ok`, `failing` (recent failures, not yet down), `down`, or `pending` (never
    /// attempted).
    pub status: &'static str,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// When the current run of failures began (None while healthy).
    pub failing_since: Option<DateTime<Utc>>,
    pub items_last_run: u64,
    pub posts_stored: u64,
    /// Newest `published_at` seen.
    pub high_water: Option<DateTime<Utc>>,
    /// A listing stretch not yet fetched is waiting in the cursor.
    pub backfill_pending: bool,
}

/// When the current run of failures began: the last success, else (a source that
/// never succeeded) the first failure the crawler recorded, else (a checkpoint from
/// before schema v9) an estimate from the failure count and interval. Back-off makes
/// the real gaps longer than the interval, so the estimate is late, never early; it
/// also moved with every failure, which could flip a `down` source back to `failing`
/// and resolve its incident while it still failed: hence the recorded time.
pub fn failing_since(
    source: &SourceConfig,
    checkpoint: &SourceCheckpoint,
) -> Option<DateTime<Utc>> {
    if checkpoint.consecutive_failures == 0 {
        return None;
    }
    checkpoint
        .last_success_at
        .or(checkpoint.failing_since)
        .or_else(|| {
            let last = checkpoint.last_error_at?;
            let runs = i32::try_from(checkpoint.consecutive_failures.saturating_sub(1))
                .unwrap_or(i32::MAX);
            let interval = ChronoDuration::from_std(source.interval).ok()?;
            last.checked_sub_signed(interval.checked_mul(runs)?)
        })
}

fn down_after(config: &Config, source: &SourceConfig) -> std::time::Duration {
    source.down_after.unwrap_or(config.crawler.down_after)
}

/// Health of every configured source at `now`.
pub fn source_health(
    config: &Config,
    checkpoints: &[SourceCheckpoint],
    now: DateTime<Utc>,
) -> Vec<SourceHealth> {
    config
        .sources
        .iter()
        .map(|source| {
            let checkpoint = checkpoints
                .iter()
                .find(|c| c.source == source.name)
                .cloned()
                .unwrap_or_default();
            let since = failing_since(source, &checkpoint);
            let down = since.is_some_and(|since| {
                ChronoDuration::from_std(down_after(config, source))
                    .is_ok_and(|limit| now - since > limit)
            });
            let status = if checkpoint.last_attempt_at.is_none() {
                "pending"
            } else if down {
                "down"
            } else if checkpoint.consecutive_failures > 0 {
                "failing"
            } else {
                "ok"
            };
            SourceHealth {
                name: source.name.clone(),
                kind: source.kind.as_str(),
                url: source.url.clone(),
                interval_secs: source.interval.as_secs(),
                status,
                last_attempt_at: checkpoint.last_attempt_at,
                last_success_at: checkpoint.last_success_at,
                last_error_at: checkpoint.last_error_at,
                last_error: checkpoint.last_error.clone(),
                consecutive_failures: checkpoint.consecutive_failures,
                failing_since: since,
                items_last_run: checkpoint.items_last_run,
                posts_stored: checkpoint.posts_stored,
                high_water: checkpoint.high_water,
                backfill_pending: checkpoint.cursor.is_some(),
            }
        })
        .collect()
}

/// The rule name of a source's `source_down` incidents.
pub fn rule_name(source: &str) -> String {
    format!("{}:{source}", vigil_alerts::SOURCE_DOWN_RULE)
}

/// One condition found (or cleared) by [`check_sources`].
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub source: String,
    /// `*` when the whole source is down, else the silent brand.
    pub brand: String,
    pub firing: bool,
    pub explanation: String,
    /// Failing for (down) or silent for (silence), in seconds.
    pub value: f64,
    pub threshold: f64,
}

/// Looks at every source and brand and returns what fires and what is quiet.
pub fn find_conditions(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Finding>> {
    let checkpoints = store.checkpoints()?;
    let silent_after = ChronoDuration::from_std(config.crawler.silent_after)?;
    let check_silence = silence_check_due(now);
    let mut findings = Vec::new();
    for (source, health) in config
        .sources
        .iter()
        .zip(source_health(config, &checkpoints, now))
    {
        let limit = down_after(config, source);
        let failing_for = health
            .failing_since
            .map_or(0.0, |since| (now - since).num_seconds().max(0) as f64);
        findings.push(Finding {
            source: source.name.clone(),
            brand: "*".into(),
            firing: health.status == "down",
            explanation: format!(
                "source {:?} ({}) has failed every attempt for {}; last error: {}",
                source.name,
                source.kind.as_str(),
                human(failing_for),
                health.last_error.as_deref().unwrap_or("-")
            ),
            value: failing_for,
            threshold: limit.as_secs_f64(),
        });
        // Silence only means something while the source itself is fine.
        if !check_silence || health.status != "ok" {
            continue;
        }
        let brands: Vec<&str> = if source.brands.is_empty() {
            config.brands.iter().map(|b| b.name.as_str()).collect()
        } else {
            source.brands.iter().map(String::as_str).collect()
        };
        for brand in brands {
            let recent = store.count_source_brand(&source.name, brand, now - silent_after, now)?;
            let baseline_from = now - silent_after * (SILENCE_BASELINE_WINDOWS + 1);
            let baseline =
                store.count_source_brand(&source.name, brand, baseline_from, now - silent_after)?;
            findings.push(Finding {
                source: source.name.clone(),
                brand: brand.to_string(),
                firing: recent == 0 && baseline >= SILENCE_MIN_BASELINE,
                explanation: format!(
                    "no mentions of {brand} from source {:?} in the last {}, after {baseline} in the {} before; the source itself answers, so its layout or API may have changed",
                    source.name,
                    human(silent_after.num_seconds() as f64),
                    human((silent_after * SILENCE_BASELINE_WINDOWS).num_seconds() as f64),
                ),
                value: recent as f64,
                threshold: SILENCE_MIN_BASELINE as f64,
            });
        }
    }
    Ok(findings)
}

/// Opens `source_down` incidents for conditions that fire (once: an open one is
/// updated) and resolves the daemon's own incidents whose condition cleared.
/// Returns how many incidents were opened.
pub fn check_sources(config: &Config, store: &Store, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let mut opened = 0;
    for finding in find_conditions(config, store, now)? {
        let rule = rule_name(&finding.source);
        let open = store.unresolved_incident(&rule, &finding.brand)?;
        let trigger = Trigger {
            metric: if finding.brand == "*" {
                "source_failing_seconds".into()
            } else {
                "source_brand_mentions".into()
            },
            value: finding.value,
            threshold: finding.threshold,
            baseline: None,
            window_secs: if finding.brand == "*" {
                finding.threshold as u64
            } else {
                config.crawler.silent_after.as_secs()
            },
            baseline_secs: None,
            mentions: 0,
            explanation: finding.explanation.clone(),
            context: Default::default(),
        };
        match (finding.firing, open) {
            (true, None) => {
                let response = ChronoDuration::from_std(config.alerts.crisis.response_window)?;
                let incident = store.create_incident(NewIncident {
                    rule: rule.clone(),
                    brand: finding.brand.clone(),
                    severity: Severity::Warning,
                    opened_at: now,
                    response_deadline: now + response,
                    trigger,
                    evidence: Vec::new(),
                })?;
                warn!(incident = incident.id, source = %finding.source, brand = %finding.brand, "{}", finding.explanation);
                opened += 1;
            }
            (true, Some(incident)) => {
                store.update_incident_firing(
                    incident.id,
                    &trigger,
                    incident.peak_value.max(finding.value),
                    &[],
                    now,
                )?;
            }
            (false, Some(incident)) if incident.status != IncidentStatus::Resolved => {
                store.resolve_incident(
                    incident.id,
                    RESOLVER,
                    Some("the condition cleared: the source is answering and bringing mentions again"),
                    now,
                )?;
                info!(incident = incident.id, source = %finding.source, brand = %finding.brand, "source recovered; incident resolved");
            }
            _ => {}
        }
    }
    Ok(opened)
}

/// `5400` → `1h30m`.
fn human(seconds: f64) -> String {
    let total = seconds.max(0.0) as u64;
    let (days, hours, minutes) = (total / 86_400, total % 86_400 / 3600, total % 3600 / 60);
    match (days, hours, minutes) {
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h{m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

/// One per-source Prometheus series: name, type, help, value.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&SourceHealth) -> f64,
);

/// Per-source Prometheus series.
pub fn metrics(health: &[SourceHealth], out: &mut String) {
    let series: [Series; 5] = [
        (
            "vigil_source_up",
            "gauge",
            "1 while the source's last attempt succeeded.",
            |h| {
                f64::from(u8::from(
                    h.consecutive_failures == 0 && h.last_success_at.is_some(),
                ))
            },
        ),
        (
            "vigil_source_consecutive_failures",
            "gauge",
            "Failed attempts since the last success.",
            |h| f64::from(h.consecutive_failures),
        ),
        (
            "vigil_source_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last successful fetch (0: never).",
            |h| h.last_success_at.map_or(0.0, |t| t.timestamp() as f64),
        ),
        (
            "vigil_source_items_last_run",
            "gauge",
            "Items the last successful run extracted.",
            |h| h.items_last_run as f64,
        ),
        (
            "vigil_source_posts_stored_total",
            "counter",
            "Posts stored from the source.",
            |h| h.posts_stored as f64,
        ),
    ];
    for (name, kind, help, value) in series {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for h in health {
            out.push_str(&format!(
                "{name}{{source=\"{}\",kind=\"{}\"}} {}\n",
                escape_label(&h.name),
                h.kind,
                value(h)
            ));
        }
    }
}

/// Prometheus label values escape `\`, `"` and newlines.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_config::SourceKind;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + ChronoDuration::hours(hours)
    }

    #[test]
    fn failing_since_is_the_last_success_else_an_estimate() {
        let source = SourceConfig::new("s", SourceKind::Rss, "https://example.com/feed");
        let mut checkpoint = SourceCheckpoint {
            consecutive_failures: 3,
            last_error_at: Some(at(10)),
            ..SourceCheckpoint::default()
        };
        // 3 failures 5 minutes apart: the first was 10 minutes before the last.
        assert_eq!(
            failing_since(&source, &checkpoint),
            Some(at(10) - ChronoDuration::minutes(10))
        );
        // Recorded by the crawler since schema v9: the first failure, whatever the
        // back-off did to the gaps since.
        checkpoint.failing_since = Some(at(1));
        assert_eq!(failing_since(&source, &checkpoint), Some(at(1)));
        checkpoint.last_success_at = Some(at(2));
        assert_eq!(failing_since(&source, &checkpoint), Some(at(2)));
        checkpoint.consecutive_failures = 0;
        assert_eq!(failing_since(&source, &checkpoint), None);
    }

    #[test]
    fn the_failure_clock_starts_at_the_first_failure_and_stops_at_a_success() {
        let error = vigil_crawler::CrawlError::Timeout {
            url: "https://example.com/feed".into(),
        };
        let first = vigil_crawler::failed_checkpoint("s", None, &error, at(1));
        assert_eq!(first.failing_since, Some(at(1)));
        // Back-off spreads the next failures out; the clock stays where it started.
        let second = vigil_crawler::failed_checkpoint("s", Some(&first), &error, at(9));
        let third = vigil_crawler::failed_checkpoint("s", Some(&second), &error, at(40));
        assert_eq!(third.failing_since, Some(at(1)));
        assert_eq!(third.consecutive_failures, 3);
        let source = SourceConfig::new("s", SourceKind::Rss, "https://example.com/feed");
        assert_eq!(failing_since(&source, &third), Some(at(1)));
    }

    #[test]
    fn silence_check_runs_at_most_every_five_minutes() {
        let start = at(100);
        assert!(silence_check_due(start));
        assert!(!silence_check_due(start + ChronoDuration::minutes(1)));
        assert!(silence_check_due(start + ChronoDuration::minutes(5)));
        assert!(!silence_check_due(start + ChronoDuration::minutes(9)));
        // A clock set back (tests, NTP) does not stop the check.
        assert!(silence_check_due(start));
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(59.0), "0m");
        assert_eq!(human(5400.0), "1h30m");
        assert_eq!(human(7200.0), "2h");
        assert_eq!(human(90_000.0), "1d1h");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
