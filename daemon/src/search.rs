//! Search as the CLI and the API take it: one set of parameters turned into a
//! [`SearchRequest`], and the CLI's output formats, including exports that stream any
//! number of hits page by page.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use vigil_core::{Label, Query};
use vigil_index::{Hit, SearchIndex, SearchRequest, SearchResults, Sort};

/// Hits fetched per page while exporting.
const EXPORT_PAGE: usize = 2_000;

/// Search parameters as text, the way `/api/search` and `vigil search` receive them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct SearchParams {
    /// The query; `*` when absent.
    pub q: Option<String>,
    pub brand: Option<String>,
    pub source: Option<String>,
    pub sentiment: Option<String>,
    pub lang: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub min_score: Option<f32>,
    pub max_score: Option<f32>,
    /// Minimum reach (likes + reposts + replies + score, as the source reported them).
    pub min_reach: Option<u64>,
    /// `relevance`, `time` (= `newest`) or `oldest`.
    pub sort: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    pub cursor: Option<String>,
    /// Highlighted snippets; on unless `false`.
    pub highlight: Option<bool>,
}

impl SearchParams {
    /// Checks and converts the parameters; the error names the bad one.
    pub fn to_request(
        &self,
        now: DateTime<Utc>,
        default_limit: usize,
    ) -> Result<SearchRequest, String> {
        let query =
            Query::parse(self.q.as_deref().unwrap_or("*")).map_err(|e| format!("q: {e}"))?;
        let time = |value: &Option<String>, name: &str| {
            value
                .as_deref()
                .map(|t| {
                    vigil_core::time::parse_time_arg(t, now).map_err(|e| format!("{name}: {e}"))
                })
                .transpose()
        };
        let mut request = SearchRequest::new(query, self.limit.unwrap_or(default_limit));
        request.brand = non_empty(&self.brand);
        request.source = non_empty(&self.source);
        request.sentiment = non_empty(&self.sentiment)
            .map(|s| s.parse::<Label>().map_err(|e| format!("sentiment: {e}")))
            .transpose()?;
        request.lang = non_empty(&self.lang);
        request.from = time(&self.from, "from")?;
        request.to = time(&self.to, "to")?;
        request.min_score = self.min_score;
        request.max_score = self.max_score;
        request.min_reach = self.min_reach;
        request.sort = non_empty(&self.sort)
            .map(|s| s.parse::<Sort>().map_err(|e| format!("sort: {e}")))
            .transpose()?;
        request.offset = self.offset.unwrap_or(0);
        request.cursor = non_empty(&self.cursor);
        request.highlight = self.highlight.unwrap_or(true);
        Ok(request)
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Writes one page as the `table` format: a count line, then a line per hit with its
/// highlighted passage (bold on a terminal, `[…]` otherwise).
pub fn write_table(
    out: &mut impl Write,
    results: &SearchResults,
    color: bool,
) -> std::io::Result<()> {
    writeln!(out, "{} hits", results.total)?;
    let (open, close) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    for hit in &results.hits {
        let sentiment = hit
            .sentiment
            .as_ref()
            .map_or("-".to_string(), |s| format!("{} {:+.2}", s.label, s.score));
        let passage = match &hit.highlight {
            Some(highlight) => highlight.marked(open, close),
            None => hit.text.clone(),
        };
        writeln!(
            out,
            "{}  {}  {:<10} {:<16} {}  [{}]",
            hit.published_at.format("%Y-%m-%d %H:%M"),
            hit.id,
            hit.source,
            sentiment,
            vigil_core::text::truncate_chars(&passage.replace('\n', " "), 160),
            hit.url.as_deref().unwrap_or("")
        )?;
    }
    if let Some(cursor) = &results.next_cursor {
        writeln!(out, "more: --cursor {cursor}")?;
    }
    Ok(())
}

/// Export formats: every hit, streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// The CSV header; [`csv_record`] writes the fields in this order.
pub const CSV_HEADER: [&str; 14] = [
    "id",
    "published_at",
    "source",
    "brands",
    "author",
    "url",
    "lang",
    "sentiment",
    "score",
    "reach",
    "duplicate_of",
    "title",
    "text",
    "relevance",
];

fn csv_record(hit: &Hit) -> [String; 14] {
    [
        hit.id.clone(),
        hit.published_at.to_rfc3339(),
        hit.source.clone(),
        hit.brands.join(";"),
        hit.author.clone().unwrap_or_default(),
        hit.url.clone().unwrap_or_default(),
        hit.lang.clone().unwrap_or_default(),
        hit.sentiment
            .as_ref()
            .map_or(String::new(), |s| s.label.to_string()),
        hit.sentiment
            .as_ref()
            .map_or(String::new(), |s| format!("{:.4}", s.score)),
        hit.engagement.reach().to_string(),
        hit.duplicate_of.clone().unwrap_or_default(),
        hit.title.clone().unwrap_or_default(),
        hit.text.clone(),
        format!("{:.4}", hit.relevance),
    ]
}

/// Streams every hit of `request` (up to `max`, all when `None`) to `out`, fetching
/// pages of [`EXPORT_PAGE`] through the cursor so memory stays flat. Progress goes to
/// `progress` about once a second when the export is big. Returns hits written.
pub fn export(
    index: &SearchIndex,
    mut request: SearchRequest,
    max: Option<usize>,
    format: ExportFormat,
    out: &mut impl Write,
    progress: &mut impl Write,
) -> anyhow::Result<u64> {
    request.highlight = false;
    request.offset = 0;
    let mut sink = match format {
        ExportFormat::Csv => {
            let mut writer = csv::Writer::from_writer(&mut *out);
            writer.write_record(CSV_HEADER)?;
            Sink::Csv(Box::new(writer))
        }
        ExportFormat::Jsonl => Sink::Jsonl(&mut *out),
    };
    let mut written = 0u64;
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut reported = false;
    loop {
        let remaining = max.map_or(usize::MAX, |max| max.saturating_sub(written as usize));
        if remaining == 0 {
            break;
        }
        request.limit = EXPORT_PAGE.min(remaining);
        let page = index.search(&request)?;
        for hit in &page.hits {
            match &mut sink {
                Sink::Csv(writer) => writer.write_record(csv_record(hit))?,
                Sink::Jsonl(out) => {
                    serde_json::to_writer(&mut **out, hit)?;
                    out.write_all(b"\n")?;
                }
            }
            written += 1;
        }
        let goal = max.map_or(page.total, |max| page.total.min(max as u64));
        if last_report.elapsed() >= Duration::from_secs(1) && goal > 0 {
            writeln!(
                progress,
                "exported {written} of {goal} hits ({:.0}%, {:.1}s)",
                written as f64 * 100.0 / goal as f64,
                started.elapsed().as_secs_f64()
            )?;
            last_report = Instant::now();
            reported = true;
        }
        match page.next_cursor {
            Some(cursor) if !page.hits.is_empty() => request.cursor = Some(cursor),
            _ => break,
        }
    }
    match sink {
        Sink::Csv(mut writer) => writer.flush()?,
        Sink::Jsonl(out) => out.flush()?,
    }
    if reported {
        writeln!(
            progress,
            "exported {written} hits in {:.1}s",
            started.elapsed().as_secs_f64()
        )?;
    }
    Ok(written)
}

enum Sink<'a, W: Write> {
    Csv(Box<csv::Writer<&'a mut W>>),
    Jsonl(&'a mut W),
}

/// True when bold marks can be written to stdout.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}
