//! Trains the `learned` model on the labelled corpora in `../shared/data` and prints dev
//! and test figures per set. Builds the model shipped in `learned/models/`:
//!
//! ```text
//! cargo run --release -p vigil-learned --example train_shared -- \
//!     --out learned/models/sentiment.vlm --json /tmp/metrics.json
//! ```
//!
//! Per set: read (bad rows counted), dedupe (conflicting labels dropped), seeded
//! 80/10/10 split by text hash. One model is trained on the union of the train parts
//! (minus any text that is in some dev or test part), tuned and calibrated on the
//! union of the dev parts, and reported on each test part. TweetEval is three-class
//! (macro-F1); the other sets are binary (accuracy of negative vs positive, with the
//! three-class accuracy and neutral share alongside). Weibo is read with its emoticon
//! codes stripped (its labels were derived from them).
//!
//! Options: `--data DIR` (default `../shared/data` next to the workspace), `--out
//! MODEL`, `--json FILE`, `--tune` (search the configuration on dev first), `--seed N`
//! (split seed), `--epochs N`, `--hash-bits N`, `--latin-char-ngrams MIN-MAX|off`,
//! `--class-weighting none|balanced|sqrt`, `--l2 X`, `--learning-rate X`,
//! `--polar-neutral-weight X`, `--no-average`, `--no-quantize`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use vigil_core::Label;
use vigil_learned::{
    ClassWeighting, Evaluation, Example, Model, NgramRange, NoDense, SplitFractions, Splits,
    TrainConfig, dedupe, expected_calibration_error, read_dataset, split, train,
    train_with_progress,
};

struct Args {
    data: PathBuf,
    out: Option<PathBuf>,
    json: Option<PathBuf>,
    tune: bool,
    seed: u64,
    config: TrainConfig,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
        out: None,
        json: None,
        tune: false,
        seed: 20_261_123,
        config: TrainConfig::default(),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => args.data = PathBuf::from(value()?),
            "--out" => args.out = Some(PathBuf::from(value()?)),
            "--json" => args.json = Some(PathBuf::from(value()?)),
            "--tune" => args.tune = true,
            "--no-quantize" => args.config.quantize = false,
            "--no-average" => args.config.average = false,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--epochs" => {
                args.config.epochs = value()?.parse().map_err(|e| format!("--epochs: {e}"))?
            }
            "--hash-bits" => {
                args.config.features.hash_bits =
                    value()?.parse().map_err(|e| format!("--hash-bits: {e}"))?
            }
            "--polar-neutral-weight" => {
                args.config.polar_neutral_weight = value()?
                    .parse()
                    .map_err(|e| format!("--polar-neutral-weight: {e}"))?
            }
            "--l2" => args.config.l2 = value()?.parse().map_err(|e| format!("--l2: {e}"))?,
            "--learning-rate" => {
                args.config.learning_rate = value()?
                    .parse()
                    .map_err(|e| format!("--learning-rate: {e}"))?
            }
            "--latin-char-ngrams" => {
                let raw = value()?;
                args.config.features.latin_char_ngrams = if raw == "off" {
                    None
                } else {
                    let (min, max) = raw
                        .split_once('-')
                        .ok_or("--latin-char-ngrams takes MIN-MAX or off")?;
                    Some(NgramRange {
                        min: min
                            .parse()
                            .map_err(|e| format!("--latin-char-ngrams: {e}"))?,
                        max: max
                            .parse()
                            .map_err(|e| format!("--latin-char-ngrams: {e}"))?,
                    })
                }
            }
            "--class-weighting" => {
                args.config.class_weighting = match value()?.as_str() {
                    "none" => ClassWeighting::None,
                    "balanced" => ClassWeighting::Balanced,
                    "sqrt" => ClassWeighting::SqrtBalanced,
                    other => return Err(format!("--class-weighting {other}?")),
                }
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

/// One corpus, split.
struct Set {
    name: &'static str,
    three_class: bool,
    splits: Splits,
}

const SOURCES: &[(&str, bool, &[&str])] = &[
    (
        "en uci",
        false,
        &[
            "sentiment/en/uci_sentiment_labelled_sentences/amazon_cells_labelled.txt",
            "sentiment/en/uci_sentiment_labelled_sentences/yelp_labelled.txt",
            "sentiment/en/uci_sentiment_labelled_sentences/imdb_labelled.txt",
        ],
    ),
    ("en sst2", false, &["sentiment/en/glue_sst2/dev.tsv"]),
    (
        "en tweeteval",
        true,
        &[
            "sentiment/en/tweeteval_sentiment/val.filtered.tsv",
            "sentiment/en/tweeteval_sentiment/test.filtered.tsv",
        ],
    ),
    (
        "zh waimai",
        false,
        &["sentiment/zh/chinesenlpcorpus/waimai_10k.csv"],
    ),
    (
        "zh online_shopping",
        false,
        &["sentiment/zh/chinesenlpcorpus/online_shopping_10_cats.no_hotel_book_computer.csv"],
    ),
    (
        "zh weibo",
        false,
        &["sentiment/zh/weibo_senti_100k_split/dev.csv"],
    ),
];

fn load_sets(data: &Path, seed: u64) -> Result<Vec<Set>, String> {
    let mut sets = Vec::new();
    for &(name, three_class, files) in SOURCES {
        let mut examples = Vec::new();
        for file in files {
            let dataset = read_dataset(&data.join(file)).map_err(|e| e.to_string())?;
            println!("  read {}", dataset.summary());
            for bad in &dataset.bad_row_samples {
                println!("    bad row {}: {}", bad.line, bad.reason);
            }
            examples.extend(dataset.examples);
        }
        let (examples, stats) = dedupe(examples);
        println!(
            "  {name}: dedupe kept {} of {} ({} duplicates, {} conflicting texts = {} rows dropped)",
            stats.kept,
            stats.input,
            stats.duplicates_removed,
            stats.conflicting_texts,
            stats.conflicting_examples_removed
        );
        let splits = split(examples, SplitFractions::default(), seed);
        println!(
            "  {name}: train {} / dev {} / test {}",
            splits.train.len(),
            splits.dev.len(),
            splits.test.len()
        );
        sets.push(Set {
            name,
            three_class,
            splits,
        });
    }
    Ok(sets)
}

/// The union of the train parts, without any text that is in a dev or test part.
fn combined_train(sets: &[Set]) -> Vec<Example> {
    let held_out: HashSet<&str> = sets
        .iter()
        .flat_map(|set| set.splits.dev.iter().chain(&set.splits.test))
        .map(|example| example.text.as_str())
        .collect();
    let mut seen = HashSet::new();
    let mut train = Vec::new();
    let mut dropped = 0;
    for example in sets.iter().flat_map(|set| &set.splits.train) {
        if held_out.contains(example.text.as_str()) || !seen.insert(example.text.as_str()) {
            dropped += 1;
            continue;
        }
        train.push(example.clone());
    }
    println!(
        "  combined train: {} examples ({dropped} dropped: in another set's dev/test or train)",
        train.len()
    );
    train
}

/// Figures of one model on one part of one set.
struct PartFigures {
    /// TweetEval: three-class macro-F1; binary sets: negative-vs-positive accuracy.
    primary: f64,
    /// Half-width of the 95 % bootstrap interval of `primary`.
    margin: f64,
    evaluation: Evaluation,
    three_class_accuracy: f64,
    neutral_share: f64,
    ece: f64,
}

fn evaluate(model: &Model, set: &Set, examples: &[Example], with_margin: bool) -> PartFigures {
    let predictor = model.predictor(&NoDense).expect("NoDense model");
    let predictions: Vec<_> = examples
        .iter()
        .map(|example| predictor.predict(&example.text, example.lang.as_deref()))
        .collect();
    let three = Evaluation::three_class(
        examples
            .iter()
            .zip(&predictions)
            .map(|(example, prediction)| (example.label, prediction.label)),
    );
    let neutral_share = predictions
        .iter()
        .filter(|prediction| prediction.label == Label::Neutral)
        .count() as f64
        / predictions.len().max(1) as f64;
    let ece = expected_calibration_error(
        examples
            .iter()
            .zip(&predictions)
            .map(|(example, prediction)| {
                (prediction.confidence, prediction.label == example.label)
            }),
        15,
    );
    if set.three_class {
        let pairs: Vec<(Label, Label)> = examples
            .iter()
            .zip(&predictions)
            .map(|(example, prediction)| (example.label, prediction.label))
            .collect();
        PartFigures {
            primary: three.macro_f1,
            margin: if with_margin {
                bootstrap_margin(&pairs, |sample| {
                    Evaluation::three_class(sample.iter().copied()).macro_f1
                })
            } else {
                0.0
            },
            three_class_accuracy: three.accuracy,
            evaluation: three,
            neutral_share,
            ece,
        }
    } else {
        let pairs: Vec<(Label, Label)> = examples
            .iter()
            .zip(&predictions)
            .map(|(example, prediction)| (example.label, prediction.polar_label()))
            .collect();
        let binary = Evaluation::binary(pairs.iter().copied());
        PartFigures {
            primary: binary.accuracy,
            margin: if with_margin {
                bootstrap_margin(&pairs, |sample| {
                    Evaluation::binary(sample.iter().copied()).accuracy
                })
            } else {
                0.0
            },
            three_class_accuracy: three.accuracy,
            evaluation: binary,
            neutral_share,
            ece,
        }
    }
}

/// Half the width of the 95 % percentile interval of `metric` over 1,000 bootstrap
/// resamples (seeded, so the report is reproducible).
fn bootstrap_margin(pairs: &[(Label, Label)], metric: impl Fn(&[(Label, Label)]) -> f64) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    let mut state = 0x000B_0075_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut values: Vec<f64> = (0..1_000)
        .map(|_| {
            let sample: Vec<(Label, Label)> = (0..pairs.len())
                .map(|_| pairs[(next() % pairs.len() as u64) as usize])
                .collect();
            metric(&sample)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    (values[974] - values[25]) / 2.0
}

/// Mean of the primary dev figures over the sets: the tuning objective.
fn dev_objective(model: &Model, sets: &[Set]) -> (f64, Vec<f64>) {
    let figures: Vec<f64> = sets
        .iter()
        .map(|set| evaluate(model, set, &set.splits.dev, false).primary)
        .collect();
    (figures.iter().sum::<f64>() / figures.len() as f64, figures)
}

fn describe(config: &TrainConfig) -> String {
    format!(
        "bits={} latin={} cjk={}-{} lr={} l2={} weighting={:?} polar_neutral={} average={} neg={} signals={}",
        config.features.hash_bits,
        config
            .features
            .latin_char_ngrams
            .map_or("off".to_owned(), |r| format!("{}-{}", r.min, r.max)),
        config.features.cjk_char_ngrams.min,
        config.features.cjk_char_ngrams.max,
        config.learning_rate,
        config.l2,
        config.class_weighting,
        config.polar_neutral_weight,
        config.average,
        config.features.negation,
        config.features.signals,
    )
}

/// Tries variants one dimension at a time around `base`, choosing the epoch count per
/// variant on dev; returns the best configuration.
fn tune(base: &TrainConfig, train_examples: &[Example], sets: &[Set]) -> TrainConfig {
    let mut best = base.clone();
    best.epochs = 10;
    best.quantize = false;
    let mut best_score = f64::MIN;
    type Variant = fn(&mut TrainConfig);
    let dimensions: Vec<Vec<(&str, Variant)>> = vec![
        vec![
            ("average on", |c| c.average = true),
            ("average off", |c| c.average = false),
        ],
        vec![
            ("latin off", |c| c.features.latin_char_ngrams = None),
            ("latin 3-5", |c| {
                c.features.latin_char_ngrams = Some(NgramRange { min: 3, max: 5 })
            }),
            ("latin 2-4", |c| {
                c.features.latin_char_ngrams = Some(NgramRange { min: 2, max: 4 })
            }),
        ],
        vec![
            ("cjk 1-3", |c| {
                c.features.cjk_char_ngrams = NgramRange { min: 1, max: 3 }
            }),
            ("cjk 1-2", |c| {
                c.features.cjk_char_ngrams = NgramRange { min: 1, max: 2 }
            }),
            ("cjk 1-4", |c| {
                c.features.cjk_char_ngrams = NgramRange { min: 1, max: 4 }
            }),
        ],
        vec![
            ("weighting sqrt", |c| {
                c.class_weighting = ClassWeighting::SqrtBalanced
            }),
            ("weighting none", |c| {
                c.class_weighting = ClassWeighting::None
            }),
            ("weighting balanced", |c| {
                c.class_weighting = ClassWeighting::Balanced
            }),
        ],
        vec![
            ("l2 1e-5", |c| c.l2 = 1e-5),
            ("l2 0", |c| c.l2 = 0.0),
            ("l2 1e-6", |c| c.l2 = 1e-6),
            ("l2 1e-4", |c| c.l2 = 1e-4),
            ("l2 1e-3", |c| c.l2 = 1e-3),
        ],
        vec![
            ("lr 0.2", |c| c.learning_rate = 0.2),
            ("lr 0.1", |c| c.learning_rate = 0.1),
            ("lr 0.5", |c| c.learning_rate = 0.5),
        ],
    ];
    for dimension in dimensions {
        let mut dimension_best = best.clone();
        for (label, apply) in dimension {
            let mut candidate = best.clone();
            apply(&mut candidate);
            candidate.epochs = 10;
            let started = Instant::now();
            let mut per_epoch = Vec::new();
            train_with_progress(train_examples, &candidate, &NoDense, |epoch, model| {
                per_epoch.push((epoch, dev_objective(model, sets)));
            })
            .expect("valid configuration");
            let (epoch, (score, figures)) = per_epoch
                .iter()
                .cloned()
                .max_by(|a, b| a.1.0.total_cmp(&b.1.0))
                .expect("at least one epoch");
            println!(
                "  tune {label:<20} best epoch {epoch:>2}: dev mean {score:.4} [{}] ({:.1} s)",
                figures
                    .iter()
                    .map(|f| format!("{f:.3}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                started.elapsed().as_secs_f64()
            );
            if score > best_score {
                best_score = score;
                dimension_best = candidate;
                dimension_best.epochs = epoch;
            }
        }
        best = dimension_best;
        println!("  -> {} epochs={}", describe(&best), best.epochs);
    }
    best.quantize = base.quantize;
    best
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("train_shared: {message}");
            std::process::exit(2);
        }
    };
    if !args.data.join("sentiment").exists() {
        println!("skipped: {} not present", args.data.display());
        return;
    }
    println!("load average at start: {}", load_average());
    let started = Instant::now();
    let sets = match load_sets(&args.data, args.seed) {
        Ok(sets) => sets,
        Err(message) => {
            eprintln!("train_shared: {message}");
            std::process::exit(1);
        }
    };
    let train_examples = combined_train(&sets);
    let dev_examples: Vec<Example> = sets
        .iter()
        .flat_map(|set| set.splits.dev.iter().cloned())
        .collect();

    let config = if args.tune {
        let tuning_started = Instant::now();
        let tuned = tune(&args.config, &train_examples, &sets);
        println!(
            "tuning took {:.0} s; load average {}",
            tuning_started.elapsed().as_secs_f64(),
            load_average()
        );
        tuned
    } else {
        args.config.clone()
    };
    println!(
        "training: {} epochs={} seed={}",
        describe(&config),
        config.epochs,
        config.seed
    );

    let training_started = Instant::now();
    let float_config = TrainConfig {
        quantize: false,
        ..config.clone()
    };
    let mut model = train(&train_examples, &float_config, &NoDense).expect("valid configuration");
    let training_seconds = training_started.elapsed().as_secs_f64();
    let (float_dev, _) = dev_objective(&model, &sets);
    if config.quantize {
        model.quantize();
    }
    let (quantized_dev, _) = dev_objective(&model, &sets);
    println!(
        "trained in {training_seconds:.1} s (load average {}); dev mean float {float_dev:.4}, \
         8-bit {quantized_dev:.4}",
        load_average()
    );
    let (empty, buckets) = model.empty_buckets();
    println!("buckets: {empty} of {buckets} never used");

    let uncalibrated = model.clone();
    let calibration = model
        .calibrate(&dev_examples, &NoDense)
        .expect("NoDense model");
    println!(
        "calibration on {} dev examples: temperature {:.3}, NLL {:.4} -> {:.4}, ECE {:.4} -> {:.4}",
        calibration.examples,
        calibration.temperature,
        calibration.nll_before,
        calibration.nll_after,
        calibration.ece_before,
        calibration.ece_after
    );

    let test_examples: Vec<Example> = sets
        .iter()
        .flat_map(|set| set.splits.test.iter().cloned())
        .collect();
    let test_ece = |model: &Model| {
        expected_calibration_error(
            test_examples.iter().map(|example| {
                let prediction = model
                    .predict(&example.text, example.lang.as_deref(), &NoDense)
                    .expect("NoDense model");
                (prediction.confidence, prediction.label == example.label)
            }),
            15,
        )
    };
    let (test_ece_before, test_ece_after) = (test_ece(&uncalibrated), test_ece(&model));
    println!(
        "ECE on the {} test examples: {test_ece_before:.4} uncalibrated, {test_ece_after:.4} calibrated",
        test_examples.len()
    );

    let mut report = Vec::new();
    println!();
    println!(
        "| set | metric | n dev | dev | n test | test (± 95 % CI) | test 3-class acc | test neutral share | test ECE |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for set in &sets {
        let dev = evaluate(&model, set, &set.splits.dev, true);
        let test = evaluate(&model, set, &set.splits.test, true);
        let metric = if set.three_class {
            "macro-F1 (3-class)"
        } else {
            "accuracy (neg/pos)"
        };
        println!(
            "| {} | {metric} | {} | {:.3} | {} | {:.3} ± {:.3} | {:.3} | {:.3} | {:.3} |",
            set.name,
            set.splits.dev.len(),
            dev.primary,
            set.splits.test.len(),
            test.primary,
            test.margin,
            test.three_class_accuracy,
            test.neutral_share,
            test.ece
        );
        report.push(json!({
            "set": set.name,
            "metric": metric,
            "train": set.splits.train.len(),
            "dev": {"n": set.splits.dev.len(), "primary": dev.primary, "evaluation": dev.evaluation,
                    "three_class_accuracy": dev.three_class_accuracy, "neutral_share": dev.neutral_share, "ece": dev.ece},
            "test": {"n": set.splits.test.len(), "primary": test.primary, "ci95_margin": test.margin, "evaluation": test.evaluation,
                     "three_class_accuracy": test.three_class_accuracy, "neutral_share": test.neutral_share, "ece": test.ece},
        }));
    }
    println!();
    for set in &sets {
        let test = evaluate(&model, set, &set.splits.test, false);
        println!("{} test:\n{}", set.name, test.evaluation);
    }

    let metadata = json!({
        "trained_by": "cargo run --release -p vigil-learned --example train_shared",
        "data": "../shared/data (development sets), 80/10/10 split by text hash",
        "split_seed": args.seed,
        "sets": SOURCES.iter().map(|(name, _, _)| *name).collect::<Vec<_>>(),
        "train_examples": train_examples.len(),
        "train_config": config,
        "calibration": calibration,
        "test": report.iter().map(|r| json!({"set": r["set"], "metric": r["metric"], "value": r["test"]["primary"]})).collect::<Vec<_>>(),
    });
    model.set_metadata(metadata.to_string());
    if let Some(out) = &args.out {
        if let Err(error) = model.save(out) {
            eprintln!("train_shared: {error}");
            std::process::exit(1);
        }
        let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
        println!("wrote {} ({size} bytes)", out.display());
    }
    if let Some(path) = &args.json {
        let document = json!({
            "config": config,
            "training_seconds": training_seconds,
            "calibration": calibration,
            "test_ece": {"uncalibrated": test_ece_before, "calibrated": test_ece_after},
            "sets": report,
        });
        if let Err(error) = std::fs::write(
            path,
            serde_json::to_string_pretty(&document).unwrap_or_default(),
        ) {
            eprintln!("train_shared: {}: {error}", path.display());
            std::process::exit(1);
        }
    }
    println!(
        "total {:.1} s; load average at end: {}",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}
