//! Aggregations (timeline, share of voice, top sources/authors/terms) on a real tantivy
//! index in a temp dir, with posts whose labels, scores, times, authors and reach are
//! known.

use chrono::{DateTime, Duration, TimeZone, Utc};
use tempfile::TempDir;
use vigil_core::{Engagement, Label, Post, Provenance, Query, Sentiment, StoredPost};
use vigil_index::{
    AggregateError, Interval, MAX_BUCKETS, SearchIndex, SearchRequest, TermsOptions,
    TimelineOptions,
};

const HEAP: usize = 20_000_000;

fn at(day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, day, hour, minute, second)
        .unwrap()
}

/// A post to index; `sentiment: None` is an unclassified post.
#[derive(Clone)]
struct Spec {
    id: String,
    text: String,
    source: &'static str,
    brands: Vec<&'static str>,
    author: Option<&'static str>,
    sentiment: Option<(Label, f32)>,
    published_at: DateTime<Utc>,
    likes: Option<i64>,
    duplicate_of: Option<&'static str>,
}

fn spec(id: &str, published_at: DateTime<Utc>) -> Spec {
    Spec {
        id: id.to_string(),
        text: format!("post {id} about the acme kettle"),
        source: "news",
        brands: vec!["acme"],
        author: Some("alice"),
        sentiment: None,
        published_at,
        likes: None,
        duplicate_of: None,
    }
}

impl Spec {
    fn label(mut self, label: Label, score: f32) -> Self {
        self.sentiment = Some((label, score));
        self
    }
    fn text(mut self, text: &str) -> Self {
        self.text = text.to_string();
        self
    }
    fn source(mut self, source: &'static str) -> Self {
        self.source = source;
        self
    }
    fn brands(mut self, brands: &[&'static str]) -> Self {
        self.brands = brands.to_vec();
        self
    }
    fn author(mut self, author: Option<&'static str>) -> Self {
        self.author = author;
        self
    }
    fn likes(mut self, likes: i64) -> Self {
        self.likes = Some(likes);
        self
    }
    fn copy_of(mut self, original: &'static str) -> Self {
        self.duplicate_of = Some(original);
        self
    }
}

fn stored(seq: i64, spec: &Spec) -> StoredPost {
    StoredPost {
        seq,
        post: Post {
            id: spec.id.clone(),
            source: spec.source.to_string(),
            external_id: spec.id.clone(),
            url: Some(format!("https://example.com/{}", spec.id)),
            canonical_url: None,
            author: spec.author.map(str::to_string),
            title: None,
            text: spec.text.clone(),
            lang: Some("en".to_string()),
            published_at: spec.published_at,
            brands: spec.brands.iter().map(|b| b.to_string()).collect(),
            provenance: Provenance {
                fetched_at: spec.published_at,
                fetch_url: "https://example.com/feed".to_string(),
                http_status: Some(200),
                content_hash: "00".to_string(),
                extraction: "rss:item".to_string(),
                raw_sha256: None,
            },
            sentiment: spec.sentiment.map(|(label, score)| Sentiment {
                label,
                score,
                confidence: 0.9,
                lang: "en".to_string(),
                backend: "lexicon".to_string(),
                version: "1".to_string(),
            }),
            engagement: Engagement {
                likes: spec.likes,
                ..Engagement::default()
            },
            duplicate_of: spec.duplicate_of.map(str::to_string),
        },
    }
}

/// An index in a temp dir holding `specs`, committed. `commit_every` splits the posts
/// over several commits (and so segments) to exercise merging per-segment results.
fn index_with(specs: &[Spec], words: &[&str], commit_every: usize) -> (TempDir, SearchIndex) {
    let dir = tempfile::tempdir().unwrap();
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let index = SearchIndex::open(&dir.path().join("index"), &words).unwrap();
    let mut writer = index.writer(HEAP).unwrap();
    for (position, spec) in specs.iter().enumerate() {
        let seq = position as i64 + 1;
        writer.add(&stored(seq, spec)).unwrap();
        if (seq as usize).is_multiple_of(commit_every) {
            writer.commit(seq).unwrap();
        }
    }
    writer.commit(specs.len() as i64).unwrap();
    (dir, index)
}

fn everything() -> SearchRequest {
    SearchRequest::new(Query::All, 10)
}

fn counts(timeline: &vigil_index::Timeline) -> Vec<u64> {
    timeline.buckets.iter().map(|bucket| bucket.count).collect()
}

#[test]
fn daily_timeline_has_every_bucket_zero_filled_with_labels_and_mean_score() {
    let specs = vec![
        spec("a", at(1, 9, 0, 0)).label(Label::Negative, -0.5),
        spec("b", at(1, 23, 59, 59)).label(Label::Positive, 0.75),
        spec("c", at(1, 12, 0, 0)),
        // May 2: nothing.
        spec("d", at(3, 0, 0, 0)).label(Label::Neutral, 0.0),
        spec("e", at(3, 18, 30, 0)).label(Label::Negative, -1.0),
        spec("f", at(4, 0, 0, 0)).label(Label::Negative, -1.0), // at `to`: out
    ];
    let (_dir, index) = index_with(&specs, &[], 2);
    let timeline = index
        .timeline(&everything(), Interval::Day, at(1, 0, 0, 0), at(4, 0, 0, 0))
        .unwrap();

    let starts: Vec<DateTime<Utc>> = timeline.buckets.iter().map(|b| b.start).collect();
    assert_eq!(starts, [at(1, 0, 0, 0), at(2, 0, 0, 0), at(3, 0, 0, 0)]);
    assert_eq!(counts(&timeline), [3, 0, 2]);
    assert_eq!(timeline.total, 5);

    let may1 = &timeline.buckets[0];
    assert_eq!(
        (
            may1.labels.negative,
            may1.labels.neutral,
            may1.labels.positive,
            may1.labels.unscored
        ),
        (1, 0, 1, 1)
    );
    assert_eq!(
        may1.mean_score,
        Some(0.125),
        "(-0.5 + 0.75) / 2 scored posts"
    );
    let may2 = &timeline.buckets[1];
    assert_eq!(may2.labels, Default::default());
    assert_eq!(may2.mean_score, None);
    let may3 = &timeline.buckets[2];
    assert_eq!((may3.labels.negative, may3.labels.neutral), (1, 1));
    assert_eq!(may3.mean_score, Some(-0.5));

    let json = serde_json::to_value(&timeline).unwrap();
    assert_eq!(json["interval"], "day");
    assert_eq!(json["from"], "2024-05-01T00:00:00Z");
    assert_eq!(json["buckets"][0]["start"], "2024-05-01T00:00:00Z");
    assert_eq!(json["buckets"][0]["negative"], 1);
    assert_eq!(json["buckets"][0]["unscored"], 1);
    assert!(json["buckets"][1]["mean_score"].is_null());
    assert_eq!(json["buckets"][2]["mean_score"], -0.5);
}

#[test]
fn hourly_timeline_aligns_to_the_utc_hour_and_counts_from_inclusive_to_exclusive() {
    let specs = vec![
        spec("before-from", at(1, 10, 29, 59)),
        spec("at-from", at(1, 10, 30, 0)),
        spec("eleven", at(1, 11, 0, 0)),
        spec("eleven-late", at(1, 11, 59, 59)),
        spec("last-second", at(1, 13, 14, 59)),
        spec("at-to", at(1, 13, 15, 0)),
        spec("later", at(1, 14, 0, 0)),
    ];
    let (_dir, index) = index_with(&specs, &[], 3);
    let timeline = index
        .timeline(
            &everything(),
            Interval::Hour,
            at(1, 10, 30, 0),
            at(1, 13, 15, 0),
        )
        .unwrap();
    let starts: Vec<DateTime<Utc>> = timeline.buckets.iter().map(|b| b.start).collect();
    assert_eq!(
        starts,
        [
            at(1, 10, 0, 0),
            at(1, 11, 0, 0),
            at(1, 12, 0, 0),
            at(1, 13, 0, 0)
        ]
    );
    assert_eq!(counts(&timeline), [1, 2, 0, 1]);
    assert_eq!(timeline.from, at(1, 10, 30, 0));
    assert_eq!(timeline.to, at(1, 13, 15, 0));

    // Sub-second edges: `from` half a second after a post leaves it out; `to` half a
    // second after a post keeps it in.
    let half = Duration::milliseconds(500);
    let timeline = index
        .timeline(
            &everything(),
            Interval::Hour,
            at(1, 10, 29, 59) + half,
            at(1, 13, 15, 0) + half,
        )
        .unwrap();
    assert_eq!(counts(&timeline), [1, 2, 0, 2]);
}

#[test]
fn day_buckets_start_at_utc_midnight_whatever_the_range() {
    let specs = vec![
        spec("a", at(1, 23, 0, 0)),
        spec("b", at(2, 0, 30, 0)),
        spec("c", at(2, 5, 0, 0)),
    ];
    let (_dir, index) = index_with(&specs, &[], 10);
    let timeline = index
        .timeline(
            &everything(),
            Interval::Day,
            at(1, 22, 0, 0),
            at(2, 1, 0, 0),
        )
        .unwrap();
    let starts: Vec<DateTime<Utc>> = timeline.buckets.iter().map(|b| b.start).collect();
    assert_eq!(starts, [at(1, 0, 0, 0), at(2, 0, 0, 0)]);
    assert_eq!(counts(&timeline), [1, 1], "post c is after `to`");
}

#[test]
fn timeline_leaves_copies_out_when_asked() {
    let specs = vec![
        spec("original", at(1, 10, 0, 0)).label(Label::Negative, -0.5),
        spec("copy-1", at(1, 10, 5, 0))
            .label(Label::Negative, -0.5)
            .copy_of("original"),
        spec("copy-2", at(1, 11, 0, 0))
            .label(Label::Negative, -0.5)
            .copy_of("original"),
        spec("other", at(1, 11, 30, 0)).label(Label::Positive, 0.5),
    ];
    let (_dir, index) = index_with(&specs, &[], 2);
    let (from, to) = (at(1, 10, 0, 0), at(1, 12, 0, 0));

    let all = index
        .timeline(&everything(), Interval::Hour, from, to)
        .unwrap();
    assert_eq!(counts(&all), [2, 2]);
    assert!(!all.originals_only);

    let originals = index
        .timeline_with(
            &everything(),
            Interval::Hour,
            from,
            to,
            TimelineOptions {
                originals_only: true,
            },
        )
        .unwrap();
    assert_eq!(counts(&originals), [1, 1]);
    assert!(originals.originals_only);
    assert_eq!(originals.buckets[1].labels.negative, 0);
    assert_eq!(originals.buckets[1].labels.positive, 1);
}

#[test]
fn timeline_applies_the_search_filters_and_replaces_their_time_range() {
    let specs = vec![
        spec("acme-neg", at(1, 10, 0, 0))
            .label(Label::Negative, -0.5)
            .text("acme kettle exploded"),
        spec("acme-pos", at(1, 10, 10, 0))
            .label(Label::Positive, 0.5)
            .text("love the acme kettle"),
        spec("globex", at(1, 10, 20, 0))
            .brands(&["globex"])
            .label(Label::Negative, -0.5)
            .text("globex kettle exploded"),
        spec("forum", at(1, 10, 30, 0))
            .source("forum")
            .label(Label::Negative, -0.25)
            .text("acme kettle exploded again"),
    ];
    let (_dir, index) = index_with(&specs, &[], 10);
    let (from, to) = (at(1, 10, 0, 0), at(1, 11, 0, 0));
    let run = |request: SearchRequest| {
        index
            .timeline(&request, Interval::Hour, from, to)
            .unwrap()
            .total
    };

    let mut acme = everything();
    acme.brand = Some("acme".into());
    assert_eq!(run(acme.clone()), 3);

    let mut acme_negative = acme.clone();
    acme_negative.sentiment = Some(Label::Negative);
    assert_eq!(run(acme_negative), 2);

    let mut acme_news = acme.clone();
    acme_news.source = Some("news".into());
    assert_eq!(run(acme_news), 2);

    let mut exploded = SearchRequest::new(Query::parse("exploded").unwrap(), 10);
    assert_eq!(run(exploded.clone()), 3);
    // The filter's own time range is replaced by the timeline's window.
    exploded.from = Some(at(2, 0, 0, 0));
    assert_eq!(run(exploded), 3);
}

#[test]
fn timeline_counts_a_reclassified_post_once_with_its_new_label() {
    // Upserting a post deletes the old document: segments then have deletes, which
    // tantivy feeds to collectors one document at a time rather than in blocks.
    let specs = vec![
        spec("a", at(1, 10, 0, 0)).label(Label::Negative, -0.5),
        spec("b", at(1, 10, 30, 0)).label(Label::Negative, -0.5),
        spec("c", at(1, 11, 0, 0)),
    ];
    let (_dir, index) = index_with(&specs, &[], 10);
    let mut writer = index.writer(HEAP).unwrap();
    writer
        .add(&stored(
            1,
            &spec("a", at(1, 10, 0, 0)).label(Label::Positive, 1.0),
        ))
        .unwrap();
    writer.commit(3).unwrap();
    let timeline = index
        .timeline(
            &everything(),
            Interval::Hour,
            at(1, 10, 0, 0),
            at(1, 12, 0, 0),
        )
        .unwrap();
    assert_eq!(counts(&timeline), [2, 1]);
    let ten = &timeline.buckets[0];
    assert_eq!((ten.labels.negative, ten.labels.positive), (1, 1));
    assert_eq!(ten.mean_score, Some(0.25));
    assert_eq!(timeline.buckets[1].labels.unscored, 1);
    let sources = index.top_sources(&everything(), 10).unwrap();
    assert_eq!((sources[0].count, sources[0].labels.positive), (3, 1));
}

#[test]
fn timeline_rejects_reversed_ranges_and_too_many_buckets() {
    let (_dir, index) = index_with(&[spec("a", at(1, 10, 0, 0))], &[], 10);

    let reversed = index
        .timeline(&everything(), Interval::Day, at(2, 0, 0, 0), at(1, 0, 0, 0))
        .unwrap_err();
    assert!(
        matches!(reversed, AggregateError::InvalidRange { .. }),
        "{reversed}"
    );
    assert!(reversed.is_bad_request());

    let from = at(1, 0, 0, 0);
    let too_long = from + Duration::hours(MAX_BUCKETS as i64 + 1);
    let error = index
        .timeline(&everything(), Interval::Hour, from, too_long)
        .unwrap_err();
    match &error {
        AggregateError::TooManyBuckets { buckets, max, .. } => {
            assert_eq!(*buckets, MAX_BUCKETS as u64 + 1);
            assert_eq!(*max, MAX_BUCKETS);
        }
        other => panic!("expected TooManyBuckets, got {other}"),
    }
    assert!(error.to_string().contains("wider interval"), "{error}");
    assert!(error.is_bad_request());

    // Exactly the maximum is fine, and the same range by day is small.
    let at_max = from + Duration::hours(MAX_BUCKETS as i64);
    let timeline = index
        .timeline(&everything(), Interval::Hour, from, at_max)
        .unwrap();
    assert_eq!(timeline.buckets.len(), MAX_BUCKETS);
    assert_eq!(timeline.total, 1);
    let by_day = index
        .timeline(&everything(), Interval::Day, from, too_long)
        .unwrap();
    assert_eq!(by_day.buckets.len(), 417, "ceil(10,001 h / 24)");

    let empty = index
        .timeline(&everything(), Interval::Day, from, from)
        .unwrap();
    assert!(empty.buckets.is_empty());
    assert_eq!(empty.total, 0);
}

#[test]
fn share_of_voice_splits_mentions_between_brands() {
    let specs = vec![
        spec("a1", at(1, 10, 0, 0)).label(Label::Negative, -0.5),
        spec("a2", at(1, 11, 0, 0)).label(Label::Positive, 0.5),
        spec("a3", at(1, 12, 0, 0)).label(Label::Positive, 1.0),
        spec("both", at(1, 13, 0, 0))
            .brands(&["acme", "globex"])
            .label(Label::Negative, -1.0),
        spec("g1", at(1, 14, 0, 0)).brands(&["globex"]),
        spec("other", at(1, 15, 0, 0)).brands(&["initech"]),
        spec("late", at(3, 0, 0, 0)).brands(&["globex"]),
    ];
    let (_dir, index) = index_with(&specs, &[], 3);
    let brands = vec![
        "acme".to_string(),
        "globex".to_string(),
        "umbrella".to_string(),
        "acme".to_string(),
    ];
    let mut filter = everything();
    filter.brand = Some("initech".into()); // ignored
    filter.from = Some(at(1, 0, 0, 0));
    filter.to = Some(at(2, 0, 0, 0));
    let shares = index.share_of_voice(&filter, &brands).unwrap();

    let names: Vec<&str> = shares.iter().map(|s| s.brand.as_str()).collect();
    assert_eq!(
        names,
        ["acme", "globex", "umbrella"],
        "order kept, duplicates out"
    );
    let mentions: Vec<u64> = shares.iter().map(|s| s.mentions).collect();
    assert_eq!(
        mentions,
        [4, 2, 0],
        "`late` is outside the filter's time range"
    );
    let total_share: f64 = shares.iter().map(|s| s.share).sum();
    assert!((total_share - 1.0).abs() < 1e-12, "{total_share}");
    assert!((shares[0].share - 4.0 / 6.0).abs() < 1e-12);

    let acme = &shares[0];
    assert_eq!((acme.labels.negative, acme.labels.positive), (2, 2));
    assert_eq!(acme.mean_score, Some(0.0));
    let globex = &shares[1];
    assert_eq!((globex.labels.negative, globex.labels.unscored), (1, 1));
    assert_eq!(globex.mean_score, Some(-1.0));
    assert_eq!(shares[2].mean_score, None);

    let json = serde_json::to_value(&shares[0]).unwrap();
    assert_eq!(json["brand"], "acme");
    assert_eq!(json["negative"], 2);

    let nobody = index
        .share_of_voice(&filter, &["umbrella".to_string()])
        .unwrap();
    assert_eq!(nobody[0].share, 0.0);
    assert!(index.share_of_voice(&filter, &[]).unwrap().is_empty());
}

#[test]
fn top_sources_orders_by_posts_with_negative_counts_and_mean_score() {
    let specs = vec![
        spec("r1", at(1, 1, 0, 0))
            .source("reddit")
            .label(Label::Negative, -0.5),
        spec("r2", at(1, 2, 0, 0))
            .source("reddit")
            .label(Label::Negative, -1.0),
        spec("r3", at(1, 3, 0, 0))
            .source("reddit")
            .label(Label::Positive, 0.0),
        spec("n1", at(1, 4, 0, 0))
            .source("news")
            .label(Label::Positive, 0.5),
        spec("n2", at(1, 5, 0, 0)).source("news"),
        spec("h1", at(1, 6, 0, 0))
            .source("hn")
            .label(Label::Neutral, 0.0),
        spec("b1", at(1, 7, 0, 0)).source("blog"),
    ];
    let (_dir, index) = index_with(&specs, &[], 2);
    let sources = index.top_sources(&everything(), 3).unwrap();
    let rows: Vec<(&str, u64, u64, Option<f64>)> = sources
        .iter()
        .map(|s| (s.source.as_str(), s.count, s.labels.negative, s.mean_score))
        .collect();
    assert_eq!(
        rows,
        [
            ("reddit", 3, 2, Some(-0.5)),
            ("news", 2, 0, Some(0.5)),
            ("blog", 1, 0, None), // ties by name: blog before hn
        ]
    );

    let mut negative = everything();
    negative.sentiment = Some(Label::Negative);
    let sources = index.top_sources(&negative, 10).unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].source, "reddit");
}

#[test]
fn top_authors_orders_by_total_reach_then_posts() {
    let specs = vec![
        spec("a1", at(1, 1, 0, 0))
            .author(Some("alice"))
            .likes(100)
            .label(Label::Negative, -0.5),
        spec("a2", at(1, 2, 0, 0))
            .author(Some("alice"))
            .likes(50)
            .label(Label::Negative, -1.0),
        spec("b1", at(1, 3, 0, 0)).author(Some("bob")).likes(500),
        spec("c1", at(1, 4, 0, 0)).author(Some("carol")).likes(75),
        spec("c2", at(1, 5, 0, 0)).author(Some("carol")).likes(75),
        spec("d1", at(1, 6, 0, 0)).author(Some("dave")).likes(150),
        spec("e1", at(1, 7, 0, 0)).author(Some("erin")),
        spec("anonymous", at(1, 8, 0, 0)).author(None).likes(10_000),
    ];
    let (_dir, index) = index_with(&specs, &[], 3);
    let authors = index.top_authors(&everything(), 10).unwrap();
    let rows: Vec<(&str, u64, u64, u64)> = authors
        .iter()
        .map(|a| (a.author.as_str(), a.total_reach, a.posts, a.max_reach))
        .collect();
    assert_eq!(
        rows,
        [
            ("bob", 500, 1, 500),
            // Same total reach: more posts first, then by name.
            ("alice", 150, 2, 100),
            ("carol", 150, 2, 75),
            ("dave", 150, 1, 150),
            ("erin", 0, 1, 0),
        ]
    );
    assert_eq!(authors[1].author, "alice");
    assert_eq!(authors[1].mean_score, Some(-0.75));
    assert_eq!(authors[0].mean_score, None);
    assert_eq!(index.top_authors(&everything(), 2).unwrap().len(), 2);
}

/// Chatter that goes on all the time; `n` varies the wording a little.
fn chatter(n: usize) -> String {
    let lines = [
        "I love my Acme kettle, the coffee is great this morning",
        "Acme kettle works fine, boiling water for tea again",
        "Just bought an Acme kettle and it is really nice",
        "我的艾克米水壶很好用，每天早上烧水泡茶",
    ];
    lines[n % lines.len()].to_string()
}

fn spike_corpus() -> Vec<Spec> {
    let mut specs = Vec::new();
    // Baseline: May 1, chatter only; 9 of the 24 posts name Acme in Latin letters.
    for n in 0..24 {
        let text = if n % 2 == 0 {
            chatter(n / 2)
        } else {
            "Boiling water for tea again this morning".to_string()
        };
        specs.push(spec(&format!("base-{n}"), at(1, n as u32, 0, 0)).text(&text));
    }
    // Period: May 2, chatter plus a recall in English and Chinese; every post names
    // Acme in Latin letters.
    for n in 0..24 {
        let text = match n % 4 {
            0 => "Acme announces a recall of the kettle after it explodes".to_string(),
            1 => "The Acme recall is on the news, kettles recalled".to_string(),
            2 => "Acme: 艾克米宣布召回水壶，因为水壶爆炸".to_string(),
            _ => chatter(n + 1),
        };
        specs.push(spec(&format!("period-{n}"), at(2, n as u32, 0, 0)).text(&text));
    }
    specs
}

#[test]
fn top_terms_finds_the_spike_word_ahead_of_common_words() {
    let (_dir, index) = index_with(&spike_corpus(), &["艾克米"], 10);
    let mut filter = everything();
    filter.brand = Some("acme".into());
    let top = index
        .top_terms(
            &filter,
            at(2, 0, 0, 0),
            at(3, 0, 0, 0),
            at(1, 0, 0, 0),
            at(2, 0, 0, 0),
            30,
        )
        .unwrap();
    assert_eq!((top.period.matched, top.period.sampled), (24, 24));
    assert_eq!((top.baseline.matched, top.baseline.sampled), (24, 24));

    let terms: Vec<&str> = top.terms.iter().map(|t| t.term.as_str()).collect();
    assert!(terms.len() >= 2, "{terms:?}");
    assert_eq!(terms[0], "recall", "{terms:?}");
    let recall = &top.terms[0];
    assert_eq!(recall.stem, "recal");
    assert_eq!((recall.count, recall.baseline_count), (12, 0));
    assert!((recall.rate - 0.5).abs() < 1e-12);
    assert!(recall.score > 10.83, "significant: {}", recall.score);
    assert!(!recall.is_brand);

    let zh_recall = terms
        .iter()
        .position(|t| *t == "召回")
        .expect("召回 listed");
    let zh_kettle = terms
        .iter()
        .position(|t| *t == "水壶")
        .unwrap_or(usize::MAX);
    assert!(
        zh_recall < zh_kettle,
        "召回 is new, 水壶 was there before: {terms:?}"
    );
    for common in ["kettle", "water", "tea", "morning", "水壶"] {
        if let Some(position) = terms.iter().position(|t| *t == common) {
            assert!(position > 0, "{common} ahead of recall: {terms:?}");
        }
    }
    for stopword in ["the", "is", "of", "it", "after", "因为", "的"] {
        assert!(!terms.contains(&stopword), "stopword {stopword}: {terms:?}");
    }
    for term in &top.terms {
        assert!(term.term.chars().count() >= 2, "{terms:?}");
        assert!(
            term.rate > term.baseline_rate && term.score >= 3.84,
            "only significantly over-represented terms: {term:?}"
        );
    }
    // "Acme" is in every period post but only 9 of 24 baseline ones: over-represented
    // but it is the filter's brand, so it is marked and listed after the other terms.
    let acme = top
        .terms
        .iter()
        .position(|t| t.term == "acme")
        .expect("acme is over-represented");
    assert!(top.terms[acme].is_brand);
    assert!(top.terms[..acme].iter().all(|t| !t.is_brand), "{terms:?}");
    assert_eq!(top.terms[acme].count, 24);
    assert_eq!(top.terms[acme].baseline_count, 9);
    // Scores never increase down the list of non-brand terms.
    for pair in top.terms[..acme].windows(2) {
        assert!(pair[0].score >= pair[1].score, "{terms:?}");
    }
    // Stemmed words show a word the posts used, not the stem.
    assert!(terms.contains(&"explodes"), "{terms:?}");
    assert!(!terms.contains(&"explod"), "{terms:?}");
}

#[test]
fn top_terms_samples_the_most_recent_posts() {
    let (_dir, index) = index_with(&spike_corpus(), &["艾克米"], 10);
    let options = TermsOptions {
        sample_size: 5,
        min_posts: 1,
        min_score: 0.0,
        originals_only: true,
    };
    let top = index
        .top_terms_with(
            &everything(),
            at(2, 0, 0, 0)..at(3, 0, 0, 0),
            at(1, 0, 0, 0)..at(2, 0, 0, 0),
            20,
            options,
        )
        .unwrap();
    assert_eq!((top.period.matched, top.period.sampled), (24, 5));
    assert_eq!((top.baseline.matched, top.baseline.sampled), (24, 5));
    // The 5 newest period posts are hours 19..=23: n % 4 = 3, 0, 1, 2, 3.
    let recall = top.terms.iter().find(|t| t.term == "recall").unwrap();
    assert_eq!(recall.count, 2);

    let reversed = index
        .top_terms(
            &everything(),
            at(3, 0, 0, 0),
            at(2, 0, 0, 0),
            at(1, 0, 0, 0),
            at(2, 0, 0, 0),
            10,
        )
        .unwrap_err();
    assert!(matches!(reversed, AggregateError::InvalidRange { .. }));
}

#[test]
fn aggregations_of_an_empty_index_are_empty_not_errors() {
    let (_dir, index) = index_with(&[], &[], 10);
    let timeline = index
        .timeline(
            &everything(),
            Interval::Hour,
            at(1, 0, 0, 0),
            at(1, 3, 0, 0),
        )
        .unwrap();
    assert_eq!(counts(&timeline), [0, 0, 0]);
    assert!(index.top_sources(&everything(), 10).unwrap().is_empty());
    assert!(index.top_authors(&everything(), 10).unwrap().is_empty());
    let shares = index
        .share_of_voice(&everything(), &["acme".to_string()])
        .unwrap();
    assert_eq!(shares[0].mentions, 0);
    let top = index
        .top_terms(
            &everything(),
            at(2, 0, 0, 0),
            at(3, 0, 0, 0),
            at(1, 0, 0, 0),
            at(2, 0, 0, 0),
            10,
        )
        .unwrap();
    assert!(top.terms.is_empty());
    assert_eq!(top.period.sampled, 0);
}
