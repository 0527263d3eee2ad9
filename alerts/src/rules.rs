//! Rule maths: what each rule kind measures over its window, and whether it fires.
//! Pure apart from reading the store, so the summary can re-measure a rule at the
//! moment an incident opened and now.

use chrono::{DateTime, TimeDelta, Utc};
use vigil_config::{RuleConfig, RuleKind, Seasonality};
use vigil_core::text::thousands;
use vigil_core::time::format_duration;
use vigil_core::{AlertStore, EvidencePost, Label, Query, TriggerContext};

use crate::context::{Vocabulary, evidence};
use crate::error::{Result, store_error};

/// Posts read for one window. A window holding more than this is counted as this many
/// (logged): far past any threshold a rule could have.
pub(crate) const WINDOW_POST_LIMIT: usize = 100_000;
/// Posts read for a baseline computed from posts rather than bucket counts
/// (sentiment_drop, and volume_spike with a query filter).
const BASELINE_POST_LIMIT: usize = 500_000;

/// A rule with its durations converted once, at engine construction.
#[derive(Debug)]
pub(crate) struct Rule {
    pub config: RuleConfig,
    pub window: TimeDelta,
    pub baseline: TimeDelta,
    /// Baseline figures per window-sized bucket (`volume_spike`: mentions;
    /// `sentiment_drop`: mean score, `None` for a bucket without scored posts), kept
    /// between evaluations. See [`Rule::baseline_buckets`].
    pub baseline_cache: std::sync::Mutex<BucketCache>,
    /// The brand's own terms, left out of the top terms.
    pub vocabulary: Vocabulary,
    /// The brand's `language` is Chinese: explanations are written in Chinese, like the
    /// rest of its mail.
    pub chinese: bool,
    /// The last context computed, by a fingerprint of its posts' ids and reach.
    context_cache: std::sync::Mutex<Option<(u64, TriggerContext)>>,
}

impl Rule {
    pub fn new(
        config: RuleConfig,
        window: TimeDelta,
        baseline: TimeDelta,
        vocabulary: Vocabulary,
        chinese: bool,
    ) -> Rule {
        Rule {
            config,
            window,
            baseline,
            baseline_cache: std::sync::Mutex::default(),
            vocabulary,
            context_cache: std::sync::Mutex::default(),
            chinese,
        }
    }

    /// What `posts` are about, remembered for the same posts: a firing rule is measured
    /// every tick, and its window mostly holds the same posts from one tick to the next.
    fn context_of(&self, posts: &[EvidencePost]) -> TriggerContext {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for post in posts {
            post.id.hash(&mut hasher);
            post.reach.hash(&mut hasher);
        }
        let key = hasher.finish();
        let mut cached = self
            .context_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((cached_key, context)) = cached.as_ref()
            && *cached_key == key
        {
            return context.clone();
        }
        let context = self.vocabulary.context(posts);
        *cached = Some((key, context.clone()));
        context
    }

    /// The evidence posts, and when the rule fired, what its posts are about: the
    /// negative ones when `negative_focus` and there are any, else all of them.
    fn findings(
        &self,
        posts: Vec<EvidencePost>,
        fired: bool,
        negative_focus: bool,
    ) -> (Vec<EvidencePost>, TriggerContext) {
        let context = if fired {
            let negative: Vec<EvidencePost> = if negative_focus {
                posts
                    .iter()
                    .filter(|p| p.label == Some(Label::Negative))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            self.context_of(if negative.is_empty() {
                &posts
            } else {
                &negative
            })
        } else {
            TriggerContext::default()
        };
        (evidence(posts), context)
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

    /// The figures of the baseline's buckets ending at `to` (oldest first), each with
    /// its start. Baselines end on a whole window, so consecutive evaluations share
    /// one; when it moves on by a window only the new buckets are computed, plus the
    /// newest [`REFRESHED_BUCKETS`] again for posts that arrived late. With
    /// `cache = false` (a summary looking back) everything is computed afresh.
    /// `compute(from, to)` returns one figure per window-sized bucket of `[from, to)`.
    fn baseline_buckets(
        &self,
        to: DateTime<Utc>,
        cache: bool,
        compute: impl FnOnce(DateTime<Utc>, DateTime<Utc>) -> Result<Vec<Option<f64>>>,
    ) -> Result<Vec<(DateTime<Utc>, Option<f64>)>> {
        let size = self.window;
        let count = bucket_count(self.baseline, size);
        let starts: Vec<DateTime<Utc>> = (1..=count as i32).rev().map(|k| to - size * k).collect();
        let Some(&first) = starts.first() else {
            return Ok(Vec::new());
        };
        let stored = |from: DateTime<Utc>, figures: Vec<Option<f64>>| {
            starts
                .iter()
                .filter(|start| **start >= from)
                .copied()
                .zip(figures.into_iter().chain(std::iter::repeat(None)))
                .collect::<Vec<_>>()
        };
        if !cache {
            return Ok(stored(first, compute(first, to)?));
        }
        let mut cached = self
            .baseline_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cached.end != Some(to) {
            // The oldest bucket missing, or else the oldest one to refresh.
            let refresh_from = starts[starts.len().saturating_sub(REFRESHED_BUCKETS)];
            let from = starts
                .iter()
                .copied()
                .find(|start| !cached.figures.contains_key(start))
                .map_or(refresh_from, |missing| missing.min(refresh_from));
            let fresh = stored(from, compute(from, to)?);
            cached
                .figures
                .retain(|start, _| *start >= first && *start < from);
            cached.figures.extend(fresh);
            cached.end = Some(to);
        }
        Ok(starts
            .iter()
            .map(|start| (*start, cached.figures.get(start).copied().flatten()))
            .collect())
    }

    /// Which baseline buckets the window is compared with, by `seasonality`: all of
    /// them, or those at the same time of day or week as the window's own bucket
    /// (the one starting at `to`, the baseline's end). Also says which, for the
    /// explanation.
    fn seasonal(
        &self,
        buckets: &[(DateTime<Utc>, Option<f64>)],
        to: DateTime<Utc>,
        seasonality: Seasonality,
    ) -> (Vec<Option<f64>>, &'static str) {
        let period = match seasonality {
            Seasonality::Daily => TimeDelta::days(1),
            Seasonality::Weekly => TimeDelta::weeks(1),
            Seasonality::Auto | Seasonality::None => {
                return (buckets.iter().map(|(_, f)| *f).collect(), "");
            }
        };
        let period_ms = period.num_milliseconds();
        let chosen = buckets
            .iter()
            .filter(|(start, _)| (to - *start).num_milliseconds() % period_ms == 0)
            .map(|(_, f)| *f)
            .collect();
        let what = if seasonality == Seasonality::Daily {
            "at the same time of day"
        } else {
            "at the same time of week"
        };
        (chosen, what)
    }

    /// `auto` resolved for this rule: `volume_spike` compares with the same time of
    /// week when the baseline holds three weeks, else of day when it holds three days
    /// (the window must divide the period); `sentiment_drop` with every window.
    fn seasonality(&self) -> Seasonality {
        let rule = &self.config;
        if rule.seasonality != Seasonality::Auto {
            return rule.seasonality;
        }
        if rule.kind != RuleKind::VolumeSpike {
            return Seasonality::None;
        }
        let fits = |period: TimeDelta| {
            let w = self.window.num_milliseconds();
            w > 0
                && w < period.num_milliseconds()
                && period.num_milliseconds() % w == 0
                && self.baseline >= period * 3
        };
        if fits(TimeDelta::weeks(1)) {
            Seasonality::Weekly
        } else if fits(TimeDelta::days(1)) {
            Seasonality::Daily
        } else {
            Seasonality::None
        }
    }
}

/// Baseline buckets computed again each time the baseline moves on, for posts that
/// are stored after the bucket was first counted (a feed read every few minutes).
pub(crate) const REFRESHED_BUCKETS: usize = 2;

/// See [`Rule::baseline_buckets`].
#[derive(Debug, Default)]
pub(crate) struct BucketCache {
    /// The baseline end the figures were last brought up to date for.
    end: Option<DateTime<Utc>>,
    figures: std::collections::BTreeMap<DateTime<Utc>, Option<f64>>,
}

/// Whole windows in a baseline.
fn bucket_count(baseline: TimeDelta, window: TimeDelta) -> usize {
    let w = window.num_milliseconds();
    if w <= 0 {
        return 0;
    }
    (baseline.num_milliseconds() / w).max(0) as usize
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
    /// What the posts are about; filled in only when the rule fired.
    pub context: TriggerContext,
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
        let last_resolved = store
            .last_resolved_at(&self.config.name, &self.config.brand)
            .map_err(store_error("last_resolved_at"))?;
        self.measure_with(store, now, false, None, last_resolved)
    }

    /// [`Rule::measure`] for the evaluation loop: the cached baseline when it still
    /// applies, the brand's posts of `[now - span, now)` already read (`span` at least
    /// this rule's window; every rule of the brand shares one read), and the last
    /// resolution of `(rule, brand)` as read for the whole tick.
    pub fn measure_cached<S: AlertStore>(
        &self,
        store: &S,
        now: DateTime<Utc>,
        recent: &[EvidencePost],
        last_resolved: Option<DateTime<Utc>>,
    ) -> Result<Measurement> {
        self.measure_with(store, now, true, Some(recent), last_resolved)
    }

    fn measure_with<S: AlertStore>(
        &self,
        store: &S,
        now: DateTime<Utc>,
        cache: bool,
        recent: Option<&[EvidencePost]>,
        last_resolved: Option<DateTime<Utc>>,
    ) -> Result<Measurement> {
        let rule = &self.config;
        let mut start = now - self.window;
        let mut window_text = if self.chinese {
            format!("过去 {}", format_duration(rule.window))
        } else {
            format!("in the last {}", format_duration(rule.window))
        };
        if let Some(resolved) = last_resolved
            && resolved > start
        {
            start = resolved.min(now);
            window_text = if self.chinese {
                format!("自上一事件于 {} 解决以来", rfc3339(resolved))
            } else {
                format!(
                    "since the previous incident was resolved at {}",
                    rfc3339(resolved)
                )
            };
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
            RuleKind::Influencer => Ok(self.influencer(posts, &window)),
        }
    }

    /// Negative posts whose reach is at least the threshold; `min_mentions` of them
    /// fire (default 1). The value is the largest such reach.
    fn influencer(&self, posts: Vec<EvidencePost>, window: &Window) -> Measurement {
        let rule = &self.config;
        let mentions = posts.len() as u64;
        let mut loud: Vec<EvidencePost> = posts
            .into_iter()
            .filter(|p| {
                p.label == Some(Label::Negative)
                    && p.reach.is_some_and(|reach| reach as f64 >= rule.threshold)
            })
            .collect();
        loud.sort_by(|a, b| {
            b.reach
                .cmp(&a.reach)
                .then(b.published_at.cmp(&a.published_at))
        });
        let count = loud.len() as u64;
        let top = loud.first().map(|p| p.reach.unwrap_or(0)).unwrap_or(0);
        let explanation = match loud.first() {
            Some(post) if self.chinese => {
                let by = post
                    .author
                    .as_deref()
                    .map(|author| format!("由 {author} 发布、"))
                    .unwrap_or_default();
                if count == 1 {
                    format!(
                        "{}，{} 上一条{by}关于 {} 的负面提及触达 {}（得分 + 点赞 + 转发 + 评论），阈值 {}。",
                        window.text,
                        post.source,
                        rule.brand,
                        thousands(top),
                        thousands(rule.threshold as i64)
                    )
                } else {
                    format!(
                        "{}，{count} 条关于 {} 的负面提及触达至少 {}（得分 + 点赞 + 转发 + 评论）；最高 {}（{}{}）。",
                        window.text,
                        rule.brand,
                        thousands(rule.threshold as i64),
                        thousands(top),
                        post.source,
                        post.author
                            .as_deref()
                            .map(|author| format!("，{author}"))
                            .unwrap_or_default()
                    )
                }
            }
            None if self.chinese => format!(
                "{}，没有关于 {} 的负面提及触达 {}（得分 + 点赞 + 转发 + 评论）。",
                window.text,
                rule.brand,
                thousands(rule.threshold as i64)
            ),
            Some(post) => {
                let by = post
                    .author
                    .as_deref()
                    .map(|author| format!(" by {author}"))
                    .unwrap_or_default();
                if count == 1 {
                    format!(
                        "A negative {} mention{by} on {} reached {} (votes + likes + reposts + replies) {} (threshold {}).",
                        rule.brand,
                        post.source,
                        thousands(top),
                        window.text,
                        thousands(rule.threshold as i64)
                    )
                } else {
                    format!(
                        "{count} negative {} mentions {} reached at least {} (votes + likes + reposts + replies); the largest, {}{by} on {}.",
                        rule.brand,
                        window.text,
                        thousands(rule.threshold as i64),
                        thousands(top),
                        post.source
                    )
                }
            }
            None => format!(
                "No negative {} mention {} reached {} (votes + likes + reposts + replies).",
                rule.brand,
                window.text,
                thousands(rule.threshold as i64)
            ),
        };
        let enough = count >= rule.min_mentions.max(1);
        let (evidence, context) = self.findings(loud, enough, false);
        Measurement {
            fired: enough,
            value: top as f64,
            threshold: rule.threshold,
            baseline: None,
            mentions,
            explanation,
            not_fired_reason: (count > 0 && !enough).then(|| {
                format!(
                    "only {count} such posts, below the floor of {}",
                    rule.min_mentions
                )
            }),
            evidence,
            context,
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
        let explanation = if self.chinese {
            format!(
                "{}，{} 的 {} 条已分类提及中 {}% 为负面（阈值 {}%）。",
                window.text,
                rule.brand,
                labelled,
                percent(share),
                percent(rule.threshold)
            )
        } else {
            format!(
                "{}% of {} {} mentions {} were negative (threshold {}%).",
                percent(share),
                labelled,
                rule.brand,
                window.text,
                percent(rule.threshold)
            )
        };
        let mentions = posts.len() as u64;
        let (evidence, context) = self.findings(posts, fired, true);
        Measurement {
            fired,
            value: share,
            threshold: rule.threshold,
            baseline: None,
            mentions,
            explanation,
            not_fired_reason: (!enough).then(|| {
                format!(
                    "only {labelled} classified mentions, below the floor of {}",
                    rule.min_mentions
                )
            }),
            evidence,
            context,
        }
    }

    /// Mentions per bucket of `[from, to)`, counting the posts the rule counts in its
    /// window (a filtered rule counts only matching posts).
    fn count_buckets<S: AlertStore>(
        &self,
        store: &S,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Option<f64>>> {
        let rule = &self.config;
        Ok(match &rule.query {
            Some(query) => {
                let posts = filter(read_baseline_posts(store, rule, from, to)?, query);
                bucketize(&posts, from, to, self.window)
                    .iter()
                    .map(|bucket| Some(bucket.len() as f64))
                    .collect()
            }
            None => store
                .bucket_counts(
                    &rule.brand,
                    from,
                    to,
                    self.window.num_seconds().max(1) as u64,
                )
                .map_err(store_error("bucket_counts"))?
                .into_iter()
                .map(|c| Some(c as f64))
                .collect(),
        })
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
        let buckets = self.baseline_buckets(baseline_to, cache, |from, to| {
            self.count_buckets(store, from, to)
        })?;
        let (chosen, which) = self.seasonal(&buckets, baseline_to, self.seasonality());
        let counts: Vec<f64> = chosen.into_iter().map(|c| c.unwrap_or(0.0)).collect();
        let (mean, std) = mean_std(&counts);
        let threshold = mean + rule.sigma * std;
        let enough = count >= rule.min_mentions;
        let mut fired = enough && count as f64 > threshold;
        let mut explanation = if self.chinese {
            let compared = match which {
                "" => String::new(),
                which if which.ends_with("day") => {
                    format!("，取每天同一时段（{} 个窗口）", counts.len())
                }
                _ => format!("，取每周同一时段（{} 个窗口）", counts.len()),
            };
            format!(
                "{}，{} 共有 {} 条提及；过去 {} 的基线为每 {} {:.1} ± {:.1}{}（超过 {:.1} 即触发，{} 个标准差）。",
                window.text,
                rule.brand,
                count,
                format_duration(rule.baseline),
                format_duration(rule.window),
                mean,
                std,
                compared,
                threshold,
                rule.sigma
            )
        } else {
            let compared = if which.is_empty() {
                format!("per {}", format_duration(rule.window))
            } else {
                format!(
                    "per {} {which} ({} windows)",
                    format_duration(rule.window),
                    counts.len()
                )
            };
            format!(
                "{} {} mentions {}, against a {} baseline of {:.1} ± {:.1} {} (fires above {:.1}, {} standard deviations).",
                count,
                rule.brand,
                window.text,
                format_duration(rule.baseline),
                mean,
                std,
                compared,
                threshold,
                rule.sigma
            )
        };
        let mut not_fired_reason = (!enough).then(|| {
            format!(
                "only {count} mentions, below the floor of {}",
                rule.min_mentions
            )
        });
        if fired && !rule.confirm.is_empty() {
            let (confirmed, text, reason) = self.confirm(store, count, window.now)?;
            fired = confirmed;
            if !self.chinese {
                explanation.push(' ');
            }
            explanation.push_str(&text);
            not_fired_reason = reason;
        }
        let (evidence, context) = self.findings(posts, fired, false);
        Ok(Measurement {
            fired,
            value: count as f64,
            threshold,
            baseline: Some(mean),
            mentions: count,
            explanation,
            not_fired_reason,
            evidence,
            context,
        })
    }

    /// `confirm`: the window's count against the same window `offset` earlier (same
    /// hour yesterday, last week), each needing `count >= confirm_ratio × then`.
    /// Returns whether every one holds, a sentence for the explanation, and why not.
    fn confirm<S: AlertStore>(
        &self,
        store: &S,
        count: u64,
        now: DateTime<Utc>,
    ) -> Result<(bool, String, Option<String>)> {
        let rule = &self.config;
        let mut parts = Vec::new();
        let mut failed = Vec::new();
        for offset in &rule.confirm {
            let offset = TimeDelta::from_std(*offset).unwrap_or(TimeDelta::MAX);
            let Some(end) = now.checked_sub_signed(offset) else {
                continue;
            };
            let then: f64 = self
                .count_buckets(store, end - self.window, end)?
                .into_iter()
                .flatten()
                .sum();
            let name = match offset.num_seconds() {
                86_400 => "yesterday".to_string(),
                604_800 => "last week".to_string(),
                _ => format!(
                    "{} earlier",
                    format_duration(offset.to_std().unwrap_or_default())
                ),
            };
            if self.chinese {
                let name_zh = match offset.num_seconds() {
                    86_400 => "昨天".to_string(),
                    604_800 => "上周".to_string(),
                    _ => format!(
                        "{} 前",
                        format_duration(offset.to_std().unwrap_or_default())
                    ),
                };
                parts.push(format!("{name_zh} {then:.0} 条"));
            } else {
                parts.push(format!("{then:.0} {name}"));
            }
            if (count as f64) < rule.confirm_ratio * then {
                failed.push(format!(
                    "{count} is less than {}× the {then:.0} mentions of the same window {name}",
                    rule.confirm_ratio
                ));
            }
        }
        let text = if self.chinese {
            format!(
                "同一窗口：{}（每项需达 {} 倍）。",
                parts.join("、"),
                rule.confirm_ratio
            )
        } else {
            format!(
                "Same window: {} (confirmation needs {}× each).",
                parts.join(", "),
                rule.confirm_ratio
            )
        };
        let confirmed = failed.is_empty();
        Ok((confirmed, text, (!confirmed).then(|| failed.join("; "))))
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
        let explanation = if self.chinese {
            format!(
                "{}，{} 有 {} 条提及命中关键词查询 {:?}。",
                window.text, rule.brand, count, query_text
            )
        } else {
            format!(
                "{} {} mention{} {} matched the keyword query {:?}.",
                count,
                rule.brand,
                if count == 1 { "" } else { "s" },
                window.text,
                query_text
            )
        };
        let (evidence, context) = self.findings(matching, count >= 1, false);
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
            evidence,
            context,
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
        let buckets = self.baseline_buckets(baseline_to, cache, |from, to| {
            let mut baseline_posts = read_baseline_posts(store, rule, from, to)?;
            if let Some(query) = &rule.query {
                baseline_posts = filter(baseline_posts, query);
            }
            Ok(bucketize(&baseline_posts, from, to, self.window)
                .iter()
                .map(|bucket| {
                    let bucket_scores: Vec<f64> = bucket
                        .iter()
                        .filter_map(|p| p.score)
                        .map(f64::from)
                        .collect();
                    (!bucket_scores.is_empty()).then(|| mean_std(&bucket_scores).0)
                })
                .collect())
        })?;
        // Buckets without scored posts are skipped.
        let bucket_means: Vec<f64> = self
            .seasonal(&buckets, baseline_to, self.seasonality())
            .0
            .into_iter()
            .flatten()
            .collect();
        let (baseline_mean, std) = mean_std(&bucket_means);
        let threshold = baseline_mean - rule.sigma * std;
        let enough = scored >= rule.min_mentions;
        let has_baseline = !bucket_means.is_empty();
        let fired = enough && has_baseline && window_mean < threshold;
        let explanation = if self.chinese {
            format!(
                "{}，{} 的 {} 条已评分提及平均情感为 {:+.2}；过去 {} 的基线为 {:+.2} ± {:.2}（低于 {:+.2} 即触发，{} 个标准差）。",
                window.text,
                rule.brand,
                scored,
                window_mean,
                format_duration(rule.baseline),
                baseline_mean,
                std,
                threshold,
                rule.sigma
            )
        } else {
            format!(
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
            )
        };
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
        let mentions = posts.len() as u64;
        let (evidence, context) = self.findings(posts, fired, true);
        Ok(Measurement {
            fired,
            value: window_mean,
            threshold,
            baseline: has_baseline.then_some(baseline_mean),
            mentions,
            explanation,
            not_fired_reason,
            evidence,
            context,
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
            reach: None,
            lang: None,
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
    fn percent_drops_needless_decimals() {
        assert_eq!(percent(0.4), "40");
        assert_eq!(percent(0.4237), "42.4");
    }
}
