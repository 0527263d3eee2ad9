//! `vigil classifier train`: trains a `learned` model from labelled files.
//!
//! Every file is read by `vigil_learned::read_dataset` (JSON Lines or the layouts of
//! ../shared/data; Weibo's emoticon codes stripped), deduplicated and split 80/10/10
//! by a seeded hash of the text. One model is trained on the union of the train parts
//! (minus texts held out in another file's dev or test part), calibrated on the dev
//! parts and evaluated on each file's test part. The model is written atomically.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use vigil_classifier::{LexiconClassifier, LexiconFeatures};
use vigil_core::{Classifier as _, Label};
use vigil_learned::{
    DenseFeatures, Evaluation, Example, Model, NoDense, SplitFractions, Splits, TrainConfig,
    dedupe, read_dataset, split, train_with_progress,
};

/// Options of `vigil classifier train`.
pub struct TrainOptions {
    pub files: Vec<PathBuf>,
    pub out: PathBuf,
    pub seed: u64,
    pub epochs: Option<u32>,
    pub lexicon_features: bool,
    /// Analysts' corrections from the store (`--with-corrections`).
    pub corrections: Option<Vec<vigil_store::CorrectedExample>>,
    pub correction_weight: usize,
    pub brand_min: usize,
    pub brand_weight: usize,
    pub brand_posts: BrandPosts,
}

/// Per brand, the text and language of its stored posts no analyst labelled.
pub(crate) type BrandPosts = std::collections::HashMap<String, Vec<(String, Option<String>)>>;

/// The name of the corrections' part.
const CORRECTIONS: &str = "corrections";

/// How many of a corrected brand's latest uncorrected posts anchor the models.
pub(crate) const BRAND_ANCHORS: usize = 2000;

pub(crate) struct Part {
    pub name: String,
    pub three_class: bool,
    pub splits: Splits,
}

/// Reads, dedupes and splits every file (seeded by `seed`).
fn read_parts(files: &[PathBuf], seed: u64) -> anyhow::Result<Vec<Part>> {
    let mut parts = Vec::new();
    for path in files {
        let dataset = read_dataset(path).map_err(|error| anyhow::anyhow!("{error}"))?;
        if dataset.examples.is_empty() {
            anyhow::bail!(
                "{}: no labelled examples ({} bad rows)",
                path.display(),
                dataset.bad_rows
            );
        }
        println!("read {}", dataset.summary());
        parts.push(split_part(
            path.display().to_string(),
            dataset.examples,
            seed,
        ));
    }
    Ok(parts)
}

fn split_part(name: String, examples: Vec<Example>, seed: u64) -> Part {
    let three_class = examples.iter().any(|example| !example.polar_only);
    let (examples, stats) = dedupe(examples);
    let splits = split(examples, SplitFractions::default(), seed);
    println!(
        "  {name}: kept {} of {} after dedupe; train {} / dev {} / test {}",
        stats.kept,
        stats.input,
        splits.train.len(),
        splits.dev.len(),
        splits.test.len()
    );
    Part {
        name,
        three_class,
        splits,
    }
}

/// `vigil classifier split`: every file's parts as JSON Lines.
pub fn write_splits(files: &[PathBuf], out: &Path, seed: u64) -> anyhow::Result<ExitCode> {
    let parts = read_parts(files, seed)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut used = HashSet::new();
    for (part, path) in parts.iter().zip(files) {
        let stem = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| "data".into());
        // Two inputs with one file name (train.tsv in two folders) get distinct outputs.
        let mut name = stem.clone();
        let mut n = 2;
        while !used.insert(name.clone()) {
            name = format!("{stem}-{n}");
            n += 1;
        }
        for (which, examples) in [
            ("train", &part.splits.train),
            ("dev", &part.splits.dev),
            ("test", &part.splits.test),
        ] {
            let target = out.join(format!("{name}.{which}.jsonl"));
            let mut text = String::new();
            for example in examples {
                text.push_str(&serde_json::to_string(&serde_json::json!({
                    "text": example.text,
                    "label": example.label.as_str(),
                    "lang": example.lang,
                }))?);
                text.push('\n');
            }
            std::fs::write(&target, text)
                .with_context(|| format!("cannot write {}", target.display()))?;
            println!("wrote {} ({} texts)", target.display(), examples.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What both `train` and `train-head` learn from: every file's parts, plus the
/// corrections part, with the training texts (minus anything held out in some dev or
/// test part) and the dev texts.
pub(crate) struct Prepared {
    pub parts: Vec<Part>,
    /// Test-only parts: the corrections of each brand with enough of them.
    pub brand_parts: Vec<Part>,
    /// The same brands' corrections, split as the corrections part is: what a brand's
    /// own model learns from (on top of `train`), is calibrated and tested on.
    pub brands: Vec<BrandSet>,
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
    /// The train texts of the files alone, without corrections: what the anchors'
    /// labels come from. Empty without anchors.
    pub base_train: Vec<Example>,
    /// The corrected brands' other stored posts (`label` a placeholder). Labelled by a
    /// model trained without corrections and trained on with the corrections, they
    /// keep a correction from teaching "this brand's name is neutral": the brand's
    /// name appears in no labelled file, so without them it carries the corrections'
    /// label onto every post of the brand.
    pub anchors: Vec<Example>,
}

/// One brand's corrections in the corrections part's split.
pub(crate) struct BrandSet {
    pub brand: String,
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
    pub test: Vec<Example>,
    /// The brand's other stored posts (no analyst label; `label` is a placeholder),
    /// among [`Prepared::anchors`]: where the brand's model is compared with the shared
    /// one.
    pub others: Vec<Example>,
}

impl BrandSet {
    /// `base` plus this brand's train texts `weight` more times.
    pub fn weighted_train<'a>(
        &'a self,
        base: &'a [Example],
        weight: usize,
    ) -> impl Iterator<Item = &'a Example> {
        base.iter()
            .chain((0..weight).flat_map(move |_| self.train.iter()))
    }
}

/// Where a brand's model goes: next to `out`, the brand's name (lower case, letters
/// and digits kept, anything else `-`) before the extension: `sentiment.vlm` →
/// `sentiment.acme.vlm`.
pub(crate) fn brand_model_path(out: &Path, brand: &str) -> PathBuf {
    let mut slug = String::new();
    for c in brand.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "brand" } else { slug };
    let stem = out
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let name = match out.extension() {
        Some(ext) => format!("{stem}.{slug}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{slug}"),
    };
    out.with_file_name(name)
}

/// The `[classifier.brand_models]` lines that put `models` to use.
pub(crate) fn print_brand_config(models: &[(String, PathBuf)]) {
    if models.is_empty() {
        return;
    }
    println!();
    println!("to score these brands' posts with their own models, add to the config:");
    println!("[classifier.brand_models]");
    for (brand, path) in models {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        println!(
            "{} = {}",
            toml_string(brand),
            toml_string(&path.display().to_string())
        );
    }
    println!("then re-score stored posts with `vigil classifier rescore`");
}

fn toml_string(text: &str) -> String {
    // A JSON string is a valid TOML basic string.
    serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
}

pub(crate) fn prepare(
    files: &[PathBuf],
    seed: u64,
    corrections: Option<&[vigil_store::CorrectedExample]>,
    correction_weight: usize,
    brand_min: usize,
    brand_posts: &BrandPosts,
) -> anyhow::Result<Prepared> {
    let mut parts = read_parts(files, seed)?;
    // Analysts' corrections: one more part, its train texts counted `correction_weight`
    // times; per-brand test lines where a brand has enough of them.
    let mut brand_parts = Vec::new();
    let mut brand_sets = Vec::new();
    let mut weighted: Vec<Example> = Vec::new();
    if let Some(corrections) = corrections {
        println!("read {} corrected posts from the store", corrections.len());
        if !corrections.is_empty() {
            let examples: Vec<Example> = corrections
                .iter()
                .map(|c| Example {
                    text: c.text.clone(),
                    lang: c.lang.clone(),
                    label: c.label,
                    polar_only: false,
                })
                .collect();
            let part = split_part(CORRECTIONS.into(), examples, seed);
            for _ in 1..correction_weight {
                weighted.extend(part.splits.train.iter().cloned());
            }
            let brands: std::collections::BTreeSet<&str> = corrections
                .iter()
                .flat_map(|c| c.brands.iter().map(String::as_str))
                .collect();
            for brand in brands {
                let texts: HashSet<&str> = corrections
                    .iter()
                    .filter(|c| c.brands.iter().any(|b| b == brand))
                    .map(|c| c.text.as_str())
                    .collect();
                let of_brand = |examples: &[Example]| -> Vec<Example> {
                    examples
                        .iter()
                        .filter(|e| texts.contains(e.text.as_str()))
                        .cloned()
                        .collect()
                };
                // Distinct texts left after dedupe: forty copies of one post teach one
                // thing.
                let distinct = [&part.splits.train, &part.splits.dev, &part.splits.test]
                    .iter()
                    .map(|examples| of_brand(examples).len())
                    .sum::<usize>();
                if distinct < brand_min {
                    if distinct > 0 {
                        println!(
                            "  brand {brand}: {distinct} distinct corrected texts, fewer than \
                             --brand-min {brand_min}: no model of its own"
                        );
                    }
                    continue;
                }
                let test = of_brand(&part.splits.test);
                let corrected: HashSet<&str> =
                    corrections.iter().map(|c| c.text.as_str()).collect();
                let mut seen = HashSet::new();
                let others = brand_posts
                    .get(brand)
                    .into_iter()
                    .flatten()
                    .filter(|(text, _)| !corrected.contains(text.as_str()) && seen.insert(text))
                    .map(|(text, lang)| Example {
                        text: text.clone(),
                        lang: lang.clone(),
                        label: Label::Neutral,
                        polar_only: false,
                    })
                    .collect();
                brand_sets.push(BrandSet {
                    brand: brand.to_owned(),
                    train: of_brand(&part.splits.train),
                    dev: of_brand(&part.splits.dev),
                    test: test.clone(),
                    others,
                });
                brand_parts.push(Part {
                    name: format!("corrections, brand {brand}"),
                    three_class: true,
                    splits: Splits {
                        train: Vec::new(),
                        dev: Vec::new(),
                        test,
                    },
                });
            }
            parts.push(part);
        }
    }
    let held_out: HashSet<&str> = parts
        .iter()
        .flat_map(|part| part.splits.dev.iter().chain(&part.splits.test))
        .map(|example| example.text.as_str())
        .collect();
    for set in &mut brand_sets {
        set.others.retain(|e| !held_out.contains(e.text.as_str()));
    }
    let corrected: HashSet<&str> = corrections
        .into_iter()
        .flatten()
        .map(|c| c.text.as_str())
        .collect();
    let mut seen = HashSet::new();
    let mut anchors: Vec<Example> = Vec::new();
    let mut anchor_brands: Vec<&String> = brand_posts.keys().collect();
    anchor_brands.sort();
    for brand in anchor_brands {
        for (text, lang) in &brand_posts[brand] {
            if !corrected.contains(text.as_str())
                && !held_out.contains(text.as_str())
                && seen.insert(text.as_str())
            {
                anchors.push(Example {
                    text: text.clone(),
                    lang: lang.clone(),
                    label: Label::Neutral,
                    polar_only: false,
                });
            }
        }
    }
    let base_train: Vec<Example> = if anchors.is_empty() {
        Vec::new()
    } else {
        parts
            .iter()
            .filter(|part| part.name != CORRECTIONS)
            .flat_map(|part| &part.splits.train)
            .filter(|example| !held_out.contains(example.text.as_str()))
            .cloned()
            .collect()
    };
    let train: Vec<Example> = parts
        .iter()
        .flat_map(|part| &part.splits.train)
        .chain(&weighted)
        .filter(|example| !held_out.contains(example.text.as_str()))
        .cloned()
        .collect();
    let dev: Vec<Example> = parts
        .iter()
        .flat_map(|part| part.splits.dev.iter().cloned())
        .collect();
    if train.is_empty() {
        anyhow::bail!("no training examples left after the split");
    }
    Ok(Prepared {
        parts,
        brand_parts,
        brands: brand_sets,
        train,
        dev,
        base_train,
        anchors,
    })
}

pub fn run(options: TrainOptions) -> anyhow::Result<ExitCode> {
    let Prepared {
        parts,
        brand_parts,
        brands,
        train: mut train_examples,
        dev: dev_examples,
        base_train,
        anchors,
    } = prepare(
        &options.files,
        options.seed,
        options.corrections.as_deref(),
        options.correction_weight,
        options.brand_min,
        &options.brand_posts,
    )?;

    let dense: Box<dyn DenseFeatures> = if options.lexicon_features {
        Box::new(LexiconFeatures::new())
    } else {
        Box::new(NoDense)
    };
    let mut config = TrainConfig {
        seed: options.seed,
        ..TrainConfig::default()
    };
    if let Some(epochs) = options.epochs {
        config.epochs = epochs;
    }
    let train_len_before_anchors = train_examples.len();
    if !anchors.is_empty() {
        // Without corrections first: its labels of the corrected brands' other posts
        // go into the training set with the corrections.
        println!(
            "training a model without corrections on {} texts, to label {} uncorrected \
             posts of the corrected brands (anchors)",
            base_train.len(),
            anchors.len()
        );
        let base = train_with_progress(&base_train, &config, dense.as_ref(), |_, _| {})
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        train_examples.extend(anchors.into_iter().map(|example| Example {
            label: predict(&base, &example, dense.as_ref()).label,
            ..example
        }));
    }
    println!(
        "training on {} texts ({} dev), {} epochs, dense features {}",
        train_examples.len(),
        dev_examples.len(),
        config.epochs,
        dense.name()
    );
    let mut model =
        train_with_progress(&train_examples, &config, dense.as_ref(), |epoch, model| {
            let train_accuracy = accuracy(model, &train_examples, dense.as_ref());
            let dev_accuracy = accuracy(model, &dev_examples, dense.as_ref());
            println!(
                "  epoch {epoch}: train accuracy {}, dev accuracy {}",
                format_figure(train_accuracy),
                format_figure(dev_accuracy)
            );
        })
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    if dev_examples.is_empty() {
        println!("no dev examples: not calibrated (temperature 1)");
    } else {
        let calibration = model
            .calibrate(&dev_examples, dense.as_ref())
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        println!(
            "calibrated on {} dev texts: temperature {:.3}, ECE {:.4} -> {:.4}",
            calibration.examples,
            calibration.temperature,
            calibration.ece_before,
            calibration.ece_after
        );
    }

    // The `lexicon` backend on the same test parts, scored as `vigil classifier eval`
    // scores it (binary sets by the sign of the score).
    let lexicon = LexiconClassifier::new();
    println!();
    println!("| file | task | n test | learned | lexicon |");
    println!("|---|---|---|---|---|");
    for part in parts.iter().chain(&brand_parts) {
        let test = &part.splits.test;
        let (task, learned, baseline) = if test.is_empty() {
            ("-", None, None)
        } else if part.three_class {
            let learned = Evaluation::three_class(test.iter().map(|example| {
                (
                    example.label,
                    predict(&model, example, dense.as_ref()).label,
                )
            }));
            let baseline = Evaluation::three_class(test.iter().map(|example| {
                let sentiment = lexicon.classify(&example.text, example.lang.as_deref());
                (example.label, sentiment.label)
            }));
            (
                "macro-F1 (3-class)",
                Some(learned.macro_f1),
                Some(baseline.macro_f1),
            )
        } else {
            let learned = Evaluation::binary(test.iter().map(|example| {
                (
                    example.label,
                    predict(&model, example, dense.as_ref()).polar_label(),
                )
            }));
            let baseline = Evaluation::binary(test.iter().map(|example| {
                let sentiment = lexicon.classify(&example.text, example.lang.as_deref());
                let label = if sentiment.score > 0.0 {
                    Label::Positive
                } else {
                    Label::Negative
                };
                (example.label, label)
            }));
            (
                "accuracy (neg/pos)",
                Some(learned.accuracy),
                Some(baseline.accuracy),
            )
        };
        println!(
            "| {} | {task} | {} | {} | {} |",
            part.name,
            test.len(),
            format_figure(learned),
            format_figure(baseline)
        );
    }

    let mut metadata = serde_json::json!({
        "files": parts.iter().map(|part| &part.name).collect::<Vec<_>>(),
        "train_config": config,
        "seed": options.seed,
        "epochs": config.epochs,
        "dense_features": dense.name(),
        "train_examples": train_examples.len(),
        "dev_examples": dev_examples.len(),
        "corrections": options.corrections.as_ref().map(Vec::len),
        "correction_weight": options.corrections.as_ref().map(|_| options.correction_weight),
    });
    // Only when there are any, so a model trained without corrections is byte for
    // byte what it was before anchors existed (learned/RESULTS.md rebuilds it).
    let anchor_count = train_examples.len() - train_len_before_anchors;
    if anchor_count > 0 {
        metadata["anchors"] = anchor_count.into();
    }
    model.set_metadata(metadata.to_string());
    save(&model, &options.out)?;
    println!("wrote {}", options.out.display());

    let mut written = Vec::new();
    for set in &brands {
        let train: Vec<Example> = set
            .weighted_train(&train_examples, options.brand_weight)
            .cloned()
            .collect();
        println!();
        println!(
            "brand {}: {} corrections to train on ({} times each), {} dev, {} test",
            set.brand,
            set.train.len(),
            options.brand_weight,
            set.dev.len(),
            set.test.len(),
        );
        let mut brand_model = train_with_progress(&train, &config, dense.as_ref(), |_, _| {})
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let dev: Vec<Example> = dev_examples.iter().chain(&set.dev).cloned().collect();
        if !dev.is_empty() {
            brand_model
                .calibrate(&dev, dense.as_ref())
                .map_err(|error| anyhow::anyhow!("{error}"))?;
        }
        let figure = |model: &Model| {
            format_figure((!set.test.is_empty()).then(|| {
                Evaluation::three_class(
                    set.test
                        .iter()
                        .map(|e| (e.label, predict(model, e, dense.as_ref()).label)),
                )
                .macro_f1
            }))
        };
        println!(
            "  macro-F1 on the brand's {} test corrections: default model {}, brand model {}",
            set.test.len(),
            figure(&model),
            figure(&brand_model)
        );
        report_disagreement(set.others.iter().map(|e| {
            (
                predict(&model, e, dense.as_ref()).label,
                predict(&brand_model, e, dense.as_ref()).label,
            )
        }));
        brand_model.set_metadata(
            serde_json::json!({
                "brand": set.brand,
                "base": options.out.display().to_string(),
                "brand_corrections": set.train.len(),
                "brand_weight": options.brand_weight,
                "seed": options.seed,
            })
            .to_string(),
        );
        let path = brand_model_path(&options.out, &set.brand);
        save(&brand_model, &path)?;
        println!("  wrote {}", path.display());
        written.push((set.brand.clone(), path));
    }
    print_brand_config(&written);
    Ok(ExitCode::SUCCESS)
}

/// How many of a brand's other posts its model labels otherwise than the shared one,
/// from (shared, brand) label pairs: what `vigil classifier rescore` would change.
pub(crate) fn report_disagreement(pairs: impl Iterator<Item = (Label, Label)>) {
    let mut total = 0;
    let mut changes = std::collections::BTreeMap::<(&str, &str), usize>::new();
    for (shared, brand) in pairs {
        total += 1;
        if shared != brand {
            *changes
                .entry((shared.as_str(), brand.as_str()))
                .or_default() += 1;
        }
    }
    let changed: usize = changes.values().sum();
    println!(
        "  the brand's model labels {changed} of its {total} other posts otherwise than the \
         shared model{}",
        crate::corrections::transitions_text(&changes)
    );
}

fn save(model: &Model, out: &Path) -> anyhow::Result<()> {
    model
        .save(out)
        .map_err(|error| anyhow::anyhow!("{error}"))
        .with_context(|| format!("cannot write the model to {}", out.display()))
}

fn predict(
    model: &Model,
    example: &Example,
    dense: &dyn DenseFeatures,
) -> vigil_learned::Prediction {
    // The dense set is the one the model was trained with, so this cannot fail; a
    // failure would show as a neutral verdict.
    model
        .predict(&example.text, example.lang.as_deref(), dense)
        .unwrap_or(vigil_learned::Prediction {
            probabilities: [0.0, 1.0, 0.0],
            label: Label::Neutral,
            confidence: 0.0,
        })
}

/// Share of `examples` whose label the model gets (negative/positive only for
/// polar-only examples); `None` without examples.
fn accuracy(model: &Model, examples: &[Example], dense: &dyn DenseFeatures) -> Option<f64> {
    if examples.is_empty() {
        return None;
    }
    let right = examples
        .iter()
        .filter(|example| {
            let prediction = predict(model, example, dense);
            let label = if example.polar_only {
                prediction.polar_label()
            } else {
                prediction.label
            };
            label == example.label
        })
        .count();
    Some(right as f64 / examples.len() as f64)
}

fn format_figure(figure: Option<f64>) -> String {
    figure.map_or_else(|| "-".to_owned(), |value| format!("{value:.3}"))
}

/// The task and figure of one test part, as every table of the train commands shows
/// it: macro-F1 for three-class parts, negative/positive accuracy for the rest, from
/// (expected, three-class verdict, negative/positive verdict) triples.
#[cfg_attr(not(any(feature = "candle", feature = "rust-bert")), allow(dead_code))]
pub(crate) fn part_figure(
    three_class: bool,
    outcomes: impl Iterator<Item = (Label, Label, Label)>,
) -> (&'static str, String) {
    let outcomes: Vec<(Label, Label, Label)> = outcomes.collect();
    if outcomes.is_empty() {
        ("-", "-".to_owned())
    } else if three_class {
        let evaluation = Evaluation::three_class(outcomes.iter().map(|o| (o.0, o.1)));
        ("macro-F1 (3-class)", format!("{:.3}", evaluation.macro_f1))
    } else {
        let evaluation = Evaluation::binary(outcomes.iter().map(|o| (o.0, o.2)));
        ("accuracy (neg/pos)", format!("{:.3}", evaluation.accuracy))
    }
}
