#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use vigil_core::{Label, Post, Provenance, Sentiment, post_id, sha256_hex};

pub fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap()
}

/// A post from `source` with `external_id`, mentioning `brands`, published at `published_at`.
pub fn post(source: &str, external_id: &str, brands: &[&str], published_at: DateTime<Utc>) -> Post {
    let text = format!("post {external_id} from {source}");
    Post {
        id: post_id(source, external_id),
        source: source.to_string(),
        external_id: external_id.to_string(),
        url: Some(format!(
            "https://{source}.example/{external_id}?utm_source=x"
        )),
        canonical_url: Some(format!("https://{source}.example/{external_id}")),
        author: Some(format!("@author_{external_id}")),
        title: Some(format!("Title {external_id}")),
        text,
        lang: Some("en".into()),
        published_at,
        brands: brands.iter().map(|b| b.to_string()).collect(),
        provenance: Provenance {
            fetched_at: published_at + chrono::Duration::nanoseconds(123_456_789),
            fetch_url: format!("https://{source}.example/feed.xml"),
            http_status: Some(200),
            content_hash: sha256_hex(external_id),
            extraction: "rss:atom/entry".into(),
            raw_sha256: None,
        },
        sentiment: None,
        engagement: Default::default(),
        duplicate_of: None,
    }
}

pub fn sentiment(label: Label, score: f32) -> Sentiment {
    Sentiment {
        label,
        score,
        confidence: 0.75,
        lang: "en".into(),
        backend: "lexicon".into(),
        version: "vader-0.1.1".into(),
    }
}
