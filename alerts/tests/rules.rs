//! Each rule kind firing and staying quiet on constructed windows, and the incident
//! lifecycle around firings.

mod support;

use chrono::Timelike;
use support::*;
use vigil_alerts::AlertEngine;
use vigil_config::RuleKind;
use vigil_core::{AlertStore, IncidentStatus, Label, NotificationKind};

fn engine(rule: vigil_config::RuleConfig) -> AlertEngine {
    AlertEngine::new(&config(vec![rule])).unwrap()
}

/// `n_neg` negative and `n_pos` positive posts spread over the 50 minutes before `now`.
fn mixed(store: &MemStore, now: chrono::DateTime<chrono::Utc>, n_neg: usize, n_pos: usize) {
    for i in 0..n_neg {
        store.add(
            "Acme",
            negative(&format!("n{i}"), now - minutes(1 + i as i64)),
        );
    }
    for i in 0..n_pos {
        store.add(
            "Acme",
            positive(&format!("p{i}"), now - minutes(2 + i as i64)),
        );
    }
}

#[test]
fn negative_share_fires_at_threshold_and_explains() {
    let store = MemStore::new();
    mixed(&store, t0(), 4, 6);
    // Outside the window, other brands and unclassified posts do not count.
    store.add("Acme", positive("old", t0() - minutes(61)));
    store.add("Other", negative("other", t0() - minutes(5)));
    store.add(
        "Acme",
        post("unscored", t0() - minutes(3), "Acme?", None, None),
    );

    let outcomes = engine(rule("neg", RuleKind::NegativeShare))
        .evaluate(&store, t0())
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    let outcome = &outcomes[0];
    assert!(outcome.fired && outcome.opened, "{outcome:?}");
    assert!((outcome.value - 0.4).abs() < 1e-9);
    let incident = store.incident(outcome.incident_id.unwrap());
    assert_eq!(incident.status, IncidentStatus::Open);
    assert_eq!(incident.trigger.metric, "negative_share");
    assert_eq!(incident.trigger.mentions, 11);
    assert_eq!(
        incident.trigger.explanation,
        "40% of 10 Acme mentions in the last 1h were negative (threshold 40%)."
    );
    assert_eq!(incident.response_deadline, t0() + hours(24));
    // Negative first, only in-window posts of the brand, and the posts with the same
    // text collapsed into one each (negative, positive, unscored).
    let labels: Vec<Option<Label>> = incident.evidence.iter().map(|p| p.label).collect();
    assert_eq!(
        labels,
        [Some(Label::Negative), Some(Label::Positive), None],
        "{:?}",
        incident.evidence
    );
    assert!(
        incident
            .evidence
            .iter()
            .all(|p| p.id != "old" && p.id != "other")
    );
}

#[test]
fn negative_share_below_threshold_does_not_fire() {
    let store = MemStore::new();
    mixed(&store, t0(), 3, 7);
    let outcome = &engine(rule("neg", RuleKind::NegativeShare))
        .evaluate(&store, t0())
        .unwrap()[0];
    assert!(!outcome.fired);
    assert!(store.all_incidents().is_empty());
}

#[test]
fn negative_share_respects_min_mentions_floor() {
    let store = MemStore::new();
    mixed(&store, t0(), 4, 0); // 100% negative, but only 4 < min_mentions 5
    let outcome = &engine(rule("neg", RuleKind::NegativeShare))
        .evaluate(&store, t0())
        .unwrap()[0];
    assert!(!outcome.fired);
    assert!(
        outcome.detail.contains("below the floor of 5"),
        "{}",
        outcome.detail
    );
    store.add("Acme", negative("fifth", t0() - minutes(30)));
    assert!(
        engine(rule("neg", RuleKind::NegativeShare))
            .evaluate(&store, t0())
            .unwrap()[0]
            .fired
    );
}

#[test]
fn rule_query_filters_posts_for_non_keyword_kinds() {
    let store = MemStore::new();
    for i in 0..5 {
        store.add(
            "Acme",
            post(
                &format!("t{i}"),
                t0() - minutes(5 + i),
                "Acme toaster is awful",
                Some(Label::Negative),
                Some(-0.8),
            ),
        );
    }
    mixed(&store, t0(), 0, 10); // positive kettle posts
    let unfiltered = engine(rule("neg", RuleKind::NegativeShare));
    assert!(
        !unfiltered.evaluate(&store, t0()).unwrap()[0].fired,
        "5/15 = 33% < 40%"
    );
    let filtered = engine(with_query(
        rule("toaster-neg", RuleKind::NegativeShare),
        "toaster",
    ));
    let outcome = &filtered.evaluate(&store, t0()).unwrap()[0];
    assert!(outcome.fired, "{outcome:?}");
    assert_eq!(outcome.value, 1.0);
}

/// Baseline buckets (1h each, 4h before the window): 2, 4, 4, 6 → mean 4,
/// population std √2; threshold with sigma 2 = 4 + 2√2 ≈ 6.83.
fn spike_store(window_count: usize) -> MemStore {
    let store = MemStore::new();
    let window_start = t0() - hours(1);
    for (bucket, count) in [2usize, 4, 4, 6].iter().enumerate() {
        let bucket_start = window_start - hours(4 - bucket as i64);
        for i in 0..*count {
            store.add(
                "Acme",
                positive(
                    &format!("b{bucket}-{i}"),
                    bucket_start + minutes(5 * i as i64 + 1),
                ),
            );
        }
    }
    // Older than the baseline: ignored.
    for i in 0..50 {
        store.add(
            "Acme",
            positive(&format!("ancient{i}"), window_start - hours(6)),
        );
    }
    for i in 0..window_count {
        store.add(
            "Acme",
            negative(&format!("w{i}"), t0() - minutes(1 + i as i64)),
        );
    }
    store
}

#[test]
fn volume_spike_maths() {
    let expected_threshold = 4.0 + 2.0 * 2f64.sqrt();
    let store = spike_store(7);
    let mut spike = rule("spike", RuleKind::VolumeSpike);
    spike.min_mentions = 5;
    let outcome = &engine(spike.clone()).evaluate(&store, t0()).unwrap()[0];
    assert!(outcome.fired, "{outcome:?}");
    assert_eq!(outcome.value, 7.0);
    let incident = store.incident(outcome.incident_id.unwrap());
    assert!((incident.trigger.threshold - expected_threshold).abs() < 1e-9);
    assert_eq!(incident.trigger.baseline, Some(4.0));
    assert_eq!(incident.trigger.baseline_secs, Some(4 * 3600));
    assert!(
        incident
            .trigger
            .explanation
            .contains("baseline of 4.0 ± 1.4"),
        "{}",
        incident.trigger.explanation
    );

    // 6 is not above 6.83.
    let quiet = spike_store(6);
    assert!(!engine(spike.clone()).evaluate(&quiet, t0()).unwrap()[0].fired);

    // 7 is above the threshold but under a min_mentions floor of 8.
    spike.min_mentions = 8;
    let floored = spike_store(7);
    let outcome = &engine(spike).evaluate(&floored, t0()).unwrap()[0];
    assert!(!outcome.fired);
    assert!(outcome.detail.contains("floor of 8"), "{}", outcome.detail);
}

#[test]
fn volume_spike_with_query_counts_the_same_posts_in_baseline() {
    // Baseline: 10 unrelated posts per hour, no "recall" posts; window: 3 recall posts.
    let store = MemStore::new();
    for hour in 1..=4 {
        for i in 0..10 {
            store.add(
                "Acme",
                positive(&format!("h{hour}-{i}"), t0() - hours(1 + hour) + minutes(i)),
            );
        }
    }
    for i in 0..3 {
        store.add(
            "Acme",
            post(
                &format!("r{i}"),
                t0() - minutes(10 + i),
                "Acme recall announced",
                Some(Label::Negative),
                Some(-0.5),
            ),
        );
    }
    let mut spike = with_query(rule("recall-spike", RuleKind::VolumeSpike), "recall");
    spike.min_mentions = 3;
    let outcome = &engine(spike).evaluate(&store, t0()).unwrap()[0];
    assert!(
        outcome.fired,
        "baseline of filtered posts is 0: {outcome:?}"
    );
    assert_eq!(outcome.value, 3.0);
}

#[test]
fn keyword_fires_on_first_match_regardless_of_min_mentions() {
    let store = MemStore::new();
    mixed(&store, t0(), 0, 3);
    let mut keyword = with_query(rule("recall", RuleKind::Keyword), "recall OR 召回");
    keyword.min_mentions = 100;
    assert!(!engine(keyword.clone()).evaluate(&store, t0()).unwrap()[0].fired);

    store.add(
        "Acme",
        post("zh", t0() - minutes(4), "艾克米水壶召回", None, None),
    );
    let outcome = &engine(keyword).evaluate(&store, t0()).unwrap()[0];
    assert!(outcome.fired && outcome.opened);
    assert_eq!(outcome.value, 1.0);
    let incident = store.incident(outcome.incident_id.unwrap());
    assert_eq!(incident.evidence.len(), 1);
    assert_eq!(incident.evidence[0].id, "zh");
    assert!(
        incident
            .trigger
            .explanation
            .contains("matched the keyword query \"recall OR 召回\"")
    );
}

#[test]
fn keyword_rule_without_query_is_rejected() {
    let err = AlertEngine::new(&config(vec![rule("kw", RuleKind::Keyword)]))
        .err()
        .expect("no query");
    assert!(
        err.to_string().contains("keyword rule \"kw\" has no query"),
        "{err}"
    );
}

#[test]
fn unknown_recipient_or_script_is_rejected() {
    let mut bad = rule("neg", RuleKind::NegativeShare);
    bad.notify = vec!["nobody".into()];
    assert!(AlertEngine::new(&config(vec![bad])).is_err());
    let mut bad = rule("neg", RuleKind::NegativeShare);
    bad.script = Some("missing".into());
    assert!(AlertEngine::new(&config(vec![bad])).is_err());
}

/// Baseline per-hour mean scores 0.2, 0.4, 0.2, 0.4 → mean 0.3, std 0.1; sigma 2 →
/// fires below 0.1.
fn drop_store(window_score: f32) -> MemStore {
    let store = MemStore::new();
    let window_start = t0() - hours(1);
    for (bucket, score) in [0.2f32, 0.4, 0.2, 0.4].iter().enumerate() {
        let bucket_start = window_start - hours(4 - bucket as i64);
        for i in 0..3 {
            store.add(
                "Acme",
                post(
                    &format!("b{bucket}-{i}"),
                    bucket_start + minutes(10 * i),
                    "Acme",
                    Some(Label::Neutral),
                    Some(*score),
                ),
            );
        }
    }
    for i in 0..6 {
        store.add(
            "Acme",
            post(
                &format!("w{i}"),
                t0() - minutes(1 + i),
                "Acme meh",
                Some(Label::Negative),
                Some(window_score),
            ),
        );
    }
    store
}

#[test]
fn sentiment_drop_fires_below_baseline_band() {
    let drop = rule("drop", RuleKind::SentimentDrop);
    let outcome = &engine(drop.clone())
        .evaluate(&drop_store(0.05), t0())
        .unwrap()[0];
    assert!(outcome.fired, "{outcome:?}");
    let store = drop_store(-0.5);
    let outcome = &engine(drop.clone()).evaluate(&store, t0()).unwrap()[0];
    let incident = store.incident(outcome.incident_id.unwrap());
    assert!(
        (incident.trigger.threshold - 0.1).abs() < 1e-6,
        "{:?}",
        incident.trigger
    );
    assert!((incident.trigger.baseline.unwrap() - 0.3).abs() < 1e-6);
    assert!(
        !engine(drop.clone())
            .evaluate(&drop_store(0.15), t0())
            .unwrap()[0]
            .fired
    );

    let mut floored = drop;
    floored.min_mentions = 7;
    assert!(!engine(floored).evaluate(&drop_store(-0.5), t0()).unwrap()[0].fired);
}

#[test]
fn incident_opened_once_then_updated_without_second_first_notification() {
    let store = MemStore::new();
    let engine = engine(rule("neg", RuleKind::NegativeShare));
    mixed(&store, t0(), 5, 5);
    let first = engine.evaluate(&store, t0()).unwrap().remove(0);
    assert!(first.opened);
    // The first notification is written with the incident.
    assert_eq!(store.all_notifications().len(), 1);
    assert_eq!(engine.plan_notifications(&store, t0()).unwrap(), 0);

    // Ten minutes later it is worse: same incident, higher peak, fresh evidence.
    let later = t0() + minutes(10);
    for i in 0..10 {
        store.add(
            "Acme",
            post(
                &format!("worse{i}"),
                later - minutes(1),
                "Acme kettle fire",
                Some(Label::Negative),
                Some(-0.95),
            ),
        );
    }
    let second = engine.evaluate(&store, later).unwrap().remove(0);
    assert!(second.fired && !second.opened);
    assert_eq!(second.incident_id, first.incident_id);
    let incident = store.incident(first.incident_id.unwrap());
    assert!(incident.peak_value > 0.7, "{}", incident.peak_value);
    assert_eq!(incident.trigger.value, incident.peak_value);
    assert!(incident.evidence[0].id.starts_with("worse"));
    assert_eq!(incident.updated_at, later);
    assert_eq!(store.all_incidents().len(), 1);

    // Calmer again: the peak stays.
    let calmer = later + minutes(5);
    for i in 0..40 {
        store.add("Acme", positive(&format!("calm{i}"), calmer - minutes(1)));
    }
    let third = engine.evaluate(&store, calmer).unwrap().remove(0);
    assert!(!third.fired);
    assert_eq!(
        third.incident_id, first.incident_id,
        "the open incident is reported"
    );
    assert_eq!(
        store.incident(first.incident_id.unwrap()).peak_value,
        incident.peak_value
    );

    engine.plan_notifications(&store, calmer).unwrap();
    let firsts = store
        .all_notifications()
        .into_iter()
        .filter(|n| n.kind == NotificationKind::First)
        .count();
    assert_eq!(firsts, 1);
}

#[test]
fn resolved_incident_is_not_reopened_by_its_own_posts() {
    let store = MemStore::new();
    let engine = engine(rule("neg", RuleKind::NegativeShare));
    mixed(&store, t0(), 6, 2);
    let id = engine.evaluate(&store, t0()).unwrap()[0]
        .incident_id
        .unwrap();
    store.resolve(id, "dana", t0() + minutes(5));
    assert_eq!(
        store.last_resolved_at("neg", "Acme").unwrap(),
        Some(t0() + minutes(5))
    );

    let outcome = engine
        .evaluate(&store, t0() + minutes(6))
        .unwrap()
        .remove(0);
    assert!(
        !outcome.fired,
        "window starts at the resolution: {outcome:?}"
    );
    assert!(
        outcome
            .detail
            .contains("since the previous incident was resolved"),
        "{}",
        outcome.detail
    );

    // New negative posts after the resolution open a new incident.
    for i in 0..5 {
        store.add("Acme", negative(&format!("new{i}"), t0() + minutes(7 + i)));
    }
    let outcome = engine
        .evaluate(&store, t0() + minutes(20))
        .unwrap()
        .remove(0);
    assert!(outcome.opened);
    assert_ne!(outcome.incident_id, Some(id));
}

/// Baselines end on a whole window and are kept between evaluations: evaluations ten
/// minutes apart reuse them (a post stored late counts from the next window on); when
/// the next window begins, only its new bucket is computed and the newest two again,
/// so late posts in those count, older ones only after a restart. Baseline of 4h in
/// 1h buckets, 2 posts an hour.
#[test]
fn the_baseline_moves_on_by_whole_windows() {
    let store = MemStore::new();
    for hour in 1..=6 {
        for i in 0..2 {
            store.add(
                "Acme",
                positive(&format!("b{hour}-{i}"), t0() - hours(hour) + minutes(5 + i)),
            );
        }
    }
    let mut spike = rule("spike", RuleKind::VolumeSpike);
    spike.min_mentions = 1000;
    let engine = engine(spike.clone());
    let detail = |engine: &AlertEngine, now| engine.evaluate(&store, now).unwrap().remove(0).detail;
    let first = detail(&engine, t0() + minutes(10));
    assert!(first.contains("baseline of 2.0 ± 0.0"), "{first}");
    // Stored late: 8 posts published in [t0-2h, t0-1h) (refreshed when the baseline
    // moves on) and 8 in [t0-4h, t0-3h) (not).
    for i in 0..8 {
        store.add(
            "Acme",
            positive(&format!("late-{i}"), t0() - hours(2) + minutes(30 + i)),
        );
        store.add(
            "Acme",
            positive(&format!("later-{i}"), t0() - hours(4) + minutes(30 + i)),
        );
    }
    let same_window = detail(&engine, t0() + minutes(20));
    assert!(
        same_window.contains("baseline of 2.0 ± 0.0"),
        "{same_window}"
    );
    // The next baseline is [t0-4h, t0): buckets 2, 2, 10, 2 → mean 4.0.
    let next = detail(&engine, t0() + hours(1) + minutes(10));
    assert!(next.contains("baseline of 4.0"), "{next}");
    // A new engine (a restart) counts everything: 10, 2, 10, 2 → mean 6.0.
    let fresh = detail(&self::engine(spike), t0() + hours(1) + minutes(10));
    assert!(fresh.contains("baseline of 6.0"), "{fresh}");
}

/// Hour-of-day baselines: every day 20 mentions between 9 and 10 and 2 in every other
/// hour. 20 at 9 a.m. is normal for a daily baseline but a spike against every hour;
/// 12 at 3 a.m. is a spike either way.
#[test]
fn a_daily_baseline_knows_the_busy_hour() {
    let store = MemStore::new();
    let day_start = t0() - hours(t0().hour() as i64) - minutes(t0().minute() as i64);
    let mut n = 0;
    for day in 1..=8 {
        for hour in 0..24 {
            let per_hour = if hour == 9 { 20 } else { 2 };
            for i in 0..per_hour {
                n += 1;
                store.add(
                    "Acme",
                    positive(
                        &format!("d{n}"),
                        day_start - hours(24 * day) + hours(hour) + minutes(i),
                    ),
                );
            }
        }
    }
    let busy_hour_end = day_start + hours(10);
    for i in 0..20 {
        store.add(
            "Acme",
            positive(&format!("today9-{i}"), day_start + hours(9) + minutes(i)),
        );
    }
    let night_end = day_start + hours(4);
    for i in 0..12 {
        store.add(
            "Acme",
            positive(&format!("today3-{i}"), day_start + hours(3) + minutes(i)),
        );
    }
    let mut every_hour = rule("spike", RuleKind::VolumeSpike);
    every_hour.baseline = std::time::Duration::from_secs(7 * 86_400);
    every_hour.min_mentions = 5;
    every_hour.seasonality = vigil_config::Seasonality::None;
    let mut daily = every_hour.clone();
    daily.seasonality = vigil_config::Seasonality::Auto;

    let outcome = engine(every_hour.clone())
        .evaluate(&store, busy_hour_end)
        .unwrap()
        .remove(0);
    assert!(outcome.fired, "{outcome:?}");
    let outcome = engine(daily.clone())
        .evaluate(&store, busy_hour_end)
        .unwrap()
        .remove(0);
    assert!(!outcome.fired, "{outcome:?}");
    assert!(
        outcome
            .detail
            .contains("baseline of 20.0 ± 0.0 per 1h at the same time of day (7 windows)"),
        "{}",
        outcome.detail
    );
    for rule in [every_hour, daily] {
        let outcome = engine(rule).evaluate(&store, night_end).unwrap().remove(0);
        assert!(outcome.fired, "{outcome:?}");
    }
}

/// A quiet baseline (one post every other hour for 8 days), 12 mentions in the last
/// hour, and 10 at the same hour yesterday (a recurring event).
fn recurring_event_store() -> MemStore {
    let store = MemStore::new();
    for h in (2..8 * 24).step_by(2) {
        store.add(
            "Acme",
            positive(&format!("q{h}"), t0() - hours(h) + minutes(1)),
        );
    }
    for i in 0..12 {
        store.add("Acme", negative(&format!("now{i}"), t0() - minutes(1 + i)));
    }
    for i in 0..10 {
        store.add(
            "Acme",
            negative(&format!("y{i}"), t0() - hours(24) - minutes(1 + i)),
        );
    }
    store
}

/// `confirm`: a spike must also beat the same hour yesterday and last week.
#[test]
fn confirmation_against_yesterday_and_last_week() {
    let store = recurring_event_store();
    let mut spike = rule("spike", RuleKind::VolumeSpike);
    spike.baseline = std::time::Duration::from_secs(7 * 86_400);
    spike.min_mentions = 5;
    spike.seasonality = vigil_config::Seasonality::None;
    let outcome = engine(spike.clone())
        .evaluate(&store, t0())
        .unwrap()
        .remove(0);
    assert!(outcome.fired, "unconfirmed rule fires: {outcome:?}");

    spike.name = "confirmed".into();
    spike.confirm = vec![
        std::time::Duration::from_secs(86_400),
        std::time::Duration::from_secs(7 * 86_400),
    ];
    let outcome = engine(spike.clone())
        .evaluate(&store, t0())
        .unwrap()
        .remove(0);
    assert!(!outcome.fired, "{outcome:?}");
    assert!(
        outcome
            .detail
            .contains("Same window: 10 yesterday, 0 last week (confirmation needs 1.5× each).")
            && outcome
                .detail
                .contains("12 is less than 1.5× the 10 mentions of the same window yesterday"),
        "{}",
        outcome.detail
    );
    spike.confirm_ratio = 1.2;
    let outcome = engine(spike).evaluate(&store, t0()).unwrap().remove(0);
    assert!(outcome.fired, "12 ≥ 1.2 × 10: {outcome:?}");
}

/// Severity grows with the deviation: a warning rule whose measurement is at least
/// twice as far from normal as its threshold opens a crisis incident.
#[test]
fn severity_rises_with_the_size_of_the_deviation() {
    let mut warn = rule("neg", RuleKind::NegativeShare);
    warn.severity = vigil_core::Severity::Warning;
    // 60% negative against a 40% threshold: 1.5× — stays a warning.
    let store = MemStore::new();
    mixed(&store, t0(), 6, 4);
    let outcome = engine(warn.clone())
        .evaluate(&store, t0())
        .unwrap()
        .remove(0);
    assert_eq!(
        store.incident(outcome.incident_id.unwrap()).severity,
        vigil_core::Severity::Warning
    );
    // 90% negative: 2.25× — a crisis.
    let store = MemStore::new();
    mixed(&store, t0(), 9, 1);
    let outcome = engine(warn).evaluate(&store, t0()).unwrap().remove(0);
    assert_eq!(
        store.incident(outcome.incident_id.unwrap()).severity,
        vigil_core::Severity::Crisis
    );
    // A keyword match has no size: the configured severity.
    let store = MemStore::new();
    store.add("Acme", negative("k", t0() - minutes(5)));
    let mut keyword = with_query(rule("kw", RuleKind::Keyword), "terrible OR kettle OR acme");
    keyword.severity = vigil_core::Severity::Info;
    let outcome = engine(keyword).evaluate(&store, t0()).unwrap().remove(0);
    assert!(outcome.opened, "{outcome:?}");
    assert_eq!(
        store.incident(outcome.incident_id.unwrap()).severity,
        vigil_core::Severity::Info
    );
}

fn with_reach(mut post: vigil_core::EvidencePost, reach: i64) -> vigil_core::EvidencePost {
    post.reach = Some(reach);
    post
}

#[test]
fn influencer_fires_on_a_loud_negative_post_only() {
    let store = MemStore::new();
    // Loud but positive, negative but quiet, negative without engagement: none fire.
    store.add(
        "Acme",
        with_reach(positive("fan", t0() - minutes(5)), 50_000),
    );
    store.add(
        "Acme",
        with_reach(negative("grump", t0() - minutes(4)), 999),
    );
    store.add("Acme", negative("unknown", t0() - minutes(3)));
    // Loud and negative, but outside the window.
    store.add(
        "Acme",
        with_reach(negative("old", t0() - minutes(61)), 9_000),
    );
    let mut influencer = rule("loud", RuleKind::Influencer);
    influencer.threshold = 1000.0;
    influencer.min_mentions = 1;
    influencer.severity = vigil_core::Severity::Warning;
    let outcome = &engine(influencer.clone()).evaluate(&store, t0()).unwrap()[0];
    assert!(!outcome.fired, "{outcome:?}");

    store.add(
        "Acme",
        with_reach(
            post(
                "viral",
                t0() - minutes(2),
                "Acme kettle exploded in my kitchen",
                Some(Label::Negative),
                Some(-0.8),
            ),
            2_500,
        ),
    );
    let outcome = &engine(influencer).evaluate(&store, t0()).unwrap()[0];
    assert!(outcome.fired, "{outcome:?}");
    assert_eq!(outcome.value, 2500.0);
    let incident = store.incident(outcome.incident_id.unwrap());
    assert_eq!(incident.trigger.metric, "influencer");
    assert_eq!(
        incident.trigger.explanation,
        "A negative Acme mention by user-viral on forum reached 2,500 (votes + likes + reposts + replies) in the last 1h (threshold 1,000)."
    );
    let ids: Vec<&str> = incident.evidence.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["viral"]);
    // 2.5 times the threshold: one level above the rule's warning.
    assert_eq!(incident.severity, vigil_core::Severity::Crisis);
}

#[test]
fn a_firing_rule_says_what_the_posts_are_about() {
    let store = MemStore::new();
    let texts = [
        ("a", "Acme kettle exploded, please recall it", "reddit", 300),
        ("b", "Mine exploded too. Recall now", "reddit", 40),
        ("c", "Exploded kettle burnt my hand", "news", 0),
        ("d", "艾克米水壶爆炸，要求召回", "weibo", 5_000),
        ("e", "又一个爆炸的艾克米，赶紧召回", "weibo", 10),
    ];
    for (i, (id, text, source, reach)) in texts.into_iter().enumerate() {
        let mut p = post(
            id,
            t0() - minutes(1 + i as i64),
            text,
            Some(Label::Negative),
            Some(-0.6),
        );
        p.source = source.to_string();
        p.reach = Some(reach);
        store.add("Acme", p);
    }
    let mut keyword = with_query(rule("recall", RuleKind::Keyword), "recall OR 召回");
    keyword.min_mentions = 1;
    let outcome = &engine(keyword).evaluate(&store, t0()).unwrap()[0];
    assert!(outcome.fired, "{outcome:?}");
    let context = &store.incident(outcome.incident_id.unwrap()).trigger.context;
    let terms: Vec<(&str, u64)> = context
        .top_terms
        .iter()
        .map(|t| (t.term.as_str(), t.posts))
        .collect();
    // The keyword matched a, b, d, e; the brand's own name is left out.
    assert!(
        terms.contains(&("exploded", 2)) && terms.contains(&("召回", 2)),
        "{terms:?}"
    );
    assert!(
        terms.contains(&("recall", 2)) && terms.contains(&("爆炸", 2)),
        "{terms:?}"
    );
    assert!(!terms.iter().any(|(t, _)| *t == "acme"), "{terms:?}");
    let sources: Vec<(&str, u64, i64)> = context
        .top_sources
        .iter()
        .map(|c| (c.name.as_str(), c.posts, c.reach))
        .collect();
    assert_eq!(sources, [("weibo", 2, 5_010), ("reddit", 2, 340)]);
    assert_eq!(context.top_authors[0].name, "user-d");

    // A rule that does not fire computes no context.
    let quiet = MemStore::new();
    quiet.add("Acme", positive("p", t0() - minutes(1)));
    let outcome = &engine(with_query(rule("recall", RuleKind::Keyword), "recall"))
        .evaluate(&quiet, t0())
        .unwrap()[0];
    assert!(
        !outcome.fired && outcome.incident_id.is_none(),
        "{outcome:?}"
    );
}

/// A brand whose `language` is Chinese gets its explanations in Chinese, like the rest
/// of its mail; the numbers are the same.
#[test]
fn explanations_follow_the_brand_language() {
    let store = recurring_event_store();
    let mut keyword = with_query(rule("召回", RuleKind::Keyword), "broke");
    keyword.min_mentions = 1;
    let mut spike = rule("spike", RuleKind::VolumeSpike);
    spike.baseline = std::time::Duration::from_secs(7 * 86_400);
    spike.min_mentions = 5;
    spike.confirm = vec![std::time::Duration::from_secs(86_400)];
    spike.seasonality = vigil_config::Seasonality::Auto;
    let mut cfg = config(vec![keyword, spike]);
    cfg.brands = vec![vigil_config::BrandConfig {
        name: "Acme".into(),
        query_text: "acme".into(),
        query: vigil_core::Query::parse("acme").unwrap(),
        language: Some("zh-cn".into()),
    }];
    let outcomes = AlertEngine::new(&cfg)
        .unwrap()
        .evaluate(&store, t0())
        .unwrap();
    assert_eq!(
        outcomes[0].detail,
        "过去 1h，Acme 有 12 条提及命中关键词查询 \"broke\"。"
    );
    let detail = &outcomes[1].detail;
    for part in [
        "过去 1h，Acme 共有 12 条提及；过去 7d 的基线为每 1h ",
        "，取每天同一时段（7 个窗口）（超过 ",
        " 即触发，2 个标准差）。同一窗口：昨天 10 条（每项需达 1.5 倍）。",
    ] {
        assert!(detail.contains(part), "{part:?} in {detail}");
    }
    assert!(!outcomes[1].fired, "12 < 1.5 × 10");
}
