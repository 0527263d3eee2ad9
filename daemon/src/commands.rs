//! The one-shot commands: check-config, crawl --once, search, import, classify,
//! incidents, reindex (audit: `audit_cmd.rs`).

use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tracing::debug;

use vigil_core::{IncidentStatus, Post, Provenance, post_id, sha256_hex};

use crate::UsageError;
use crate::cli::{
    CheckConfigArgs, ClassifyArgs, CrawlArgs, EraseArgs, ImportArgs, IncidentsCommand, ListFormat,
    SearchArgs, SearchFormat,
};
use crate::context::{self, load_config};
use crate::pipeline::{self, IndexStage, Services};

pub fn check_config(path: &Path, args: CheckConfigArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let mut warnings = Vec::new();
    for (key, secret) in config.secrets() {
        if let Err(problem) = secret.resolve() {
            warnings.push(format!("{key}: {problem} (needed at run time)"));
        }
        if let Some(problem) = secret.permission_warning() {
            warnings.push(format!("{key}: {problem}"));
        }
    }
    let privacy = config.storage.redact_pii || config.storage.pseudonymize_authors;
    for source in config
        .sources
        .iter()
        .filter(|source| source.keep_raw && privacy)
    {
        warnings.push(format!(
            "sources[{}].keep_raw: raw captures keep the pages as fetched, with the e-mail \
             addresses, phone numbers and handles that redact_pii / pseudonymize_authors \
             take out of the stored posts (only `vigil raw` reads them; erasure removes them)",
            source.name
        ));
    }
    for (brand, model) in &config.classifier.brand_models {
        if !model.is_file() {
            warnings.push(format!(
                "classifier.brand_models.{brand}: no file {} (needed at run time)",
                model.display()
            ));
        }
    }
    let summary = format!(
        "{}: ok ({} brands, {} sources, {} rules, {} scripts; data in {})",
        path.display(),
        config.brands.len(),
        config.sources.len(),
        config.alerts.rules.len(),
        config.scripts.len(),
        config.storage.data_dir.display()
    );
    if args.print {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let base_dir = path.parent().unwrap_or(Path::new(""));
        let printed =
            crate::config_print::redacted(&text, base_dir, &|name| std::env::var(name).ok())?;
        print!("{printed}");
        eprintln!("{summary}");
        for warning in warnings {
            eprintln!("warning: {warning}");
        }
    } else {
        println!("{summary}");
        for warning in warnings {
            println!("warning: {warning}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn crawl_once(path: &Path, args: CrawlArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    if let Some(name) = &args.source
        && config.source(name).is_none()
    {
        return Err(UsageError(format!("no source named {name:?} in {}", path.display())).into());
    }
    let services = Services::open(config)?;
    let mut index_stage = open_index_unless_daemon(&services);
    if let Some(stage) = index_stage.as_mut() {
        tokio::task::block_in_place(|| pipeline::recover(&services, stage))?;
    }
    let mut failures = 0;
    for source in services
        .config
        .sources
        .iter()
        .filter(|s| args.source.as_ref().is_none_or(|n| *n == s.name))
    {
        let previous = services.store.checkpoint(&source.name)?;
        let result = services.crawler.crawl(source, previous.as_ref()).await;
        match result {
            Ok(outcome) => {
                let (stored, duplicates) = tokio::task::block_in_place(|| {
                    pipeline::process_posts(
                        &services,
                        index_stage.as_mut(),
                        &outcome.posts,
                        &outcome.raw_captures,
                        Some(&outcome.checkpoint),
                        "crawler",
                    )
                })?;
                println!(
                    "{}: HTTP {}{}, {} items, {} unmatched, {} stored, {} duplicate",
                    source.name,
                    outcome.http_status,
                    if outcome.not_modified {
                        " (not modified)"
                    } else {
                        ""
                    },
                    outcome.items_seen,
                    outcome.unmatched,
                    stored,
                    duplicates
                );
            }
            Err(error) => {
                failures += 1;
                let batch = pipeline::CrawlBatch {
                    source: source.name.clone(),
                    previous,
                    result: Err(error),
                };
                let Err(error) = &batch.result else {
                    unreachable!("constructed as Err")
                };
                services
                    .store
                    .save_checkpoint(&pipeline::failed_checkpoint(&services, &batch, error))?;
                println!("{}: error: {error}", source.name);
            }
        }
    }
    services.index.reload()?;
    // A running daemon evaluates, plans and delivers; one deliverer avoids double mail.
    if index_stage.is_some() {
        tokio::task::block_in_place(|| pipeline::evaluate_alerts(&services))?;
        pipeline::deliver_outbox(&services).await?;
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The index writer, or `None` when a running daemon holds it: then this command stores
/// and classifies, and the daemon indexes, evaluates rules and delivers mail, so two
/// processes never send the same notification.
fn open_index_unless_daemon(services: &Services) -> Option<IndexStage> {
    match tokio::task::block_in_place(|| IndexStage::open(&services.index)) {
        Ok(stage) => Some(stage),
        Err(error) => {
            eprintln!(
                "note: {error:#}; posts are stored and classified here, and the running daemon indexes them and handles alerts"
            );
            None
        }
    }
}

pub fn search(path: &Path, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let params = crate::search::SearchParams {
        q: Some(args.query),
        brand: args.brand,
        source: args.source,
        sentiment: args.sentiment,
        lang: args.lang,
        from: args.from,
        to: args.to,
        min_score: args.min_score,
        max_score: args.max_score,
        min_reach: args.min_reach,
        sort: args.sort,
        limit: args.limit,
        offset: Some(args.offset),
        cursor: args.cursor,
        highlight: Some(matches!(
            args.format,
            SearchFormat::Table | SearchFormat::Json
        )),
    };
    let request = params
        .to_request(Utc::now(), 20)
        .map_err(|e| UsageError(format!("in the search: {e}")))?;
    let index = context::open_index(&config)?;
    if index.doc_count()? == 0 && index.was_rebuilt() {
        eprintln!(
            "note: the search index was rebuilt empty for this version of vigil; run `vigil reindex` (or start the daemon) to fill it from the store"
        );
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let export = match args.format {
        SearchFormat::Csv => Some(crate::search::ExportFormat::Csv),
        SearchFormat::Jsonl => Some(crate::search::ExportFormat::Jsonl),
        SearchFormat::Table | SearchFormat::Json => None,
    };
    if let Some(format) = export {
        crate::search::export(
            &index,
            request,
            args.limit,
            format,
            &mut out,
            &mut std::io::stderr(),
        )
        .map_err(search_error)?;
        return Ok(ExitCode::SUCCESS);
    }
    let results = index.search(&request).map_err(search_error)?;
    match args.format {
        SearchFormat::Json => {
            serde_json::to_writer(&mut out, &results)?;
            writeln!(out)?;
        }
        _ => crate::search::write_table(&mut out, &results, crate::search::stdout_is_terminal())?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Search errors the user caused (bad cursor, bad filter, bad wildcard) exit 2.
fn search_error(error: impl Into<anyhow::Error>) -> anyhow::Error {
    let error = error.into();
    match error.downcast_ref::<vigil_index::IndexError>() {
        Some(index_error) if index_error.is_bad_request() => {
            UsageError(format!("in the search: {index_error}")).into()
        }
        _ => error,
    }
}

/// One line of `vigil import` input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    id: serde_json::Value,
    url: Option<String>,
    author: Option<String>,
    published_at: String,
    text: String,
    lang: Option<String>,
    title: Option<String>,
    /// Reach as the original source reported it: `score`, `likes`, `reposts`,
    /// `replies`, `rating` (all optional).
    #[serde(default)]
    engagement: vigil_core::Engagement,
}

/// Turns one import line into a post, or says why it is rejected.
fn import_post(
    line: &str,
    source: &str,
    file_label: &str,
    now: DateTime<Utc>,
) -> Result<Post, String> {
    let parsed: ImportLine =
        serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let external_id = match &parsed.id {
        serde_json::Value::String(s) if !s.is_empty() => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return Err("`id` must be a non-empty string or a number".into()),
    };
    let published_at = DateTime::parse_from_rfc3339(&parsed.published_at)
        .map_err(|e| {
            format!(
                "`published_at` {:?} is not RFC 3339: {e}",
                parsed.published_at
            )
        })?
        .with_timezone(&Utc);
    if parsed.text.trim().is_empty() {
        return Err("`text` is empty".into());
    }
    let content_hash = sha256_hex(format!(
        "{}\n{}",
        parsed.title.as_deref().unwrap_or(""),
        parsed.text
    ));
    let lang = vigil_crawler::post_lang(
        parsed.lang,
        parsed.title.as_deref().unwrap_or(""),
        &parsed.text,
    );
    Ok(Post {
        id: post_id(source, &external_id),
        source: source.to_string(),
        external_id,
        canonical_url: parsed.url.as_deref().and_then(vigil_core::canonical_url),
        url: parsed.url,
        author: parsed.author,
        title: parsed.title,
        text: parsed.text,
        lang,
        published_at,
        brands: Vec::new(),
        provenance: Provenance {
            fetched_at: now,
            fetch_url: format!("import:{file_label}"),
            http_status: None,
            content_hash,
            extraction: "import:jsonl".into(),
            raw_sha256: None,
        },
        sentiment: None,
        engagement: parsed.engagement,
        duplicate_of: None,
    })
}

/// `vigil import`: three threads overlap the work. This one reads, parses, matches
/// brands and classifies; a store thread ingests each batch (dedup, provenance, audit)
/// with its sentiment in the same transaction; an index thread adds what was stored and
/// commits every [`IMPORT_COMMIT_EVERY`] and at the end. A crash anywhere loses
/// nothing: the store is the log, and the next process catches the index up from the
/// watermark in its last commit.
pub async fn import(path: &Path, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let services = Services::open(config)?;
    let source_config = services
        .config
        .source(&args.source)
        .cloned()
        .unwrap_or_else(|| {
            vigil_config::SourceConfig::new(
                args.source.clone(),
                vigil_config::SourceKind::Json,
                String::new(),
            )
        });
    let matcher = vigil_crawler::BrandMatcher::new(&services.config.brands);
    let index_stage = open_index_unless_daemon(&services);
    let reader: Box<dyn BufRead + Send> = if args.file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file))?,
        ))
    };
    let file_label = if args.file == "-" {
        "stdin".to_string()
    } else {
        args.file.clone()
    };
    let started = Instant::now();
    let reading = ImportReader {
        services: &services,
        matcher: &matcher,
        source_config: &source_config,
        source: &args.source,
        file_label: &file_label,
        batch_size: args.batch.max(1),
        progress: std::io::stderr().is_terminal(),
        started,
    };
    let stored_count = AtomicUsize::new(0);
    let (summary, stored, duplicates, index_stage) =
        tokio::task::block_in_place(|| -> anyhow::Result<_> {
            std::thread::scope(|scope| {
                let (post_tx, post_rx) = std::sync::mpsc::sync_channel::<Vec<Post>>(2);
                let (stored_tx, stored_rx) =
                    std::sync::mpsc::sync_channel::<Vec<vigil_core::StoredPost>>(2);
                let to_index = index_stage.is_some().then_some(stored_tx);
                let (services, stored_count) = (&services, &stored_count);
                let store_thread = std::thread::Builder::new()
                    .name("import-store".into())
                    .spawn_scoped(scope, move || {
                        import_store_stage(services, post_rx, to_index, stored_count)
                    })?;
                let index_thread = match index_stage {
                    Some(mut stage) => Some(
                        std::thread::Builder::new()
                            .name("import-index".into())
                            .spawn_scoped(scope, move || -> anyhow::Result<IndexStage> {
                                import_index_stage(&mut stage, &services.store, stored_rx)?;
                                Ok(stage)
                            })?,
                    ),
                    None => {
                        drop(stored_rx);
                        None
                    }
                };
                let read = reading.run(reader, post_tx, stored_count);
                // Join every thread before reporting, so an error in one names its cause.
                let store_result = store_thread
                    .join()
                    .map_err(|_| anyhow::anyhow!("the store thread panicked"))?;
                let index_result = index_thread
                    .map(|thread| {
                        thread
                            .join()
                            .map_err(|_| anyhow::anyhow!("the index thread panicked"))?
                    })
                    .transpose();
                let (stored, duplicates) = store_result?;
                let index_stage = index_result?;
                let summary = read?;
                Ok((summary, stored, duplicates, index_stage))
            })
        })?;
    if reading.progress {
        eprintln!();
    }
    services.index.reload()?;
    let ImportSummary {
        lines,
        unmatched,
        rejected,
    } = summary;
    services.store.append_audit(
        "import",
        "cli",
        &serde_json::json!({ "source": args.source, "file": file_label, "lines": lines, "stored": stored, "duplicates": duplicates, "unmatched": unmatched, "rejected": rejected.len() }),
    )?;
    if args.alerts && index_stage.is_some() {
        tokio::task::block_in_place(|| pipeline::evaluate_alerts(&services))?;
        pipeline::deliver_outbox(&services).await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "imported {lines} lines in {elapsed:.1}s: {stored} stored, {duplicates} duplicate, {unmatched} unmatched, {} rejected",
        rejected.len()
    );
    for (line, reason) in rejected.iter().take(20) {
        println!("  line {line}: {reason}");
    }
    if rejected.len() > 20 {
        println!("  … and {} more", rejected.len() - 20);
    }
    Ok(ExitCode::SUCCESS)
}

/// How often `vigil import` commits the index while it runs.
const IMPORT_COMMIT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// What the reading thread counted.
struct ImportSummary {
    lines: usize,
    unmatched: usize,
    rejected: Vec<(usize, String)>,
}

/// The reading side of `vigil import`: parse, match and classify, in batches.
struct ImportReader<'a> {
    services: &'a Services,
    matcher: &'a vigil_crawler::BrandMatcher,
    source_config: &'a vigil_config::SourceConfig,
    source: &'a str,
    file_label: &'a str,
    batch_size: usize,
    progress: bool,
    started: Instant,
}

/// Lines read but not yet parsed: `lines[i]` is line `first_line + i` of the input.
struct RawChunk {
    first_line: usize,
    lines: Vec<Vec<u8>>,
}

/// Threads that parse, match and classify; with the store and index threads they keep
/// both cores busy.
const IMPORT_PARSE_WORKERS: usize = 2;

impl ImportReader<'_> {
    /// Reads the input in chunks of `batch_size` lines on this thread and has
    /// [`IMPORT_PARSE_WORKERS`] threads turn each chunk into a batch for the store.
    fn run(
        &self,
        mut reader: Box<dyn BufRead + Send>,
        to_store: std::sync::mpsc::SyncSender<Vec<Post>>,
        stored: &AtomicUsize,
    ) -> anyhow::Result<ImportSummary> {
        let (chunk_tx, chunk_rx) =
            std::sync::mpsc::sync_channel::<RawChunk>(IMPORT_PARSE_WORKERS * 2);
        let chunk_rx = std::sync::Mutex::new(chunk_rx);
        std::thread::scope(|scope| {
            let mut workers = Vec::new();
            for worker in 0..IMPORT_PARSE_WORKERS {
                let (chunk_rx, to_store) = (&chunk_rx, to_store.clone());
                workers.push(
                    std::thread::Builder::new()
                        .name(format!("import-parse-{worker}"))
                        .spawn_scoped(scope, move || self.parse_chunks(chunk_rx, to_store))?,
                );
            }
            drop(to_store);
            let mut lines = 0usize;
            let mut chunk = RawChunk {
                first_line: 1,
                lines: Vec::with_capacity(self.batch_size),
            };
            let mut read_error = None;
            loop {
                let mut raw_line = Vec::new();
                let at_end = match reader.read_until(b'\n', &mut raw_line) {
                    Ok(0) => true,
                    Ok(_) => false,
                    Err(error) => {
                        read_error = Some(anyhow::Error::new(error).context("reading the input"));
                        true
                    }
                };
                if !at_end {
                    lines += 1;
                    chunk.lines.push(raw_line);
                }
                if chunk.lines.len() >= self.batch_size || (at_end && !chunk.lines.is_empty()) {
                    let next = RawChunk {
                        first_line: lines + 1,
                        lines: Vec::with_capacity(self.batch_size),
                    };
                    if chunk_tx.send(std::mem::replace(&mut chunk, next)).is_err() {
                        // The workers stopped because the store thread did; its error
                        // is the one to report.
                        break;
                    }
                    if self.progress {
                        let rate = lines as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
                        eprint!(
                            "\r{lines} lines read, {} stored ({rate:.0} lines/s)   ",
                            stored.load(Ordering::Relaxed)
                        );
                    }
                }
                if at_end {
                    break;
                }
            }
            drop(chunk_tx);
            let mut summary = ImportSummary {
                lines,
                unmatched: 0,
                rejected: Vec::new(),
            };
            let mut busy = std::time::Duration::ZERO;
            for worker in workers {
                let (unmatched, rejected, worked) = worker
                    .join()
                    .map_err(|_| anyhow::anyhow!("an import parse thread panicked"))?;
                summary.unmatched += unmatched;
                summary.rejected.extend(rejected);
                busy += worked;
            }
            summary.rejected.sort_by_key(|(line, _)| *line);
            debug!(
                busy_s = busy.as_secs_f64(),
                workers = IMPORT_PARSE_WORKERS,
                "import: parsing, matching and classifying"
            );
            match read_error {
                Some(error) => Err(error),
                None => Ok(summary),
            }
        })
    }

    /// One parse worker: chunks in, classified batches out. Returns (unmatched,
    /// rejected lines, time spent working).
    fn parse_chunks(
        &self,
        chunks: &std::sync::Mutex<std::sync::mpsc::Receiver<RawChunk>>,
        to_store: std::sync::mpsc::SyncSender<Vec<Post>>,
    ) -> (usize, Vec<(usize, String)>, std::time::Duration) {
        let now = Utc::now();
        let (mut unmatched, mut rejected) = (0usize, Vec::new());
        let mut busy = std::time::Duration::ZERO;
        loop {
            // A poisoned lock means another worker panicked; stop too.
            let next = match chunks.lock() {
                Ok(receiver) => receiver.recv(),
                Err(_) => break,
            };
            let Ok(chunk) = next else { break };
            let began = Instant::now();
            let mut batch = Vec::with_capacity(chunk.lines.len());
            for (offset, raw_line) in chunk.lines.iter().enumerate() {
                let number = chunk.first_line + offset;
                let line = match std::str::from_utf8(raw_line) {
                    Ok(line) => line.trim_end_matches(['\n', '\r']),
                    Err(error) => {
                        rejected.push((number, format!("not UTF-8: {error}")));
                        continue;
                    }
                };
                if line.trim().is_empty() {
                    continue;
                }
                match import_post(line, self.source, self.file_label, now) {
                    Ok(mut post) => {
                        post.brands = self.matcher.brands_for(self.source_config, &post);
                        if post.brands.is_empty() {
                            unmatched += 1;
                        } else {
                            batch.push(post);
                        }
                    }
                    Err(reason) => rejected.push((number, reason)),
                }
            }
            pipeline::classify_unstored(self.services, &mut batch);
            busy += began.elapsed();
            if !batch.is_empty() && to_store.send(batch).is_err() {
                break;
            }
        }
        (unmatched, rejected, busy)
    }
}

/// Stores each batch (with the sentiment it already carries) and hands what was stored
/// to the index thread. Returns (stored, duplicates).
fn import_store_stage(
    services: &Services,
    batches: std::sync::mpsc::Receiver<Vec<Post>>,
    to_index: Option<std::sync::mpsc::SyncSender<Vec<vigil_core::StoredPost>>>,
    stored_count: &AtomicUsize,
) -> anyhow::Result<(usize, usize)> {
    let (mut stored, mut duplicates) = (0, 0);
    let mut busy = std::time::Duration::ZERO;
    for batch in batches {
        let began = Instant::now();
        let report = services.store.ingest_owned(batch, None, "import")?;
        busy += began.elapsed();
        stored += report.stored.len();
        duplicates += report.duplicates;
        stored_count.store(stored, Ordering::Relaxed);
        if let Some(to_index) = &to_index
            && to_index.send(report.stored).is_err()
        {
            // The index thread stopped; the store has the posts and the next process
            // indexes them. Keep storing.
            continue;
        }
    }
    debug!(busy_s = busy.as_secs_f64(), stored, "import: storing");
    Ok((stored, duplicates))
}

/// Adds stored posts to the index, committing every [`IMPORT_COMMIT_EVERY`] and once at
/// the end.
fn import_index_stage(
    stage: &mut IndexStage,
    store: &vigil_store::Store,
    batches: std::sync::mpsc::Receiver<Vec<vigil_core::StoredPost>>,
) -> anyhow::Result<()> {
    let mut last_commit = Instant::now();
    let mut busy = std::time::Duration::ZERO;
    for batch in batches {
        let began = Instant::now();
        stage.add_batch(store, &batch)?;
        if last_commit.elapsed() >= IMPORT_COMMIT_EVERY {
            stage.commit()?;
            last_commit = Instant::now();
        }
        busy += began.elapsed();
    }
    let began = Instant::now();
    stage.commit()?;
    debug!(
        busy_s = busy.as_secs_f64(),
        final_commit_s = began.elapsed().as_secs_f64(),
        "import: indexing"
    );
    Ok(())
}

#[derive(Debug, Deserialize)]
struct ClassifyLine {
    id: serde_json::Value,
    text: String,
    lang: Option<String>,
    /// (extension) The post's brands, which pick a brand's own model.
    brands: Option<Vec<String>>,
}

/// The configured classifier, or the backend called `name`, with the per-language
/// backends and per-brand models of the config.
pub(crate) fn scorer_for(
    config: &vigil_config::Config,
    name: Option<&str>,
) -> anyhow::Result<vigil_classifier::Scorer> {
    Ok(vigil_classifier::build_scorer(&config.classifier, name)
        .map_err(|e| UsageError(e.to_string()))?)
}

/// The analysts' corrections from the configured store, when asked for, and each
/// corrected brand's other stored posts (see [`crate::train::BrandPosts`]).
fn corrections_if(
    path: &Path,
    wanted: bool,
) -> anyhow::Result<(
    Option<Vec<vigil_store::CorrectedExample>>,
    crate::train::BrandPosts,
)> {
    if !wanted {
        return Ok((None, Default::default()));
    }
    let config = load_config(path, false)?;
    let store = crate::context::open_store(&config)?;
    let corrections = store.corrected_examples()?;
    let mut brand_posts = crate::train::BrandPosts::new();
    for brand in corrections.iter().flat_map(|c| &c.brands) {
        if !brand_posts.contains_key(brand) {
            let posts = store.uncorrected_brand_posts(brand, crate::train::BRAND_ANCHORS)?;
            brand_posts.insert(brand.clone(), posts);
        }
    }
    Ok((Some(corrections), brand_posts))
}

pub fn classifier(path: &Path, command: crate::cli::ClassifierCommand) -> anyhow::Result<ExitCode> {
    match command {
        crate::cli::ClassifierCommand::Eval {
            files,
            backend,
            format,
        } => {
            let config = load_config(path, true)?;
            crate::sentiment_eval::run(&scorer_for(&config, backend.as_deref())?, &files, format)
        }
        crate::cli::ClassifierCommand::Train {
            files,
            out,
            seed,
            epochs,
            no_lexicon_features,
            corrections: correction_args,
        } => {
            let (corrections, brand_posts) =
                corrections_if(path, correction_args.with_corrections)?;
            crate::train::run(crate::train::TrainOptions {
                files,
                out,
                seed,
                epochs,
                lexicon_features: !no_lexicon_features,
                corrections,
                correction_weight: correction_args.correction_weight as usize,
                brand_min: correction_args.brand_min,
                brand_weight: correction_args.brand_weight as usize,
                brand_posts,
            })
        }
        crate::cli::ClassifierCommand::TrainHead {
            files,
            out,
            seed,
            model_dir,
            corrections: correction_args,
        } => {
            let model_dir = match model_dir {
                Some(dir) => Some(dir),
                None => load_config(path, true)?.classifier.model_dir,
            };
            let (corrections, brand_posts) =
                corrections_if(path, correction_args.with_corrections)?;
            crate::train_head::run(crate::train_head::HeadOptions {
                files,
                out,
                seed,
                model_dir,
                corrections,
                correction_weight: correction_args.correction_weight as usize,
                brand_min: correction_args.brand_min,
                brand_weight: correction_args.brand_weight as usize,
                brand_posts,
            })
        }
        crate::cli::ClassifierCommand::Finetune {
            files,
            out,
            seed,
            base,
            epochs,
            batch,
            learning_rate,
            max_length,
            max_train,
            layers,
            corrections: correction_args,
        } => {
            let base = match base {
                Some(dir) => Some(dir),
                None => load_config(path, true)?.classifier.model_dir,
            };
            let (corrections, _) = corrections_if(path, correction_args.with_corrections)?;
            crate::finetune::run(crate::finetune::FinetuneOptions {
                files,
                out,
                seed,
                base,
                epochs: epochs as usize,
                batch: batch as usize,
                learning_rate,
                max_length: max_length as usize,
                max_train,
                layers: layers.map(|n| n as usize),
                corrections,
                correction_weight: correction_args.correction_weight as usize,
                brand_min: correction_args.brand_min,
            })
        }
        crate::cli::ClassifierCommand::Split { files, out, seed } => {
            crate::train::write_splits(&files, &out, seed)
        }
        crate::cli::ClassifierCommand::Rescore { backend, batch } => {
            crate::corrections::rescore(path, backend.as_deref(), batch as usize)
        }
    }
}

pub fn classify(path: &Path, args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path, true)?;
    if let Some(brand) = &args.brand
        && config.brand(brand).is_none()
    {
        return Err(UsageError(format!(
            "--brand {brand:?}: no such brand in the config ({})",
            config
                .brands
                .iter()
                .map(|b| format!("{:?}", b.name))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    let scorer = scorer_for(&config, args.backend.as_deref())?;
    let default_brands: Vec<String> = args.brand.into_iter().collect();
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut bad_lines = 0;
    for (number, line) in stdin.lock().lines().enumerate() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<ClassifyLine>(&line) {
            Ok(input) => {
                let brands = input.brands.as_deref().unwrap_or(&default_brands);
                let sentiment = scorer
                    .model_for(&input.text, input.lang.as_deref(), brands)
                    .classify(&input.text, input.lang.as_deref());
                let output = serde_json::json!({
                    "id": input.id,
                    "label": sentiment.label,
                    "score": (sentiment.score * 10_000.0).round() / 10_000.0,
                    "confidence": (sentiment.confidence * 10_000.0).round() / 10_000.0,
                    "lang": sentiment.lang,
                });
                writeln!(out, "{output}")?;
            }
            Err(error) => {
                bad_lines += 1;
                // Keep the output aligned with the input: one line per input line.
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "line": number + 1, "error": error.to_string() })
                )?;
            }
        }
    }
    out.flush()?;
    if bad_lines > 0 {
        eprintln!("{bad_lines} input lines were not valid {{\"id\", \"text\", \"lang\"?}} JSON");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn incidents(path: &Path, command: IncidentsCommand) -> anyhow::Result<ExitCode> {
    use vigil_core::AlertStore as _;
    let config = load_config(path, false)?;
    let store = context::open_store(&config)?;
    match command {
        IncidentsCommand::List { status, format } => {
            let status = status
                .as_deref()
                .map(|s| s.parse::<IncidentStatus>().map_err(UsageError))
                .transpose()?;
            let mut incidents = store.incidents(status)?;
            incidents.sort_by_key(|i| std::cmp::Reverse(i.opened_at));
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string(&incidents)?),
                ListFormat::Table => {
                    if incidents.is_empty() {
                        println!("no incidents");
                    }
                    for i in &incidents {
                        let owner = match i.status {
                            IncidentStatus::Open => String::new(),
                            IncidentStatus::Acknowledged => {
                                format!(" by {}", i.acknowledged_by.as_deref().unwrap_or("?"))
                            }
                            IncidentStatus::Resolved => {
                                format!(" by {}", i.resolved_by.as_deref().unwrap_or("?"))
                            }
                        };
                        println!(
                            "#{:<4} {:<12}{} {:<8} {} / {}  opened {}  deadline {}{}\n      {}",
                            i.id,
                            i.status,
                            owner,
                            i.severity,
                            i.brand,
                            i.rule,
                            i.opened_at.format("%Y-%m-%d %H:%M UTC"),
                            i.response_deadline.format("%Y-%m-%d %H:%M UTC"),
                            if i.overdue { "  OVERDUE" } else { "" },
                            i.trigger.explanation
                        );
                    }
                }
            }
        }
        IncidentsCommand::Ack { id, by, note } => {
            let incident = store.acknowledge_incident(id, &by, note.as_deref(), Utc::now())?;
            println!(
                "incident #{} acknowledged by {} (reminders stop)",
                incident.id, by
            );
        }
        IncidentsCommand::Resolve { id, by, note } => {
            let incident = store.resolve_incident(id, &by, note.as_deref(), Utc::now())?;
            println!("incident #{} resolved by {}", incident.id, by);
        }
        IncidentsCommand::Snooze {
            id,
            duration,
            by,
            reason,
        } => {
            let now = Utc::now();
            let silence = store.add_silence(vigil_core::NewSilence {
                brand: None,
                rule: None,
                incident_id: Some(id),
                starts_at: now,
                ends_at: now + usage_duration(&duration)?,
                by,
                reason,
            })?;
            println!(
                "incident #{id} snoozed until {} (silence {})",
                silence.ends_at.format("%Y-%m-%d %H:%M UTC"),
                silence.id
            );
        }
        IncidentsCommand::Silence {
            brand,
            rule,
            duration,
            until,
            by,
            reason,
        } => {
            if brand.is_none() && rule.is_none() {
                return Err(UsageError(
                    "a silence needs --brand and/or --rule (to snooze one incident: \
                     `vigil incidents snooze ID --for 2h`)"
                        .into(),
                )
                .into());
            }
            let now = Utc::now();
            let ends_at = match (duration, until) {
                (Some(duration), _) => now + usage_duration(&duration)?,
                (None, until) => context::parse_time(&until, now)?
                    .ok_or_else(|| UsageError("--until or --for is required".into()))?,
            };
            if ends_at <= now {
                return Err(UsageError(format!(
                    "--until {} is not in the future",
                    ends_at.format("%Y-%m-%d %H:%M UTC")
                ))
                .into());
            }
            let silence = store.add_silence(vigil_core::NewSilence {
                brand,
                rule,
                incident_id: None,
                starts_at: now,
                ends_at,
                by,
                reason,
            })?;
            println!(
                "silence {} until {}",
                silence.id,
                silence.ends_at.format("%Y-%m-%d %H:%M UTC")
            );
        }
        IncidentsCommand::Silences { format } => {
            let silences = store.current_silences(Utc::now())?;
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string(&silences)?),
                ListFormat::Table => {
                    if silences.is_empty() {
                        println!("no silences");
                    }
                    for s in &silences {
                        let scope = match (s.incident_id, &s.brand, &s.rule) {
                            (Some(id), ..) => format!("incident #{id}"),
                            (None, brand, rule) => format!(
                                "brand {} rule {}",
                                brand.as_deref().unwrap_or("*"),
                                rule.as_deref().unwrap_or("*")
                            ),
                        };
                        println!(
                            "{:<4} {scope}  {} → {}  by {}{}",
                            s.id,
                            s.starts_at.format("%Y-%m-%d %H:%M"),
                            s.ends_at.format("%Y-%m-%d %H:%M UTC"),
                            s.by,
                            s.reason
                                .as_deref()
                                .map(|r| format!(": {r}"))
                                .unwrap_or_default()
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A `--for` duration (`2h`), as a chrono delta; a bad one is a usage error.
fn usage_duration(text: &str) -> anyhow::Result<chrono::TimeDelta> {
    let duration = vigil_core::time::parse_duration(text)
        .map_err(|error| UsageError(format!("--for {text:?}: {error}")))?;
    Ok(chrono::TimeDelta::from_std(duration)
        .map_err(|_| UsageError(format!("--for {text:?} is too long")))?)
}

pub(crate) fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

pub fn erase(path: &Path, args: EraseArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    if args.reason.trim().is_empty() || args.by.trim().is_empty() {
        return Err(UsageError(
            "--reason must say why and --by who (both are recorded in the audit log)".into(),
        )
        .into());
    }
    let store = context::open_store(&config)?;
    let index = context::open_index(&config)?;
    // Take the index writer first: erasing from the store while a running daemon keeps
    // the posts searchable would be worse than refusing.
    let mut stage = IndexStage::open(&index).map_err(|error| {
        UsageError(format!(
            "{error:#}; stop the daemon, then run the erasure again"
        ))
    })?;
    let targets = match (args.author, args.url) {
        (Some(author), None) => author_names(&store, &author)?
            .into_iter()
            .map(vigil_store::ErasureTarget::Author)
            .collect(),
        (None, Some(url)) => vec![vigil_store::ErasureTarget::Url(url)],
        _ => return Err(UsageError("give exactly one of --author or --url".into()).into()),
    };
    let mut erased = 0;
    let mut audit_seqs = Vec::new();
    for target in &targets {
        let report = store.erase_posts(target, &args.reason, &args.by)?;
        stage.purge_erased(&store)?;
        // Copies of an erased original now point at a promoted copy.
        stage.refresh(&store, &report.relinked)?;
        erased += report.ids.len();
        audit_seqs.extend(report.audit_seq);
    }
    // A delete only marks the document: rewrite the segments so the bytes go too.
    stage.compact_deletes()?;
    index.reload()?;
    let seqs: Vec<String> = audit_seqs.iter().map(i64::to_string).collect();
    println!(
        "erased {erased} posts from the store and the index; tombstones keep only ids and content hashes{}",
        match seqs.len() {
            0 => String::new(),
            1 => format!(" (audit entry {})", seqs[0]),
            _ => format!(" (audit entries {})", seqs.join(", ")),
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// A handle and, since stored authors may be pseudonyms (`storage.pseudonymize_authors`,
/// now or before a change of config), its pseudonym under every key there has been.
pub(crate) fn author_names(
    store: &vigil_store::Store,
    author: &str,
) -> anyhow::Result<Vec<String>> {
    let mut names = vec![author.to_string()];
    for pseudonym in store.pseudonyms_of(author)? {
        if !names.contains(&pseudonym) {
            names.push(pseudonym);
        }
    }
    Ok(names)
}

/// `vigil export --author HANDLE --by NAME [--format jsonl|csv]`.
pub fn export_author(path: &Path, args: crate::cli::ExportArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    if args.by.trim().is_empty() || args.author.trim().is_empty() {
        return Err(UsageError("--author and --by must not be empty".into()).into());
    }
    let store = context::open_store(&config)?;
    let names = author_names(&store, &args.author)?;
    let posts = store.posts_by_authors(&names)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        crate::cli::ExportFormat::Jsonl => {
            for stored in &posts {
                serde_json::to_writer(&mut out, stored)?;
                writeln!(out)?;
            }
        }
        crate::cli::ExportFormat::Csv => {
            writeln!(
                out,
                "seq,id,source,url,author,title,text,lang,published_at,fetched_at,fetch_url,content_hash,sentiment,score"
            )?;
            for stored in &posts {
                let post = &stored.post;
                let sentiment = post.sentiment.as_ref();
                let fields = [
                    stored.seq.to_string(),
                    post.id.clone(),
                    post.source.clone(),
                    post.url.clone().unwrap_or_default(),
                    post.author.clone().unwrap_or_default(),
                    post.title.clone().unwrap_or_default(),
                    post.text.clone(),
                    post.lang.clone().unwrap_or_default(),
                    post.published_at.to_rfc3339(),
                    post.provenance.fetched_at.to_rfc3339(),
                    post.provenance.fetch_url.clone(),
                    post.provenance.content_hash.clone(),
                    sentiment.map(|s| s.label.to_string()).unwrap_or_default(),
                    sentiment.map(|s| s.score.to_string()).unwrap_or_default(),
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                writeln!(out, "{}", line.join(","))?;
            }
        }
    }
    out.flush()?;
    store.append_audit(
        "subject_access_export",
        &args.by,
        &serde_json::json!({
            "author_sha256": vigil_core::sha256_hex(&args.author),
            "posts": posts.len(),
            "post_ids": posts.iter().map(|p| p.post.id.as_str()).collect::<Vec<_>>(),
        }),
    )?;
    eprintln!("exported {} posts by {:?}", posts.len(), args.author);
    Ok(ExitCode::SUCCESS)
}

/// `vigil hold add|release|list`.
pub fn hold(path: &Path, command: crate::cli::HoldCommand) -> anyhow::Result<ExitCode> {
    use crate::cli::HoldCommand;
    use vigil_store::HoldTarget;
    let config = load_config(path, false)?;
    let store = context::open_store(&config)?;
    let describe = |hold: &vigil_store::LegalHold| {
        let target = match &hold.target {
            HoldTarget::Brand(brand) => format!("brand {brand}"),
            HoldTarget::Incident(id) => format!("incident #{id}"),
        };
        let state = match (&hold.released_at, &hold.released_by) {
            (Some(at), by) => format!(
                "released {} by {}",
                at.format("%Y-%m-%d %H:%M UTC"),
                by.as_deref().unwrap_or("?")
            ),
            (None, _) => "active".to_string(),
        };
        format!(
            "hold #{:<4} {target}  {state}  placed {} by {}: {}",
            hold.id,
            hold.created_at.format("%Y-%m-%d %H:%M UTC"),
            hold.by,
            hold.reason
        )
    };
    match command {
        HoldCommand::Add {
            brand,
            incident,
            reason,
            by,
        } => {
            let target = match (brand, incident) {
                (Some(brand), None) => HoldTarget::Brand(brand),
                (None, Some(id)) => HoldTarget::Incident(id),
                _ => {
                    return Err(
                        UsageError("give exactly one of --brand or --incident".into()).into(),
                    );
                }
            };
            let hold = store
                .add_legal_hold(target, &reason, &by)
                .map_err(store_usage)?;
            println!("{}", describe(&hold));
        }
        HoldCommand::Release { id, by } => {
            let hold = store.release_legal_hold(id, &by).map_err(store_usage)?;
            println!("{}", describe(&hold));
        }
        HoldCommand::List { all, format } => {
            let holds = store.legal_holds(all)?;
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string_pretty(&holds)?),
                ListFormat::Table => {
                    if holds.is_empty() {
                        println!("no legal holds{}", if all { "" } else { " active" });
                    }
                    for hold in &holds {
                        println!("{}", describe(hold));
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A refusal by the store about what the user asked (unknown id, already released,
/// empty reason) is a usage error (exit 2), not a failure.
fn store_usage(error: vigil_store::StoreError) -> anyhow::Error {
    match error {
        vigil_store::StoreError::NotFound(_)
        | vigil_store::StoreError::Conflict(_)
        | vigil_store::StoreError::Invalid(_) => UsageError(error.to_string()).into(),
        other => other.into(),
    }
}

/// `vigil privacy rotate-key --by NAME`.
pub fn privacy(path: &Path, command: crate::cli::PrivacyCommand) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let store = context::open_store(&config)?;
    match command {
        crate::cli::PrivacyCommand::RotateKey { by } => {
            if by.trim().is_empty() {
                return Err(UsageError("--by must name who rotates the key".into()).into());
            }
            let rotation = store.rotate_pseudonym_key(&by)?;
            println!(
                "new pseudonym key {}{}; posts stored from now on get new pseudonyms",
                rotation.key_id,
                rotation
                    .archived
                    .as_ref()
                    .map(|path| format!(" (previous key kept as {})", path.display()))
                    .unwrap_or_default()
            );
            if !config.storage.pseudonymize_authors {
                eprintln!(
                    "note: storage.pseudonymize_authors is off in {}; the key is used once it is on",
                    path.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn reindex(path: &Path) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let store = context::open_store(&config)?;
    let index = context::open_index(&config)?;
    let mut stage = IndexStage::open(&index)?;
    // Every post must carry its sentiment into the index: finish any classification a
    // crash left undone before rebuilding.
    pipeline::classify_store_backlog(&store, &scorer_for(&config, None)?)?;
    let started = Instant::now();
    let progress = std::io::stderr().is_terminal();
    let added = stage.rebuild(&store, |done, total| {
        if progress {
            eprint!("\rreindexed up to post {done} of {total}   ");
        }
    })?;
    if progress {
        eprintln!();
    }
    store.append_audit("reindex", "cli", &serde_json::json!({ "documents": added }))?;
    println!(
        "reindexed {added} posts in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_lines_are_validated() {
        let now = Utc::now();
        let post = import_post(
            r#"{"id": 7, "published_at": "2024-05-01T13:02:00+08:00", "text": "hello acme"}"#,
            "s",
            "f",
            now,
        )
        .unwrap();
        assert_eq!(post.external_id, "7");
        assert_eq!(post.published_at.to_rfc3339(), "2024-05-01T05:02:00+00:00");
        assert_eq!(post.id, post_id("s", "7"));
        for (line, expected) in [
            (
                r#"{"id": 1, "published_at": "yesterday", "text": "x"}"#,
                "not RFC 3339",
            ),
            (
                r#"{"id": 1, "published_at": "2024-05-01T00:00:00Z", "text": "  "}"#,
                "`text` is empty",
            ),
            (
                r#"{"id": null, "published_at": "2024-05-01T00:00:00Z", "text": "x"}"#,
                "`id` must be",
            ),
            (
                r#"{"id": 1, "published_at": "2024-05-01T00:00:00Z", "text": "x", "extra": 1}"#,
                "unknown field",
            ),
            ("not json", "invalid JSON"),
        ] {
            let error = import_post(line, "s", "f", now).unwrap_err();
            assert!(error.contains(expected), "{line}: {error}");
        }
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}
