//! `vigil classifier train-head`: trains the `transformer` backend's head (softmax
//! regression on all-MiniLM-L6-v2 embeddings) from labelled files and, with
//! `--with-corrections`, the analysts' corrections, on the same seeded split as
//! `vigil classifier train`. Needs the `candle` engine (cargo feature `candle`).

use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `vigil classifier train-head`.
#[cfg_attr(not(feature = "candle"), allow(dead_code))]
pub struct HeadOptions {
    pub files: Vec<PathBuf>,
    pub out: PathBuf,
    pub seed: u64,
    pub model_dir: Option<PathBuf>,
    pub corrections: Option<Vec<vigil_store::CorrectedExample>>,
    pub correction_weight: usize,
    pub brand_min: usize,
    pub brand_weight: usize,
    pub brand_posts: crate::train::BrandPosts,
}

#[cfg(not(feature = "candle"))]
pub fn run(_options: HeadOptions) -> anyhow::Result<ExitCode> {
    Err(crate::UsageError(
        "train-head embeds texts with all-MiniLM-L6-v2 and needs the candle engine: \
         rebuild with `cargo build --release --features candle`"
            .into(),
    )
    .into())
}

#[cfg(feature = "candle")]
pub fn run(options: HeadOptions) -> anyhow::Result<ExitCode> {
    use std::time::Instant;

    use anyhow::Context as _;
    use vigil_transformer::{
        CandleSentenceEncoder, HeadTrainConfig, PROBE_TEXTS, Probe, SentenceEncoder,
        find_model_dir, train_head,
    };

    const ENCODER: &str = "sentence-transformers/all-MiniLM-L6-v2";

    let prepared = crate::train::prepare(
        &options.files,
        options.seed,
        options.corrections.as_deref(),
        options.correction_weight,
        options.brand_min,
        &options.brand_posts,
    )?;
    let model_dir = match options.model_dir {
        Some(dir) => dir,
        None => find_model_dir().map_err(crate::UsageError)?,
    };
    let encoder = CandleSentenceEncoder::load(&model_dir)
        .with_context(|| format!("loading all-MiniLM-L6-v2 from {}", model_dir.display()))?;

    // Every text once, in one pass: train, dev, then each part's test texts.
    let test_parts: Vec<&crate::train::Part> =
        prepared.parts.iter().chain(&prepared.brand_parts).collect();
    let mut texts: Vec<&str> = prepared.train.iter().map(|e| e.text.as_str()).collect();
    texts.extend(prepared.dev.iter().map(|e| e.text.as_str()));
    for part in &test_parts {
        texts.extend(part.splits.test.iter().map(|e| e.text.as_str()));
    }
    texts.extend(prepared.anchors.iter().map(|e| e.text.as_str()));
    let started = Instant::now();
    let mut embeddings: Vec<Vec<f32>> = Vec::with_capacity(texts.len());
    let mut last_report = Instant::now();
    for chunk in texts.chunks(256) {
        embeddings.extend(encoder.embed(chunk)?);
        if last_report.elapsed().as_secs() >= 5 || embeddings.len() == texts.len() {
            last_report = Instant::now();
            eprintln!(
                "embedded {} of {} texts ({:.0}/s)",
                embeddings.len(),
                texts.len(),
                embeddings.len() as f64 / started.elapsed().as_secs_f64().max(1e-3)
            );
        }
    }
    let mut rest = embeddings.as_slice();
    let mut train_rows = take(&mut rest, &prepared.train);
    let dev_rows = take(&mut rest, &prepared.dev);
    let test_rows: Vec<Vec<Row<'_>>> = test_parts
        .iter()
        .map(|part| take(&mut rest, &part.splits.test))
        .collect();
    let anchor_rows = take(&mut rest, &prepared.anchors);

    let probe_embeddings = encoder.embed(&PROBE_TEXTS)?;
    let probes: Vec<Probe> = PROBE_TEXTS
        .iter()
        .zip(probe_embeddings)
        .map(|(text, embedding)| Probe {
            text: (*text).to_owned(),
            embedding,
        })
        .collect();
    let config = HeadTrainConfig::default();
    // The corrected brands' other posts, labelled by a head trained without
    // corrections, go into the training set with the corrections (see
    // `Prepared::anchors`).
    let anchors: Vec<vigil_learned::Example> = if anchor_rows.is_empty() {
        Vec::new()
    } else {
        let by_text: std::collections::HashMap<&str, &[f32]> = train_rows
            .iter()
            .map(|(embedding, example)| (example.text.as_str(), *embedding))
            .collect();
        let base_rows: Vec<Row<'_>> = prepared
            .base_train
            .iter()
            .filter_map(|example| by_text.get(example.text.as_str()).map(|e| (*e, example)))
            .collect();
        println!(
            "training a head without corrections on {} texts, to label {} uncorrected posts \
             of the corrected brands (anchors)",
            base_rows.len(),
            anchor_rows.len()
        );
        let base = train_head(&labelled(&base_rows), &config, ENCODER, probes.clone())?;
        anchor_rows
            .iter()
            .map(|(embedding, example)| {
                Ok(vigil_learned::Example {
                    label: base.predict(embedding)?.label,
                    ..(*example).clone()
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    train_rows.extend(
        anchor_rows
            .iter()
            .map(|(embedding, _)| *embedding)
            .zip(&anchors),
    );
    println!(
        "training the head on {} texts ({} dev)",
        train_rows.len(),
        dev_rows.len()
    );
    let mut head = train_head(&labelled(&train_rows), &config, ENCODER, probes)?;
    if !dev_rows.is_empty() {
        let calibration = head.calibrate(&labelled(&dev_rows), config.polar_neutral_weight)?;
        println!(
            "calibrated on {} dev texts: temperature {:.3} (NLL {:.4} -> {:.4})",
            dev_rows.len(),
            calibration.temperature,
            calibration.nll_before,
            calibration.nll_after
        );
    }
    println!();
    println!("| file | task | n test | transformer |");
    println!("|---|---|---|---|");
    for (part, rows) in test_parts.iter().zip(&test_rows) {
        let outcomes = rows.iter().map(|(embedding, example)| {
            let prediction = head.predict(embedding).expect("the head's own dimension");
            (example.label, prediction.label, prediction.polar_label())
        });
        let (task, figure) = crate::train::part_figure(part.three_class, outcomes);
        println!("| {} | {task} | {} | {figure} |", part.name, rows.len());
    }
    let mut metadata = serde_json::json!({
        "encoder": ENCODER,
        "encoder_model_id": encoder.model_id(),
        "files": prepared.parts.iter().map(|part| &part.name).collect::<Vec<_>>(),
        "split_seed": options.seed,
        "train_examples": train_rows.len(),
        "corrections": options.corrections.as_ref().map(Vec::len),
        "correction_weight": options.corrections.as_ref().map(|_| options.correction_weight),
        "config": config,
    });
    // Only when there are any: a head trained without corrections keeps its bytes.
    if !anchors.is_empty() {
        metadata["anchors"] = anchors.len().into();
    }
    head.set_metadata(metadata.to_string());
    head.save(&options.out)
        .with_context(|| format!("cannot write the head to {}", options.out.display()))?;
    println!(
        "wrote {} (use it with [classifier] head or VIGIL_TRANSFORMER_HEAD)",
        options.out.display()
    );

    // A head per brand with enough corrections: the same training plus the brand's own
    // corrections `brand_weight` more times, calibrated with the brand's dev texts.
    let anchor_by_text: std::collections::HashMap<&str, &[f32]> = anchor_rows
        .iter()
        .map(|(embedding, example)| (example.text.as_str(), *embedding))
        .collect();
    let mut written = Vec::new();
    for set in &prepared.brands {
        let embed = |examples: &[vigil_learned::Example]| -> anyhow::Result<Vec<Vec<f32>>> {
            let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
            Ok(if texts.is_empty() {
                Vec::new()
            } else {
                encoder.embed(&texts)?
            })
        };
        let (brand_train, brand_dev, brand_test) =
            (embed(&set.train)?, embed(&set.dev)?, embed(&set.test)?);
        // The brand's other posts are among the anchors, already embedded.
        let others: Vec<&[f32]> = set
            .others
            .iter()
            .filter_map(|example| anchor_by_text.get(example.text.as_str()).copied())
            .collect();
        let own: Vec<Row<'_>> = brand_train
            .iter()
            .map(Vec::as_slice)
            .zip(&set.train)
            .collect();
        let mut train = train_rows.clone();
        for _ in 0..options.brand_weight {
            train.extend(own.iter().copied());
        }
        let mut dev = dev_rows.clone();
        dev.extend(brand_dev.iter().map(Vec::as_slice).zip(&set.dev));
        let probes = head.probes().to_vec();
        let mut brand_head = train_head(&labelled(&train), &config, ENCODER, probes)?;
        if !dev.is_empty() {
            brand_head.calibrate(&labelled(&dev), config.polar_neutral_weight)?;
        }
        let test: Vec<Row<'_>> = brand_test
            .iter()
            .map(Vec::as_slice)
            .zip(&set.test)
            .collect();
        let figure = |head: &vigil_transformer::SentimentHead| {
            crate::train::part_figure(
                true,
                test.iter().map(|(embedding, example)| {
                    let prediction = head.predict(embedding).expect("the head's own dimension");
                    (example.label, prediction.label, prediction.polar_label())
                }),
            )
            .1
        };
        println!();
        println!(
            "brand {}: {} corrections to train on ({} times each); macro-F1 on its {} test \
             corrections: default head {}, brand head {}",
            set.brand,
            set.train.len(),
            options.brand_weight,
            set.test.len(),
            figure(&head),
            figure(&brand_head)
        );
        crate::train::report_disagreement(others.iter().filter_map(|&embedding| {
            Some((
                head.predict(embedding).ok()?.label,
                brand_head.predict(embedding).ok()?.label,
            ))
        }));
        brand_head.set_metadata(
            serde_json::json!({
                "encoder": ENCODER,
                "brand": set.brand,
                "base": options.out.display().to_string(),
                "brand_corrections": set.train.len(),
                "brand_weight": options.brand_weight,
                "split_seed": options.seed,
            })
            .to_string(),
        );
        let path = crate::train::brand_model_path(&options.out, &set.brand);
        brand_head
            .save(&path)
            .with_context(|| format!("cannot write the head to {}", path.display()))?;
        println!("  wrote {}", path.display());
        written.push((set.brand.clone(), path));
    }
    crate::train::print_brand_config(&written);
    Ok(ExitCode::SUCCESS)
}

/// An embedding with its example.
#[cfg(feature = "candle")]
type Row<'a> = (&'a [f32], &'a vigil_learned::Example);

/// Pairs the next `examples.len()` embeddings of `rest` with `examples`.
#[cfg(feature = "candle")]
fn take<'a>(rest: &mut &'a [Vec<f32>], examples: &'a [vigil_learned::Example]) -> Vec<Row<'a>> {
    let (these, after) = rest.split_at(examples.len());
    *rest = after;
    these.iter().map(Vec::as_slice).zip(examples).collect()
}

#[cfg(feature = "candle")]
fn labelled<'a>(rows: &[Row<'a>]) -> Vec<vigil_transformer::LabelledEmbedding<'a>> {
    rows.iter()
        .map(
            |(embedding, example)| vigil_transformer::LabelledEmbedding {
                embedding,
                label: example.label,
                polar_only: example.polar_only,
            },
        )
        .collect()
}
