//! The one-shot commands: check-config, crawl --once, search, import, classify,
//! incidents, audit, reindex.

use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use vigil_core::{IncidentStatus, Label, Post, Provenance, Query, post_id, sha256_hex};

use crate::UsageError;
use crate::cli::{
    AuditCommand, ClassifyArgs, CrawlArgs, EraseArgs, ExportFormat, ImportArgs, IncidentsCommand,
    ListFormat, SearchArgs, SearchFormat,
};
use crate::context::{self, load_config, parse_time};
use crate::pipeline::{self, IndexStage, Services};

pub fn check_config(path: &Path) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let mut warnings = Vec::new();
    let env_vars = config
        .server
        .tokens
        .iter()
        .map(|t| t.token_env.as_str())
        .chain(
            config
                .alerts
                .smtp
                .iter()
                .filter_map(|s| s.password_env.as_deref()),
        )
        .chain(
            config
                .sources
                .iter()
                .flat_map(|s| [s.password_env.as_deref(), s.token_env.as_deref()])
                .flatten(),
        );
    for variable in env_vars {
        if let Err(problem) = vigil_config::secret_from_env(variable) {
            warnings.push(problem);
        }
    }
    println!(
        "{}: ok ({} brands, {} sources, {} rules, {} scripts; data in {})",
        path.display(),
        config.brands.len(),
        config.sources.len(),
        config.alerts.rules.len(),
        config.scripts.len(),
        config.storage.data_dir.display()
    );
    for warning in warnings {
        println!("warning: {warning} (needed at run time)");
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
    let query = Query::parse(&args.query).map_err(|e| UsageError(format!("in the query: {e}")))?;
    let now = Utc::now();
    let request = vigil_index::SearchRequest {
        query,
        brand: args.brand,
        source: args.source,
        sentiment: args
            .sentiment
            .as_deref()
            .map(|s| s.parse::<Label>().map_err(UsageError))
            .transpose()?,
        from: parse_time(&args.from, now)?,
        to: parse_time(&args.to, now)?,
        limit: args.limit,
        offset: args.offset,
    };
    let index = context::open_index(&config)?;
    let results = index.search(&request)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match args.format {
        SearchFormat::Json => {
            serde_json::to_writer(&mut out, &results)?;
            writeln!(out)?;
        }
        SearchFormat::Table => {
            writeln!(out, "{} hits", results.total)?;
            for hit in &results.hits {
                let sentiment = hit
                    .sentiment
                    .as_ref()
                    .map_or("-".to_string(), |s| format!("{} {:+.2}", s.label, s.score));
                writeln!(
                    out,
                    "{}  {}  {:<10} {:<16} {}  [{}]",
                    hit.published_at.format("%Y-%m-%d %H:%M"),
                    hit.id,
                    hit.source,
                    sentiment,
                    vigil_core::text::truncate_chars(&hit.text.replace('\n', " "), 100),
                    hit.url.as_deref().unwrap_or("")
                )?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
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
    Ok(Post {
        id: post_id(source, &external_id),
        source: source.to_string(),
        external_id,
        canonical_url: parsed.url.as_deref().and_then(vigil_core::canonical_url),
        url: parsed.url,
        author: parsed.author,
        title: parsed.title,
        text: parsed.text,
        lang: parsed.lang,
        published_at,
        brands: Vec::new(),
        provenance: Provenance {
            fetched_at: now,
            fetch_url: format!("import:{file_label}"),
            http_status: None,
            content_hash,
            extraction: "import:jsonl".into(),
        },
        sentiment: None,
        engagement: Default::default(),
        duplicate_of: None,
    })
}

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
    let mut index_stage = open_index_unless_daemon(&services);
    let reader: Box<dyn BufRead> = if args.file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file))?,
        ))
    };
    let file_label = if args.file == "-" {
        "stdin".to_string()
    } else {
        args.file.clone()
    };
    let now = Utc::now();
    let started = Instant::now();
    let progress = std::io::stderr().is_terminal();
    let (mut stored, mut duplicates, mut unmatched, mut lines) = (0usize, 0usize, 0usize, 0usize);
    let mut rejected: Vec<(usize, String)> = Vec::new();
    let mut batch: Vec<Post> = Vec::with_capacity(args.batch);
    let mut flush =
        |batch: &mut Vec<Post>, stored: &mut usize, duplicates: &mut usize| -> anyhow::Result<()> {
            if batch.is_empty() {
                return Ok(());
            }
            let (s, d) = tokio::task::block_in_place(|| {
                pipeline::process_posts(&services, index_stage.as_mut(), batch, None, "import")
            })?;
            *stored += s;
            *duplicates += d;
            batch.clear();
            Ok(())
        };
    let mut reader = reader;
    let mut raw_line = Vec::new();
    loop {
        raw_line.clear();
        if reader
            .read_until(b'\n', &mut raw_line)
            .context("reading the input")?
            == 0
        {
            break;
        }
        lines += 1;
        let line = match std::str::from_utf8(&raw_line) {
            Ok(line) => line.trim_end_matches(['\n', '\r']),
            Err(error) => {
                rejected.push((lines, format!("not UTF-8: {error}")));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match import_post(line, &args.source, &file_label, now) {
            Ok(mut post) => {
                post.brands = matcher.brands_for(&source_config, post.title.as_deref(), &post.text);
                if post.brands.is_empty() {
                    unmatched += 1;
                } else {
                    batch.push(post);
                }
            }
            Err(reason) => rejected.push((lines, reason)),
        }
        if batch.len() >= args.batch {
            flush(&mut batch, &mut stored, &mut duplicates)?;
            if progress {
                let rate = lines as f64 / started.elapsed().as_secs_f64().max(1e-3);
                eprint!("\r{lines} lines read, {stored} stored ({rate:.0} lines/s)   ");
            }
        }
    }
    flush(&mut batch, &mut stored, &mut duplicates)?;
    if progress {
        eprintln!();
    }
    services.index.reload()?;
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

#[derive(Debug, Deserialize)]
struct ClassifyLine {
    id: serde_json::Value,
    text: String,
    lang: Option<String>,
}

pub fn classify(path: &Path, args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path, true)?;
    let classifier = match &args.backend {
        Some(name) => vigil_classifier::build_backend(name, &config.classifier),
        None => vigil_classifier::build(&config.classifier),
    }
    .map_err(|e| UsageError(e.to_string()))?;
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
                let sentiment = classifier.classify(&input.text, input.lang.as_deref());
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
    }
    Ok(ExitCode::SUCCESS)
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

pub fn audit(path: &Path, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let store = context::open_store(&config)?;
    match command {
        AuditCommand::Verify => {
            let verification = store.verify_audit()?;
            match verification.first_bad {
                None => {
                    println!(
                        "audit log intact: {} entries, hash chain verified",
                        verification.entries
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(problem) => {
                    println!(
                        "audit log TAMPERED: first bad entry {}: {}",
                        problem.seq, problem.reason
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Export { from, to, format } => {
            let now = Utc::now();
            let (from, to) = (parse_time(&from, now)?, parse_time(&to, now)?);
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            if matches!(format, ExportFormat::Csv) {
                writeln!(out, "seq,at,kind,actor,payload,prev_hash,hash")?;
            }
            let mut write_error: Option<std::io::Error> = None;
            let exported = store.audit_entries(from, to, |entry| {
                let written = match format {
                    ExportFormat::Jsonl => serde_json::to_writer(&mut out, entry)
                        .map_err(std::io::Error::from)
                        .and_then(|()| writeln!(out)),
                    ExportFormat::Csv => writeln!(
                        out,
                        "{},{},{},{},{},{},{}",
                        entry.seq,
                        entry.at.to_rfc3339(),
                        csv_field(&entry.kind),
                        csv_field(&entry.actor),
                        csv_field(&entry.payload),
                        entry.prev_hash,
                        entry.hash
                    ),
                };
                written.map_err(|error| {
                    let message = error.to_string();
                    write_error = Some(error);
                    vigil_store::StoreError::Invalid(format!("writing the export: {message}"))
                })
            });
            if let Some(error) = write_error {
                return Err(anyhow::Error::from(error).context("writing the audit export"));
            }
            let count = exported?;
            out.flush()?;
            drop(out);
            store.append_audit(
                "audit_export",
                "cli",
                &serde_json::json!({ "from": from, "to": to, "entries": count }),
            )?;
            eprintln!("exported {count} audit entries");
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn erase(path: &Path, args: EraseArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    if args.reason.trim().is_empty() {
        return Err(
            UsageError("--reason must say why (it is recorded in the audit log)".into()).into(),
        );
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
    let target = match (args.author, args.url) {
        (Some(author), None) => vigil_store::ErasureTarget::Author(author),
        (None, Some(url)) => vigil_store::ErasureTarget::Url(url),
        _ => return Err(UsageError("give exactly one of --author or --url".into()).into()),
    };
    let report = store.erase_posts(&target, &args.reason, "cli")?;
    stage.purge_erased(&store)?;
    // Copies of an erased original now point at a promoted copy.
    stage.refresh(&store, &report.relinked)?;
    index.reload()?;
    println!(
        "erased {} posts from the store and the index; tombstones keep only ids and content hashes{}",
        report.ids.len(),
        report
            .audit_seq
            .map(|seq| format!(" (audit entry {seq})"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn reindex(path: &Path) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let store = context::open_store(&config)?;
    let index = context::open_index(&config)?;
    let mut stage = IndexStage::open(&index)?;
    // Every post must carry its sentiment into the index: finish any classification a
    // crash left undone before rebuilding.
    let classifier =
        vigil_classifier::build(&config.classifier).map_err(|e| UsageError(e.to_string()))?;
    pipeline::classify_store_backlog(&store, classifier.as_ref())?;
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
