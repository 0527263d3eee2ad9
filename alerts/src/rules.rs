//! Rule maths: what each rule kind measures over its window, and whether it fires.
//! Pure apart from reading the store, so the summary can re-measure a rule at the
//! moment an incident opened and now.

use chrono::{DateTime, TimeDelta, Utc};
use vigil_config::{RuleConfig, RuleKind};
use vigil_core::text::truncate_chars;
use vigil_core::time::format_duration;
use vigil_core::{AlertStore, EvidencePost, Label, Query};

use crate::error::{Result, store_error};

/// Posts read for one window. A window holding more than this is counted as this many
/// (logged): far past any threshold a rule could have.
pub(crate) const WINDOW_POST_LIMIT: usize = 100_000;
/// Posts read for a baseline computed from posts rather than bucket counts
/// (sentiment_drop, and volume_spike with a query filter).
const BASELINE_POST_LIMIT: usize = 500_000;
pub(crate) const EVIDENCE_POSTS: usize = 10;
const EVIDENCE_TEXT_CHARS: usize = 280;

/// A rule with its durations converted once, at engine construction.
#[derive(Debug)]
pub(crate) struct Rule {
    pub config: RuleConfig,
    pub window: TimeDelta,
    pub baseline: TimeDelta,
    /// The baseline figures (`volume_spike`: mentions per bucket; `sentiment_drop`:
    /// mean score per bucket) for the baseline ending at `.0`. Baselines end on a
    /// whole window (see [`Rule::baseline_end`]), so the figures change once per
    /// window, not on every evaluation; between, an evaluation reads only its window.
    /// Posts stored late into an already computed baseline (or re-scored) count from
    /// the next window on.
    pub baseline_cache: std::sync::Mutex<Option<(DateTime<Utc>, Vec<f64>)>>,
}

impl Rule {
    pub fn new(config: RuleConfig, window: TimeDelta, baseline: TimeDelta) -> Rule {
        Rule {
            config,
            window,
            baseline,
            baseline_cache: std::sync::Mutex::new(None),
        }
    }

    /// Where the baseline before a window ending at `now` ends: the start of that
    /// window rounded down to a whole multiple of the window length (since the Unix
    /// epoch), so consecutive evaluations share one baseline. The gap between the
    /// baseline and the window is less than one window.
    fn baseline_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let start = now - self.window;
        let size = self.window.num_milliseconds();
        if size <= 0 {
            return start;
        }
        let floored = start.timestamp_millis().div_euclid(size) * size;
        DateTime::from_timestamp_millis(floored).unwrap_or(start)
    }

    /// The baseline figures for the baseline ending at `to`: cached, or computed by
    /// `compute` (and cached when `cache`).
    fn baseline_figures(
        &self,
        to: DateTime<Utc>,
        cache: bool,
        compute: impl FnOnce() -> Result<Vec<f64>>,
    ) -> Result<Vec<f64>> {
        if cache {
            let cached = self
                .baseline_cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((end, figures)) = cached.as_ref()
                && *end == to
            {
                return Ok(figures.clone());
            }
        }
        let figures = compute()?;
        if cache {
            *self
                .baseline_cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((to, figures.clone()));
        }
        Ok(figures)
    }
}

/// What a rule saw at one instant.
#[derive(Debug, Clone)]
pub(crate) struct Measurement {
    pub fired: bool,
    pub value: f64,
    pub threshold: f64,
    pub baseline: Option<f64>,
    pub mentions: u64,
    /// One sentence: what was measured against what.
    pub explanation: String,
    /// Why it did not fire, when that is not obvious from the explanation.
    pub not_fired_reason: Option<String>,
    pub evidence: Vec<EvidencePost>,
}

impl Rule {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn brand(&self) -> &str {
        &self.config.brand
    }

    /// Measures the rule over `[start, now)`, `start = max(now - window, last resolution)`.
    /// Baselines are computed afresh (for a summary's look back in time).
    pub fn measure<S: AlertStore>(&self, store: &S, now: DateTime<Utc>) -> Result<Measurement> {
        self.measure_with(store, now, false, None)
    }

    /// [`Rule::measure`] for the evaluation loop: the cached baseline when it still
    /// applies, and the brand's posts of `[now - span, now)` already read (`span` at
    /// least this rule's window; every rule of the brand shares one read).
    pub fn measure_cached<S: AlertStore>(
        &self,
        store: &S,
        now: DateTime<Utc>,
        recent: &[EvidencePost],
    ) -> Result<Measurement> {
        self.measure_with(store, now, true, Some(recent))
    }

    fn measure_with<S: AlertStore>(
        &self,
        store: &S,
        now: DateTime<Utc>,
        cache: bool,
        recent: Option<&[EvidencePost]>,
    ) -> Result<Measurement> {
        let rule = &self.config;
        let last_resolved = store
            .last_resolved_at(&rule.name, &rule.brand)
            .map_err(store_error("last_resolved_at"))?;
        let mut start = now - self.window;
        let mut window_text = format!("in the last {}", format_duration(rule.window));
        if let Some(resolved) = last_resolved
            && resolved > start
        {
            start = resolved.min(now);
            window_text = format!(
                "since the previous incident was resolved at {}",
                rfc3339(resolved)
            );
        }
        let posts = match recent {
            // A shared read that hit the limit may have cut this window: read it alone.
            Some(recent) if recent.len() < WINDOW_POST_LIMIT => recent
                .iter()
                .filter(|p| p.published_at >= start && p.published_at < now)
                .cloned()
                .collect(),
            _ => store
                .window_posts(&rule.brand, start, now, WINDOW_POST_LIMIT)
                .map_err(store_error("window_posts"))?,
        };
        if posts.len() >= WINDOW_POST_LIMIT {
            tracing::warn!(rule = %rule.name, brand = %rule.brand, limit = WINDOW_POST_LIMIT, "window holds more posts than are read; counting the limit");
        }
        let posts = match (&rule.query, rule.kind) {
            (Some(query), kind) if kind != RuleKind::Keyword => filter(posts, query),
            _ => posts,
        };
        let window = Window {
            now,
            text: window_text,
        };
        match rule.kind {
            RuleKind::NegativeShare => Ok(self.negative_share(posts, &window)),
            RuleKind::VolumeSpike => self.volume_spike(store, posts, &window, cache),
            RuleKind::Keyword => Ok(self.keyword(posts, &window)),
            RuleKind::SentimentDrop => self.sentiment_drop(store, posts, &window, cache),
        }
    }

    fn negative_share(&self, posts: Vec<EvidencePost>, window: &Window) -> Measurement {
        let rule = &self.config;
        // Posts the classifier has not reached yet are left out: counting them as
        // "not negative" would hide a crisis while the classifier catches up.
        let labelled = posts.iter().filter(|p| p.label.is_some()).count() as u64;
        let negative = posts
            .iter()
            .filter(|p| p.label == Some(Label::Negative))
            .count() as u64;
        let share = if labelled == 0 {
            0.0
        } else {
            negative as f64 / labelled as f64
        };
        let enough = labelled >= rule.min_mentions;
        let fired = enough && share >= rule.threshold;
        let explanation = format!(
            "{}% of {} {} mentions {} were negative (threshold {}%).",
            percent(share),
            labelled,
            rule.brand,
            window.text,
            percent(rule.threshold)
        );
        Measurement {
            fired,
            value: share,
            threshold: rule.threshold,
            baseline: None,
            mentions: posts.len() as u64,
            explanation,
            not_fired_reason: (!enough).then(|| {
                format!(
                    "only {labelled} classified mentions, below the floor of {}",
                    rule.min_mentions
                )
            }),
            evidence: evidence(posts),
        }
    }

    fn volume_spike<S: AlertStore>(
        &self,
        store: &S,
        posts: Vec<EvidencePost>,
        window: &Window,
        cache: bool,
    ) -> Result<Measurement> {
        let rule = &self.config;
        let count = posts.len() as u64;
        let baseline_to = self.baseline_end(window.now);
        let baseline_from = baseline_to - self.baseline;
        let bucket_secs = self.window.num_seconds().max(1) as u64;
        let counts = self.baseline_figures(baseline_to, cache, || {
            Ok(match &rule.query {
                // The store counts every post of the brand; a filtered rule must count
                // the same posts in its baseline as in its window.
                Some(query) => {
                    let baseline_posts = filter(
                        read_baseline_posts(store, rule, baseline_from, baseline_to)?,
                        query,
                    );
                    bucketize(&baseline_posts, baseline_from, baseline_to, self.window)
                        .iter()
                        .map(|bucket| bucket.len() as f64)
                        .collect()
                }
                None => store
                    .bucket_counts(&rule.brand, baseline_from, baseline_to, bucket_secs)
                    .map_err(store_error("bucket_counts"))?
                    .into_iter()
                    .map(|c| c as f64)
                    .collect(),
            })
        })?;
        let (mean, std) = mean_std(&counts);
        let threshold = mean + rule.sigma * std;
        let enough = count >= rule.min_mentions;
        let fired = enough && count as f64 > threshold;
        let explanation = format!(
            "{} {} mentions {}, against a {} baseline of {:.1} ± {:.1} per {} (fires above {:.1}, {} standard deviations).",
            count,
            rule.brand,
            window.text,
            format_duration(rule.baseline),
            mean,
            std,
            format_duration(rule.window),
            threshold,
            rule.sigma
        );
        Ok(Measurement {
            fired,
            value: count as f64,
            threshold,
            baseline: Some(mean),
            mentions: count,
            explanation,
            not_fired_reason: (!enough).then(|| {
                format!(
                    "only {count} mentions, below the floor of {}",
                    rule.min_mentions
                )
            }),
            evidence: evidence(posts),
        })
    }

    /// Any match fires: a keyword rule watches for words like "recall" that matter at
    /// the first mention, so `min_mentions` does not apply.
    fn keyword(&self, posts: Vec<EvidencePost>, window: &Window) -> Measurement {
        let rule = &self.config;
        let mentions = posts.len() as u64;
        let matching = match &rule.query {
            Some(query) => filter(posts, query),
            None => Vec::new(),
        };
        let count = matching.len() as u64;
        let query_text = rule.query_text.clone().unwrap_or_default();
        let explanation = format!(
            "{} {} mention{} {} matched the keyword query {:?}.",
            count,
            rule.brand,
            if count == 1 { "" } else { "s" },
            window.text,
            query_text
        );
        Measurement {
            fired: count >= 1,
            value: count as f64,
            threshold: 1.0,
            baseline: None,
            mentions,
            explanation,
            not_fired_reason: rule
                .query
                .is_none()
                .then(|| "keyword rule has no query".to_string()),
            evidence: evidence(matching),
        }
    }

    /// Mean score in the window against the mean and spread of per-bucket mean scores
    /// over the baseline (buckets the size of the window; empty buckets are skipped).
    fn sentiment_drop<S: AlertStore>(
        &self,
        store: &S,
        posts: Vec<EvidencePost>,
        window: &Window,
        cache: bool,
    ) -> Result<Measurement> {
        let rule = &self.config;
        let scores: Vec<f64> = posts
            .iter()
            .filter_map(|p| p.score)
            .map(f64::from)
            .collect();
        let scored = scores.len() as u64;
        let window_mean = mean_std(&scores).0;
        let baseline_to = self.baseline_end(window.now);
        let baseline_from = baseline_to - self.baseline;
        let bucket_means = self.baseline_figures(baseline_to, cache, || {
            let mut baseline_posts = read_baseline_posts(store, rule, baseline_from, baseline_to)?;
            if let Some(query) = &rule.query {
                baseline_posts = filter(baseline_posts, query);
            }
            Ok(
                bucketize(&baseline_posts, baseline_from, baseline_to, self.window)
                    .iter()
                    .filter_map(|bucket| {
                        let bucket_scores: Vec<f64> = bucket
                            .iter()
                            .filter_map(|p| p.score)
                            .map(f64::from)
                            .collect();
                        (!bucket_scores.is_empty()).then(|| mean_std(&bucket_scores).0)
                    })
                    .collect(),
            )
        })?;
        let (baseline_mean, std) = mean_std(&bucket_means);
        let threshold = baseline_mean - rule.sigma * std;
        let enough = scored >= rule.min_mentions;
        let has_baseline = !bucket_means.is_empty();
        let fired = enough && has_baseline && window_mean < threshold;
        let explanation = format!(
            "The mean sentiment of {} {} mentions {} was {:+.2}, against a {} baseline of {:+.2} ± {:.2} (fires below {:+.2}, {} standard deviations).",
            scored,
            rule.brand,
            window.text,
            window_mean,
            format_duration(rule.baseline),
            baseline_mean,
            std,
            threshold,
            rule.sigma
        );
        let not_fired_reason = if !has_baseline {
            Some("no scored posts in the baseline period yet".to_string())
        } else if !enough {
            Some(format!(
                "only {scored} scored mentions, below the floor of {}",
                rule.min_mentions
            ))
        } else {
            None
        };
        Ok(Measurement {
            fired,
            value: window_mean,
            threshold,
            baseline: has_baseline.then_some(baseline_mean),
            mentions: posts.len() as u64,
            explanation,
            not_fired_reason,
            evidence: evidence(posts),
        })
    }
}

struct Window {
    now: DateTime<Utc>,
    /// "in the last 1h", or "since … was resolved at …" when clamped.
    text: String,
}

fn read_baseline_posts<S: AlertStore>(
    store: &S,
    rule: &RuleConfig,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<EvidencePost>> {
    let posts = store
        .window_posts(&rule.brand, from, to, BASELINE_POST_LIMIT)
        .map_err(store_error("window_posts"))?;
    if posts.len() >= BASELINE_POST_LIMIT {
        tracing::warn!(rule = %rule.name, brand = %rule.brand, limit = BASELINE_POST_LIMIT, "baseline holds more posts than are read; the oldest are left out");
    }
    Ok(posts)
}

fn filter(posts: Vec<EvidencePost>, query: &Query) -> Vec<EvidencePost> {
    posts.into_iter().filter(|p| p.matches(query)).collect()
}

/// Splits `[from, to)` into buckets of `size` that end at `to - k·size`, like
/// [`AlertStore::bucket_counts`]; a partial bucket at the start is dropped. Oldest first.
pub(crate) fn bucketize(
    posts: &[EvidencePost],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    size: TimeDelta,
) -> Vec<Vec<&EvidencePost>> {
    let size_ms = size.num_milliseconds();
    let span_ms = (to - from).num_milliseconds();
    if size_ms <= 0 || span_ms < size_ms {
        return Vec::new();
    }
    let count = (span_ms / size_ms) as usize;
    let first_start = to - TimeDelta::milliseconds(size_ms * count as i64);
    let mut buckets = vec![Vec::new(); count];
    for post in posts {
        if post.published_at < first_start || post.published_at >= to {
            continue;
        }
        let index = ((post.published_at - first_start).num_milliseconds() / size_ms) as usize;
        if let Some(bucket) = buckets.get_mut(index) {
            bucket.push(post);
        }
    }
    buckets
}

/// Mean and population standard deviation; `(0, 0)` for no values.
pub(crate) fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, variance.sqrt())
}

/// Most negative first (unscored last), then newest; text cut for a mail.
fn evidence(mut posts: Vec<EvidencePost>) -> Vec<EvidencePost> {
    posts.sort_by(|a, b| {
        let score_a = a.score.map_or(f32::INFINITY, |s| s);
        let score_b = b.score.map_or(f32::INFINITY, |s| s);
        score_a
            .total_cmp(&score_b)
            .then(b.published_at.cmp(&a.published_at))
    });
    posts.truncate(EVIDENCE_POSTS);
    for post in &mut posts {
        post.text = truncate_chars(&post.text, EVIDENCE_TEXT_CHARS);
    }
    posts
}

fn percent(share: f64) -> String {
    let pct = share * 100.0;
    if (pct - pct.round()).abs() < 0.05 {
        format!("{pct:.0}")
    } else {
        format!("{pct:.1}")
    }
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &str, at: DateTime<Utc>, score: Option<f32>) -> EvidencePost {
        EvidencePost {
            id: id.into(),
            url: None,
            source: "test".into(),
            author: None,
            published_at: at,
            text: "x".repeat(400),
            label: None,
            score,
        }
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn mean_std_is_population() {
        let (mean, std) = mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(mean, 5.0);
        assert_eq!(std, 2.0);
        assert_eq!(mean_std(&[]), (0.0, 0.0));
    }

    #[test]
    fn buckets_end_at_to_and_drop_partial_start() {
        let posts = vec![
            post("before", t(0), None),
            post("b0", t(150), None),
            post("b1", t(250), None),
            post("b1-end", t(299), None),
            post("at-to", t(300), None),
        ];
        // [50, 300) in buckets of 100 → [100,200) [200,300); [50,100) is partial.
        let buckets = bucketize(&posts, t(50), t(300), TimeDelta::seconds(100));
        let ids: Vec<Vec<&str>> = buckets
            .iter()
            .map(|b| b.iter().map(|p| p.id.as_str()).collect())
            .collect();
        assert_eq!(ids, vec![vec!["b0"], vec!["b1", "b1-end"]]);
    }

    #[test]
    fn evidence_most_negative_then_newest_and_truncated() {
        let posts = vec![
            post("unscored", t(5), None),
            post("mild-old", t(1), Some(-0.2)),
            post("mild-new", t(2), Some(-0.2)),
            post("worst", t(0), Some(-0.9)),
        ];
        let picked = evidence(posts);
        let ids: Vec<&str> = picked.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, vec!["worst", "mild-new", "mild-old", "unscored"]);
        assert_eq!(picked[0].text.chars().count(), EVIDENCE_TEXT_CHARS + 1);
    }

    #[test]
    fn percent_drops_needless_decimals() {
        assert_eq!(percent(0.4), "40");
        assert_eq!(percent(0.4237), "42.4");
    }
}
