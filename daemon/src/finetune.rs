//! `vigil classifier finetune`: fine-tunes the encoder (all-MiniLM-L6-v2 by default)
//! into a negative/neutral/positive sequence-classification checkpoint, on the same
//! seeded split as `vigil classifier train`, and prints the test table of the written
//! checkpoint as the `transformer` backend loads it. Needs the `rust-bert` engine
//! (libtorch's autograd).

use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `vigil classifier finetune`.
#[cfg_attr(not(feature = "rust-bert"), allow(dead_code))]
pub struct FinetuneOptions {
    pub files: Vec<PathBuf>,
    pub out: PathBuf,
    pub seed: u64,
    pub base: Option<PathBuf>,
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub max_length: usize,
    pub max_train: Option<usize>,
    pub layers: Option<usize>,
    pub corrections: Option<Vec<vigil_store::CorrectedExample>>,
    pub correction_weight: usize,
    pub brand_min: usize,
}

#[cfg(not(feature = "rust-bert"))]
pub fn run(_options: FinetuneOptions) -> anyhow::Result<ExitCode> {
    Err(crate::UsageError(
        "finetune trains with libtorch and needs the rust-bert engine: rebuild with \
         `LIBTORCH_USE_PYTORCH=1 cargo build --release --features rust-bert` (README, \
         \"The libtorch engine\")"
            .into(),
    )
    .into())
}

#[cfg(feature = "rust-bert")]
pub fn run(options: FinetuneOptions) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    use vigil_transformer::{
        CheckpointClassifier, FinetuneConfig, FinetuneProgress, ModelDir, ModelKind,
        RustBertSequenceClassifier, find_model_dir, finetune,
    };

    if !(options.learning_rate > 0.0 && options.learning_rate < 1.0) {
        return Err(crate::UsageError(format!(
            "--learning-rate {} is not in (0, 1)",
            options.learning_rate
        ))
        .into());
    }
    let prepared = crate::train::prepare(
        &options.files,
        options.seed,
        options.corrections.as_deref(),
        options.correction_weight,
        options.brand_min,
        &Default::default(),
    )?;
    let base = match options.base {
        Some(dir) => dir,
        None => find_model_dir().map_err(crate::UsageError)?,
    };
    let mut train: Vec<&vigil_learned::Example> = prepared.train.iter().collect();
    if let Some(cap) = options.max_train.filter(|&cap| cap < train.len()) {
        // A seeded sample: order by a hash of (seed, text), keep the first `cap`.
        train.sort_by_cached_key(|example| sample_key(options.seed, &example.text));
        train.truncate(cap);
    }
    let dev_refs: Vec<&vigil_learned::Example> = prepared.dev.iter().collect();
    let train_examples = as_examples(&train);
    let dev_examples = as_examples(&dev_refs);
    let config = FinetuneConfig {
        epochs: options.epochs,
        batch_size: options.batch,
        learning_rate: options.learning_rate,
        max_seq_length: options.max_length,
        seed: options.seed,
        layers: options.layers,
        ..FinetuneConfig::default()
    };
    println!(
        "fine-tuning {} on {} texts ({} dev), {} epochs of {} steps",
        base.display(),
        train_examples.len(),
        dev_examples.len(),
        config.epochs,
        train_examples.len().div_ceil(config.batch_size)
    );
    let metadata = serde_json::json!({
        "files": prepared.parts.iter().map(|part| &part.name).collect::<Vec<_>>(),
        "split_seed": options.seed,
        "max_train": options.max_train,
        "corrections": options.corrections.as_ref().map(Vec::len),
        "correction_weight": options.corrections.as_ref().map(|_| options.correction_weight),
    });
    let outcome = finetune(
        &base,
        &options.out,
        &train_examples,
        &dev_examples,
        &config,
        metadata,
        &mut |progress| match progress {
            FinetuneProgress::Step {
                epoch,
                step,
                steps,
                loss,
                texts_per_second,
            } => eprintln!(
                "epoch {epoch}: step {step} of {steps}, loss {loss:.4} ({texts_per_second:.0} texts/s)"
            ),
            FinetuneProgress::Epoch(report) => println!(
                "epoch {}: train loss {:.4}, dev loss {}, dev accuracy {} ({:.0} s)",
                report.epoch,
                report.train_loss,
                report
                    .dev_loss
                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.4}")),
                report
                    .dev_accuracy
                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.3}")),
                report.seconds
            ),
        },
    )
    .with_context(|| format!("fine-tuning {}", base.display()))?;
    println!(
        "kept epoch {}, temperature {:.3} folded into the classifier",
        outcome.best_epoch, outcome.temperature
    );

    // The test table, through the written checkpoint as the backend loads it.
    let model = ModelDir::open(&options.out)?;
    let ModelKind::SequenceClassification(labels) = model.kind else {
        anyhow::bail!(
            "{} is not a classification checkpoint",
            options.out.display()
        );
    };
    let classifier = CheckpointClassifier::new(
        Box::new(RustBertSequenceClassifier::load(&options.out)?),
        labels,
    );
    println!();
    println!("| file | task | n test | fine-tuned |");
    println!("|---|---|---|---|");
    for part in prepared.parts.iter().chain(&prepared.brand_parts) {
        let test = &part.splits.test;
        let mut outcomes = Vec::with_capacity(test.len());
        for chunk in test.chunks(256) {
            let texts: Vec<&str> = chunk.iter().map(|example| example.text.as_str()).collect();
            for (example, prediction) in chunk.iter().zip(classifier.predict_batch(&texts)?) {
                outcomes.push((example.label, prediction.label, prediction.polar_label()));
            }
        }
        let (task, figure) = crate::train::part_figure(part.three_class, outcomes.into_iter());
        println!("| {} | {task} | {} | {figure} |", part.name, test.len());
    }
    println!(
        "wrote {} (use it with [classifier] backend = \"transformer\" and model_dir)",
        options.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// FNV-1a over the seed and the text: a stable, seeded order for sampling.
#[cfg(feature = "rust-bert")]
fn sample_key(seed: u64, text: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in seed.to_le_bytes().iter().chain(text.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(feature = "rust-bert")]
fn as_examples<'a>(
    examples: &[&'a vigil_learned::Example],
) -> Vec<vigil_transformer::FinetuneExample<'a>> {
    examples
        .iter()
        .map(|example| vigil_transformer::FinetuneExample {
            text: &example.text,
            label: example.label,
            polar_only: example.polar_only,
        })
        .collect()
}
