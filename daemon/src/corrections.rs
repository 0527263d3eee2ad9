//! `vigil label` (an analyst's correction) and `vigil classifier rescore` (scoring
//! stored posts again with a new model). Both change sentiments of posts that may be
//! indexed already; the store queues those posts, and whoever holds the index writer
//! (this command, or the running daemon within its 500 ms poll) re-adds them.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use vigil_core::Label;
use vigil_store::StoreError;

use crate::UsageError;
use crate::cli::LabelArgs;
use crate::context::{self, load_config};
use crate::pipeline::IndexStage;

/// The index writer if no daemon holds it; `None` (with a note) when one does, since
/// the daemon then applies the store's refresh queue itself.
fn index_writer_unless_daemon(index: &vigil_index::SearchIndex) -> Option<IndexStage> {
    match IndexStage::open(index) {
        Ok(stage) => Some(stage),
        Err(error) => {
            eprintln!("note: {error:#}; the running daemon updates the index within a second");
            None
        }
    }
}

pub fn label(path: &Path, args: LabelArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let label: Label = args
        .label
        .parse()
        .map_err(|_| UsageError(format!("unknown label {:?}", args.label)))?;
    let store = context::open_store(&config)?;
    let correction = match store.correct_sentiment(&args.post_id, label, &args.by, "cli") {
        Ok(correction) => correction,
        Err(StoreError::NotFound(_)) => {
            return Err(UsageError(format!(
                "no stored post has id {:?} (the `id` of a search hit; erased posts cannot be labelled)",
                args.post_id
            ))
            .into());
        }
        Err(StoreError::Invalid(message)) => return Err(UsageError(message).into()),
        Err(error) => return Err(error.into()),
    };
    let index = context::open_index(&config)?;
    if let Some(mut stage) = index_writer_unless_daemon(&index) {
        stage.apply_refresh(&store)?;
        index.reload()?;
    }
    let was = match &correction.model {
        Some(model) => format!(
            "the model said {} ({:+.2}, {} {})",
            model.label.as_str(),
            model.score,
            model.backend,
            model.version
        ),
        None => "no model had scored it".into(),
    };
    println!(
        "post {}: {} by {}; {was}; audit entry {}",
        correction.post_id,
        correction.label.as_str(),
        correction.by,
        correction.audit_seq
    );
    Ok(ExitCode::SUCCESS)
}

/// Progress on stderr: a line rewritten in place on a terminal, else a line every few
/// seconds (and always the last one).
struct Progress {
    tty: bool,
    started: Instant,
    last: Option<Instant>,
    /// `done` of the last line printed, so the final line is not a repeat.
    printed: Option<u64>,
}

impl Progress {
    fn new() -> Self {
        Progress {
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last: None,
            printed: None,
        }
    }

    /// `looked` posts of `total` looked at, `done` of them re-scored (the rest were
    /// already scored by their brand's model).
    fn report(&mut self, looked: u64, done: u64, total: u64, changed: u64, last: bool) {
        let now = Instant::now();
        let due = self
            .last
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(2));
        let repeat = !self.tty && self.printed == Some(looked);
        let wanted = self.tty || due || last;
        if !wanted || (last && repeat) {
            return;
        }
        self.last = Some(now);
        self.printed = Some(looked);
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        let skipped = looked - done;
        let line = format!(
            "re-scored {done} of {total} posts ({:.0}/s), {changed} labels changed{}",
            looked as f64 / seconds,
            if skipped > 0 {
                format!(", {skipped} already scored by their brand's model")
            } else {
                String::new()
            }
        );
        if self.tty {
            eprint!("\r{line}   ");
            if last {
                eprintln!();
            }
        } else {
            eprintln!("{line}");
        }
    }
}

pub fn rescore(path: &Path, backend: Option<&str>, batch: usize) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let scorer = crate::commands::scorer_for(&config, backend)?;
    let default = scorer.default_model();
    let (name, version) = (default.backend().to_owned(), default.version().to_owned());
    let models = scorer.versions();
    // With per-language backends a post's model depends on its language, which the
    // store cannot filter on: every post is looked at (and skipped when current).
    let model_refs: Vec<(&str, &str)> = if scorer.routes_languages() {
        Vec::new()
    } else {
        models
            .iter()
            .map(|(backend, version)| (backend.as_str(), version.as_str()))
            .collect()
    };
    let brands: Vec<&str> = scorer.brand_models().map(|(brand, _)| brand).collect();
    let store = context::open_store(&config)?;
    let index = context::open_index(&config)?;
    let mut stage = index_writer_unless_daemon(&index);
    // Posts nobody scored yet get the new model too.
    let backlog = crate::pipeline::classify_store_backlog(&store, &scorer)?;
    // An upper bound: a post of a brand with its own model is looked at and skipped
    // when that model already scored it.
    let total = store.count_scored_by_other_model(&model_refs, &brands)?;
    eprintln!(
        "re-scoring up to {total} posts with {name} {version}{}{}",
        if brands.is_empty() {
            String::new()
        } else {
            format!(" (brand models: {})", brands.join(", "))
        },
        if backlog > 0 {
            format!(" ({backlog} unscored posts scored first)")
        } else {
            String::new()
        }
    );
    let mut progress = Progress::new();
    let (mut looked, mut done, mut changed, mut after) = (0u64, 0u64, 0u64, 0i64);
    let mut transitions = std::collections::BTreeMap::<(&str, &str), u64>::new();
    loop {
        let page = store.scored_by_other_model(&model_refs, &brands, after, batch)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        looked += page.len() as u64;
        // Only the posts whose own model (by their brands) did not score them.
        let page: Vec<vigil_core::StoredPost> = page
            .into_iter()
            .filter(|p| {
                let model = scorer.model_for(&p.post.text, p.post.lang.as_deref(), &p.post.brands);
                p.post
                    .sentiment
                    .as_ref()
                    .is_none_or(|s| s.backend != model.backend() || s.version != model.version())
            })
            .collect();
        if page.is_empty() {
            progress.report(looked, done, total.max(looked), changed, false);
            continue;
        }
        let inputs = crate::pipeline::scoring_inputs(page.iter().map(|p| &p.post));
        let sentiments = scorer.classify_batch(&inputs);
        for (post, new) in page.iter().zip(&sentiments) {
            if let Some(old) = &post.post.sentiment
                && old.label != new.label
            {
                *transitions
                    .entry((old.label.as_str(), new.label.as_str()))
                    .or_default() += 1;
                changed += 1;
            }
        }
        let updates: Vec<(i64, vigil_core::Sentiment)> =
            page.iter().map(|p| p.seq).zip(sentiments).collect();
        store.rescore(&updates)?;
        if let Some(stage) = stage.as_mut() {
            stage.apply_refresh(&store)?;
        }
        done += page.len() as u64;
        progress.report(looked, done, total.max(looked), changed, false);
    }
    progress.report(looked, done, total.max(looked), changed, true);
    if stage.is_some() {
        index.reload()?;
    }
    if done == 0 {
        println!("nothing to re-score: every post is scored by {name} {version} or an analyst");
        return Ok(ExitCode::SUCCESS);
    }
    let transitions_json: serde_json::Map<String, serde_json::Value> = transitions
        .iter()
        .map(|((from, to), n)| (format!("{from}->{to}"), (*n).into()))
        .collect();
    let entry = store.append_audit(
        "rescore",
        "cli",
        &serde_json::json!({
            "backend": name,
            "version": version,
            "brand_models": scorer
                .brand_models()
                .map(|(brand, model)| (brand.to_owned(), model.version().into()))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
            "posts": done,
            "labels_changed": changed,
            "transitions": transitions_json,
        }),
    )?;
    println!(
        "re-scored {done} posts with {name} {version} in {:.1}s; {changed} labels changed{}; audit entry {}",
        progress.started.elapsed().as_secs_f64(),
        transitions_text(&transitions),
        entry.seq
    );
    Ok(ExitCode::SUCCESS)
}

/// ` (neutral → negative: 12, …)`, or nothing when no label changed.
pub(crate) fn transitions_text<N: std::fmt::Display>(
    transitions: &std::collections::BTreeMap<(&str, &str), N>,
) -> String {
    if transitions.is_empty() {
        return String::new();
    }
    format!(
        " ({})",
        transitions
            .iter()
            .map(|((from, to), n)| format!("{from} → {to}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
