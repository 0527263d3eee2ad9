//! The query classes of the benchmark and the latency measurement.
//!
//! Every class has about 20 distinct queries; a run times `iterations` searches per
//! class and engine, cycling through them, after one untimed warm-up pass over all of
//! them (which also records each query's hit count on both engines).

use std::time::Instant;

use serde::Serialize;

/// A class of queries, written in Vigil's query language.
#[derive(Debug, Clone, Copy)]
pub struct QueryClass {
    pub name: &'static str,
    pub queries: &'static [&'static str],
}

/// The search classes (the timeline is measured separately).
pub const CLASSES: &[QueryClass] = &[
    QueryClass {
        name: "term, English common",
        queries: &[
            "kettle",
            "toaster",
            "blender",
            "price",
            "quality",
            "lid",
            "design",
            "delivery",
            "great",
            "broken",
            "loud",
            "service",
            "customer",
            "stopped",
            "water",
            "coffee",
            "recommend",
            "warranty",
            "days",
            "dollars",
        ],
    },
    QueryClass {
        name: "term, English rare",
        queries: &[
            "recall",
            "explosion",
            "lawsuit",
            "hazard",
            "injury",
            "melted",
            "sparks",
            "smoke",
            "shock",
            "burned",
            "exploded",
            "dehumidifier",
            "thermostat",
            "hinge",
            "latch",
            "carafe",
            "gasket",
            "vandelay",
            "soylent",
            "descaled",
        ],
    },
    QueryClass {
        name: "phrase",
        queries: &[
            "\"acme kettle\"",
            "\"globex toaster\"",
            "\"acme blender\"",
            "\"globex coffee maker\"",
            "\"customer service\"",
            "\"stopped working\"",
            "\"waste of money\"",
            "\"highly recommend\"",
            "\"worth every penny\"",
            "\"out of the box\"",
            "\"battery life\"",
            "\"build quality\"",
            "\"return policy\"",
            "\"fell apart\"",
            "\"started to leak\"",
            "\"the refund took three weeks\"",
            "\"acme air fryer\"",
            "\"globex rice cooker\"",
            "\"five stars\"",
            "\"good value\"",
        ],
    },
    QueryClass {
        name: "boolean",
        queries: &[
            "acme AND (broken OR leak) NOT globex",
            "globex AND (refund OR warranty)",
            "(kettle OR toaster) AND loud NOT acme",
            "acme AND recall",
            "(acme OR globex) AND (fire OR smoke OR sparks)",
            "globex AND blender NOT noisy",
            "(great OR excellent) AND acme",
            "(terrible OR awful OR useless) AND globex",
            "acme AND \"customer service\"",
            "kettle AND (lid OR handle) NOT globex",
            "(refund OR return) AND (acme OR globex)",
            "toaster AND (fast OR quiet)",
            "\"stopped working\" AND (acme OR globex)",
            "(mixer OR blender) AND motor",
            "acme AND (loud OR noisy OR rattles)",
            "globex AND (price OR overpriced) NOT cheap",
            "(heater OR fan) AND (shock OR fire)",
            "acme AND globex",
            "(coffee OR tea) AND acme NOT broken",
            "vacuum AND (battery OR filter)",
        ],
    },
    QueryClass {
        name: "Chinese term",
        queries: &[
            "艾克米",
            "环球",
            "召回",
            "爆炸",
            "质量",
            "客服",
            "水壶",
            "失望",
            "满意",
            "漏电",
            "起火",
            "价格",
            "物流",
            "咖啡机",
            "电饭煲",
            "售后",
            "做工",
            "推荐",
            "后悔",
            "安全隐患",
        ],
    },
];

/// Latency of one class on one engine.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Mean over the timed samples of the hits each query reported (its exact total).
    pub mean_hits: f64,
    /// Mean latency of each distinct query, in the class's order.
    pub per_query_mean_ms: Vec<f64>,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], share: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (share * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs every item once untimed (returning their hit counts), then `iterations` timed
/// runs cycling through the items.
pub fn measure<T>(
    items: &[T],
    iterations: usize,
    mut run: impl FnMut(&T) -> anyhow::Result<u64>,
) -> anyhow::Result<(Vec<u64>, Latency)> {
    let warm_up = items
        .iter()
        .map(&mut run)
        .collect::<anyhow::Result<Vec<u64>>>()?;
    let mut millis = Vec::with_capacity(iterations);
    let mut per_item = vec![(0.0, 0u32); items.len()];
    let mut hits = 0u64;
    for n in 0..iterations {
        let item = &items[n % items.len()];
        let started = Instant::now();
        hits += run(item)?;
        let elapsed = started.elapsed().as_secs_f64() * 1e3;
        millis.push(elapsed);
        per_item[n % items.len()].0 += elapsed;
        per_item[n % items.len()].1 += 1;
    }
    let per_query_mean_ms = per_item
        .iter()
        .map(|&(sum, runs)| {
            if runs == 0 {
                0.0
            } else {
                sum / f64::from(runs)
            }
        })
        .collect();
    let mean_ms = millis.iter().sum::<f64>() / millis.len().max(1) as f64;
    millis.sort_by(f64::total_cmp);
    Ok((
        warm_up,
        Latency {
            samples: millis.len(),
            p50_ms: percentile(&millis, 0.50),
            p99_ms: percentile(&millis, 0.99),
            max_ms: millis.last().copied().unwrap_or(0.0),
            mean_ms,
            mean_hits: hits as f64 / millis.len().max(1) as f64,
            per_query_mean_ms,
        },
    ))
}

#[cfg(test)]
mod tests {
    use vigil_core::Query;

    use super::*;
    use crate::fts5;

    #[test]
    fn every_query_parses_and_translates_to_fts5() {
        for class in CLASSES {
            assert!(class.queries.len() >= 20, "{}", class.name);
            for query in class.queries {
                let parsed = Query::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
                let expression = fts5::translate(&parsed)
                    .unwrap_or_else(|e| panic!("{query}: {e}"))
                    .unwrap_or_else(|| panic!("{query}: no MATCH"));
                assert!(!expression.is_empty());
            }
        }
    }

    #[test]
    fn the_queries_find_posts_in_a_small_corpus() {
        let mut generator = crate::corpus::Generator::new(50_000, 42);
        let texts: Vec<vigil_core::query::MatchText> = (0..50_000)
            .map(|n| vigil_core::query::MatchText::new(&generator.post(n).text))
            .collect();
        for class in CLASSES {
            let mut empty = Vec::new();
            for query in class.queries {
                let parsed = Query::parse(query).expect("valid");
                if !texts.iter().any(|text| parsed.matches_prepared(text)) {
                    empty.push(*query);
                }
            }
            // Stemmed queries ("exploded") may only match through the index's stemming.
            assert!(
                empty.len() <= 2,
                "{}: no post matches {empty:?}",
                class.name
            );
        }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 100.0);
        assert_eq!(percentile(&values, 0.99), 198.0);
        assert_eq!(percentile(&values, 1.0), 200.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        let (warm, latency) = measure(&[3u64, 5], 10, |&n| Ok(n)).expect("measures");
        assert_eq!(warm, vec![3, 5]);
        assert_eq!(latency.samples, 10);
        assert_eq!(latency.mean_hits, 4.0);
        assert_eq!(latency.per_query_mean_ms.len(), 2);
    }
}
