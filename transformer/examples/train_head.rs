//! Trains the sentiment head on all-MiniLM-L6-v2 embeddings of the English corpora in
//! `../shared/data` and prints dev and test figures per set. Builds the head shipped in
//! `transformer/models/`:
//!
//! ```text
//! cargo run --release -p vigil-transformer --features candle --example train_head -- \
//!     --out transformer/models/minilm-sentiment.vth --cache /tmp/minilm-embeddings.bin
//! ```
//!
//! Per set: read, dedupe (conflicting labels dropped), seeded 80/10/10 split by text
//! hash (`vigil_learned::split`, seed 20261123 — the same parts as vigil-learned's
//! figures). One head is trained on the union of the train parts (minus any text in some
//! dev or test part), its configuration chosen and its temperature fitted on the union
//! of the dev parts, and it is reported on each test part. TweetEval is three-class
//! (macro-F1); UCI and SST-2 are binary (accuracy of negative vs positive).
//!
//! Options: `--data DIR`, `--model DIR` (default: `find_model_dir()`), `--out FILE`,
//! `--json FILE`, `--cache FILE` (embeddings, reused when the texts match), `--tune`,
//! `--l2 X`, `--iterations N`, `--learning-rate X`, `--polar-neutral-weight X`,
//! `--balanced`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use sha2::{Digest, Sha256};
use vigil_core::Label;
use vigil_learned::{Evaluation, Example, SplitFractions, Splits, dedupe, read_dataset, split};
use vigil_transformer::{
    CandleSentenceEncoder, HeadTrainConfig, LabelledEmbedding, PROBE_TEXTS, Probe, SentenceEncoder,
    SentimentHead, find_model_dir, train_head,
};

const SEED: u64 = 20_261_123;

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
];

struct Args {
    data: PathBuf,
    model: Option<PathBuf>,
    out: Option<PathBuf>,
    json: Option<PathBuf>,
    cache: Option<PathBuf>,
    tune: bool,
    config: HeadTrainConfig,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
        model: None,
        out: None,
        json: None,
        cache: None,
        tune: false,
        config: HeadTrainConfig::default(),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |raw: String| raw.parse::<f32>().map_err(|e| format!("{raw}: {e}"));
        match flag.as_str() {
            "--data" => args.data = PathBuf::from(value()?),
            "--model" => args.model = Some(PathBuf::from(value()?)),
            "--out" => args.out = Some(PathBuf::from(value()?)),
            "--json" => args.json = Some(PathBuf::from(value()?)),
            "--cache" => args.cache = Some(PathBuf::from(value()?)),
            "--tune" => args.tune = true,
            "--balanced" => args.config.balanced = true,
            "--l2" => args.config.l2 = number(value()?)?,
            "--learning-rate" => args.config.learning_rate = number(value()?)?,
            "--polar-neutral-weight" => args.config.polar_neutral_weight = number(value()?)?,
            "--iterations" => {
                args.config.iterations =
                    value()?.parse().map_err(|e| format!("--iterations: {e}"))?
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

struct Set {
    name: &'static str,
    three_class: bool,
    splits: Splits,
}

fn load_sets(data: &Path) -> Result<Vec<Set>, String> {
    let mut sets = Vec::new();
    for &(name, three_class, files) in SOURCES {
        let mut examples = Vec::new();
        for file in files {
            let dataset = read_dataset(&data.join(file)).map_err(|e| e.to_string())?;
            println!("  read {}", dataset.summary());
            examples.extend(dataset.examples);
        }
        let (examples, stats) = dedupe(examples);
        let splits = split(examples, SplitFractions::default(), SEED);
        println!(
            "  {name}: kept {} of {}; train {} / dev {} / test {}",
            stats.kept,
            stats.input,
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

/// Embeds `texts`, reusing `cache` when it holds the embeddings of exactly these texts.
fn embed_all(
    encoder: &dyn SentenceEncoder,
    texts: &[&str],
    cache: Option<&Path>,
) -> Result<Vec<Vec<f32>>, String> {
    let dimension = encoder.dimension();
    let mut hasher = Sha256::new();
    hasher.update(encoder.model_id().as_bytes());
    for text in texts {
        hasher.update(text.as_bytes());
        hasher.update([0]);
    }
    let key = hasher.finalize();
    if let Some(path) = cache
        && let Ok(bytes) = std::fs::read(path)
        && bytes.len() == 32 + texts.len() * dimension * 4
        && bytes[..32] == key[..]
    {
        println!("  embeddings from {}", path.display());
        return Ok(bytes[32..]
            .chunks_exact(dimension * 4)
            .map(|row| {
                row.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            })
            .collect());
    }
    let started = Instant::now();
    let mut embeddings = Vec::with_capacity(texts.len());
    for (index, chunk) in texts.chunks(512).enumerate() {
        embeddings.extend(encoder.embed(chunk).map_err(|e| e.to_string())?);
        if index % 8 == 7 {
            println!(
                "  embedded {} / {} ({:.0} texts/s)",
                embeddings.len(),
                texts.len(),
                embeddings.len() as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "  embedded {} texts in {:.1} s ({:.0} texts/s)",
        texts.len(),
        started.elapsed().as_secs_f64(),
        texts.len() as f64 / started.elapsed().as_secs_f64()
    );
    if let Some(path) = cache {
        let mut bytes = key.to_vec();
        for row in &embeddings {
            for value in row {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
        }
        std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(embeddings)
}

/// An example with its embedding.
struct Row {
    embedding: Vec<f32>,
    label: Label,
    polar_only: bool,
}

fn labelled(rows: &[Row]) -> Vec<LabelledEmbedding<'_>> {
    rows.iter()
        .map(|row| LabelledEmbedding {
            embedding: &row.embedding,
            label: row.label,
            polar_only: row.polar_only,
        })
        .collect()
}

struct EmbeddedSet {
    name: &'static str,
    three_class: bool,
    dev: Vec<Row>,
    test: Vec<Row>,
}

/// The set's primary figure: macro-F1 (three-class) or negative/positive accuracy.
fn evaluate(head: &SentimentHead, rows: &[Row], three_class: bool) -> Evaluation {
    let pairs = rows.iter().map(|row| {
        let prediction = head.predict(&row.embedding).expect("dimension checked");
        let predicted = if three_class {
            prediction.label
        } else {
            prediction.polar_label()
        };
        (row.label, predicted)
    });
    if three_class {
        Evaluation::three_class(pairs)
    } else {
        Evaluation::binary(pairs)
    }
}

fn primary(evaluation: &Evaluation, three_class: bool) -> f64 {
    if three_class {
        evaluation.macro_f1
    } else {
        evaluation.accuracy
    }
}

fn dev_mean(head: &SentimentHead, sets: &[EmbeddedSet]) -> f64 {
    sets.iter()
        .map(|set| primary(&evaluate(head, &set.dev, set.three_class), set.three_class))
        .sum::<f64>()
        / sets.len() as f64
}

fn main() {
    if let Err(message) = run() {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let model_dir = match args.model {
        Some(dir) => dir,
        None => find_model_dir()?,
    };
    println!("model {}", model_dir.display());
    let encoder = CandleSentenceEncoder::load(&model_dir).map_err(|e| e.to_string())?;
    let sets = load_sets(&args.data)?;

    let held_out: HashSet<&str> = sets
        .iter()
        .flat_map(|set| set.splits.dev.iter().chain(&set.splits.test))
        .map(|example| example.text.as_str())
        .collect();
    let train_examples: Vec<&Example> = sets
        .iter()
        .flat_map(|set| &set.splits.train)
        .filter(|example| !held_out.contains(example.text.as_str()))
        .collect();
    let mut texts: Vec<&str> = train_examples.iter().map(|e| e.text.as_str()).collect();
    for set in &sets {
        texts.extend(set.splits.dev.iter().map(|e| e.text.as_str()));
        texts.extend(set.splits.test.iter().map(|e| e.text.as_str()));
    }
    let embeddings = embed_all(&encoder, &texts, args.cache.as_deref())?;
    let mut embeddings = embeddings.into_iter();
    let mut rows_of = |examples: &mut dyn Iterator<Item = &Example>| -> Vec<Row> {
        examples
            .map(|example| Row {
                embedding: embeddings.next().expect("one embedding per text"),
                label: example.label,
                polar_only: example.polar_only,
            })
            .collect()
    };
    let train_rows = rows_of(&mut train_examples.iter().copied());
    let mut embedded = Vec::new();
    for set in &sets {
        let dev = rows_of(&mut set.splits.dev.iter());
        let test = rows_of(&mut set.splits.test.iter());
        embedded.push(EmbeddedSet {
            name: set.name,
            three_class: set.three_class,
            dev,
            test,
        });
    }
    let dev_rows: Vec<&Row> = embedded.iter().flat_map(|set| &set.dev).collect();
    let dev_labelled: Vec<LabelledEmbedding<'_>> = dev_rows
        .iter()
        .map(|row| LabelledEmbedding {
            embedding: &row.embedding,
            label: row.label,
            polar_only: row.polar_only,
        })
        .collect();
    let train = labelled(&train_rows);
    println!("training on {} texts", train.len());

    let probe_embeddings = encoder.embed(&PROBE_TEXTS).map_err(|e| e.to_string())?;
    let probes: Vec<Probe> = PROBE_TEXTS
        .iter()
        .zip(probe_embeddings)
        .map(|(text, embedding)| Probe {
            text: (*text).to_owned(),
            embedding,
        })
        .collect();
    let encoder_name = "sentence-transformers/all-MiniLM-L6-v2";

    let mut config = args.config;
    if args.tune {
        let mut best = (f64::MIN, config);
        for l2 in [1e-4f32, 1e-3, 1e-2] {
            for polar_neutral_weight in [0.0f32, 0.5, 1.0] {
                for balanced in [false, true] {
                    for iterations in [400u32, 800] {
                        let candidate = HeadTrainConfig {
                            l2,
                            polar_neutral_weight,
                            balanced,
                            iterations,
                            ..config
                        };
                        let head = train_head(&train, &candidate, encoder_name, Vec::new())
                            .map_err(|e| e.to_string())?;
                        let score = dev_mean(&head, &embedded);
                        println!(
                            "  tune l2 {l2:e} polar_neutral_weight {polar_neutral_weight} \
                             balanced {balanced} iterations {iterations}: dev mean {score:.4}"
                        );
                        if score > best.0 {
                            best = (score, candidate);
                        }
                    }
                }
            }
        }
        println!("best: {:?} (dev mean {:.4})", best.1, best.0);
        config = best.1;
    }
    let started = Instant::now();
    let mut head = train_head(&train, &config, encoder_name, probes).map_err(|e| e.to_string())?;
    let training_seconds = started.elapsed().as_secs_f64();
    let calibration = head
        .calibrate(&dev_labelled, config.polar_neutral_weight)
        .map_err(|e| e.to_string())?;
    println!(
        "trained in {training_seconds:.1} s; temperature {:.3} (dev NLL {:.4} -> {:.4})",
        calibration.temperature, calibration.nll_before, calibration.nll_after
    );

    let mut figures = Vec::new();
    println!(
        "| set | metric | n dev | dev | n test | test | test 3-class acc | test neutral share |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for set in &embedded {
        let dev = evaluate(&head, &set.dev, set.three_class);
        let test = evaluate(&head, &set.test, set.three_class);
        let three = evaluate(&head, &set.test, true);
        let neutral_share = three
            .per_class
            .iter()
            .find(|metrics| metrics.label == Label::Neutral)
            .map_or(0.0, |metrics| {
                metrics.predicted as f64 / three.total.max(1) as f64
            });
        println!(
            "| {} | {} | {} | {:.3} | {} | {:.3} | {:.3} | {:.3} |",
            set.name,
            if set.three_class {
                "macro-F1 (3-class)"
            } else {
                "accuracy (neg/pos)"
            },
            dev.total,
            primary(&dev, set.three_class),
            test.total,
            primary(&test, set.three_class),
            three.accuracy,
            neutral_share
        );
        println!("{}", test.to_table());
        figures.push(json!({
            "set": set.name,
            "three_class": set.three_class,
            "dev": dev,
            "test": test,
            "test_three_class": three,
        }));
    }
    let metadata = json!({
        "encoder": encoder_name,
        "encoder_model_id": encoder.model_id(),
        "data": SOURCES.iter().map(|(name, _, _)| *name).collect::<Vec<_>>(),
        "split_seed": SEED,
        "train_examples": train.len(),
        "config": config,
        "calibration": calibration,
        "figures": figures.iter().map(|figure| json!({
            "set": figure["set"],
            "dev_accuracy": figure["dev"]["accuracy"],
            "dev_macro_f1": figure["dev"]["macro_f1"],
            "test_accuracy": figure["test"]["accuracy"],
            "test_macro_f1": figure["test"]["macro_f1"],
        })).collect::<Vec<_>>(),
    });
    head.set_metadata(metadata.to_string());
    if let Some(path) = &args.out {
        head.save(path).map_err(|e| e.to_string())?;
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        println!(
            "wrote {} ({} bytes, SHA-256 {})",
            path.display(),
            bytes.len(),
            hex::encode(Sha256::digest(&bytes))
        );
    }
    if let Some(path) = &args.json {
        let report = json!({ "metadata": metadata, "figures": figures });
        std::fs::write(path, serde_json::to_string_pretty(&report).unwrap())
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
