//! `vigil audit export` (and the admin API's `/api/audit/export`): the records of a
//! period with their hashes, for an auditor. One record per line (JSONL) or row (CSV):
//!
//! - `audit`: audit-log entries (config loads, acknowledgements, resolutions,
//!   erasures, exports, notifications sent…), with the chain's `prev_hash` and `hash`;
//! - `post`: stored posts fetched in the period, with provenance (`content_hash`);
//! - `incident`: incidents active in the period, with who acknowledged and resolved;
//! - `notification`: notifications written in the period, with delivery state.
//!
//! Every record carries `sha256`, the SHA-256 of its own JSON text without that member:
//! a JSONL line is the record's compact JSON with `,"sha256":"<64 hex>"` spliced in
//! before the closing brace, so `line[:-77] + "}"` is exactly the hashed text. The last
//! line, `{"type":"summary",…}`, gives the counts and `lines_sha256`, the SHA-256 of
//! every byte before it; the same digest goes into the `audit_export` audit entry, so
//! the export as a whole is covered by the hash chain and the signed checkpoints.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use vigil_store::{Store, StoreError};

use crate::cli::{ExportFormat, ExportKind};
use crate::commands::csv_field;

/// What one export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub counts: BTreeMap<&'static str, u64>,
    pub lines_sha256: String,
}

/// Records between two calls of the progress callback.
const PROGRESS_EVERY: u64 = 10_000;

/// Writes the export to `out` and records it in the audit log as done by `actor`.
/// `progress` is called with the records written so far every 10,000 records.
#[allow(clippy::too_many_arguments)]
pub fn write_export(
    store: &Store,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    kinds: &[ExportKind],
    format: ExportFormat,
    actor: &str,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> anyhow::Result<ExportSummary> {
    let mut writer = RecordWriter {
        out,
        format,
        digest: Sha256::new(),
        error: None,
        written: 0,
        progress,
    };
    if matches!(format, ExportFormat::Csv) {
        writer.raw("type,id,at,sha256,record\n")?;
    }
    let mut counts = BTreeMap::new();
    let all = kinds.is_empty();
    let wanted = |kind: ExportKind| all || kinds.contains(&kind);
    // The stores' streams hand one row at a time to the writer; a write error stops the
    // stream (as a store error) and is reported as what it was.
    if wanted(ExportKind::Audit) {
        let count = store.audit_entries(from, to, |entry| {
            let mut record = serde_json::to_value(entry)?;
            record["type"] = "audit".into();
            writer.record(&entry.seq.to_string(), &entry.at, record)
        });
        counts.insert("audit", writer.finish_stream(count)?);
    }
    if wanted(ExportKind::Posts) {
        let count = store.export_posts(from, to, |stored| {
            let mut record = serde_json::to_value(&stored.post)?;
            record["type"] = "post".into();
            record["seq"] = stored.seq.into();
            writer.record(&stored.post.id, &stored.post.provenance.fetched_at, record)
        });
        counts.insert("post", writer.finish_stream(count)?);
    }
    if wanted(ExportKind::Incidents) {
        let count = store.export_incidents(from, to, |incident| {
            let mut record = serde_json::to_value(incident)?;
            record["type"] = "incident".into();
            writer.record(&incident.id.to_string(), &incident.opened_at, record)
        });
        counts.insert("incident", writer.finish_stream(count)?);
    }
    if wanted(ExportKind::Notifications) {
        let count = store.export_notifications(from, to, |notification| {
            let mut record = serde_json::to_value(notification)?;
            record["type"] = "notification".into();
            writer.record(
                &notification.id.to_string(),
                &notification.created_at,
                record,
            )
        });
        counts.insert("notification", writer.finish_stream(count)?);
    }
    let lines_sha256 = hex::encode(writer.digest.clone().finalize());
    let summary = ExportSummary {
        counts,
        lines_sha256,
    };
    let entry = store.append_audit(
        "audit_export",
        actor,
        &serde_json::json!({
            "from": from,
            "to": to,
            "format": match format { ExportFormat::Jsonl => "jsonl", ExportFormat::Csv => "csv" },
            "counts": summary.counts,
            "lines_sha256": summary.lines_sha256,
            // Kept for readers of older exports: the number of audit entries.
            "entries": summary.counts.get("audit").copied().unwrap_or(0),
        }),
    )?;
    let trailer = serde_json::json!({
        "type": "summary",
        "from": from,
        "to": to,
        "counts": summary.counts,
        "lines_sha256": summary.lines_sha256,
        "audit_export_seq": entry.seq,
    });
    match format {
        ExportFormat::Jsonl => writeln!(writer.out, "{trailer}")?,
        ExportFormat::Csv => writeln!(
            writer.out,
            "summary,{},{},{},{}",
            entry.seq,
            vigil_store::format_time(entry.at),
            summary.lines_sha256,
            csv_field(&trailer.to_string())
        )?,
    }
    writer.out.flush()?;
    Ok(summary)
}

struct RecordWriter<'a> {
    out: &'a mut dyn Write,
    format: ExportFormat,
    /// Of every byte written before the summary.
    digest: Sha256,
    /// The write error that stopped a store stream, reported instead of the store's.
    error: Option<std::io::Error>,
    written: u64,
    progress: &'a mut dyn FnMut(u64),
}

impl RecordWriter<'_> {
    fn raw(&mut self, text: &str) -> std::io::Result<()> {
        self.digest.update(text.as_bytes());
        self.out.write_all(text.as_bytes())
    }

    fn record(
        &mut self,
        id: &str,
        at: &DateTime<Utc>,
        record: serde_json::Value,
    ) -> Result<(), StoreError> {
        let text = record.to_string();
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let line = match self.format {
            ExportFormat::Jsonl => {
                // `text` is a JSON object: splice the hash in before its closing brace.
                let body = text.strip_suffix('}').unwrap_or(&text);
                format!("{body},\"sha256\":\"{sha256}\"}}\n")
            }
            ExportFormat::Csv => {
                let kind = record["type"].as_str().unwrap_or_default();
                format!(
                    "{kind},{},{},{sha256},{}\n",
                    csv_field(id),
                    vigil_store::format_time(*at),
                    csv_field(&text)
                )
            }
        };
        self.raw(&line).map_err(|error| {
            let message = error.to_string();
            self.error = Some(error);
            StoreError::Invalid(format!("writing the export: {message}"))
        })?;
        self.written += 1;
        if self.written.is_multiple_of(PROGRESS_EVERY) {
            (self.progress)(self.written);
        }
        Ok(())
    }

    fn finish_stream(&mut self, count: Result<u64, StoreError>) -> anyhow::Result<u64> {
        if let Some(error) = self.error.take() {
            return Err(anyhow::Error::from(error).context("writing the audit export"));
        }
        Ok(count?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_hashes_its_own_record_and_the_summary_covers_the_lines() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .append_audit("config_loaded", "cli", &serde_json::json!({"sha256": "ab"}))
            .unwrap();
        store
            .append_audit(
                "erasure",
                "dpo",
                &serde_json::json!({"posts": 1, "note": "a,\"b\""}),
            )
            .unwrap();
        let mut out = Vec::new();
        let summary = write_export(
            &store,
            None,
            None,
            &[],
            ExportFormat::Jsonl,
            "auditor",
            &mut out,
            &mut |_| {},
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        for line in &lines[..2] {
            let hashed = format!("{}}}", &line[..line.len() - 77]);
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["type"], "audit");
            assert_eq!(
                value["sha256"].as_str().unwrap(),
                hex::encode(Sha256::digest(hashed.as_bytes()))
            );
            let mut without: serde_json::Value = serde_json::from_str(&hashed).unwrap();
            without["sha256"] = value["sha256"].clone();
            assert_eq!(without, value, "only the hash was spliced in");
        }
        let before_summary = &text[..text.len() - lines[2].len() - 1];
        let trailer: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(trailer["type"], "summary");
        assert_eq!(trailer["counts"]["audit"], 2);
        assert_eq!(trailer["counts"]["post"], 0);
        assert_eq!(
            trailer["lines_sha256"].as_str().unwrap(),
            hex::encode(Sha256::digest(before_summary.as_bytes()))
        );
        assert_eq!(
            summary.lines_sha256,
            trailer["lines_sha256"].as_str().unwrap()
        );
        // The export itself is audited, with the same digest, by the caller's name.
        let mut last = None;
        store
            .audit_entries(None, None, |entry| {
                last = Some(entry.clone());
                Ok(())
            })
            .unwrap();
        let last = last.unwrap();
        assert_eq!(
            (last.kind.as_str(), last.actor.as_str()),
            ("audit_export", "auditor")
        );
        assert!(last.payload.contains(&summary.lines_sha256));
        assert_eq!(Some(last.seq), trailer["audit_export_seq"].as_i64());
    }

    #[test]
    fn csv_rows_quote_the_record_and_hash_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .append_audit(
                "note",
                "a,b",
                &serde_json::json!({"text": "line\nbreak \"q\""}),
            )
            .unwrap();
        let mut out = Vec::new();
        write_export(
            &store,
            None,
            None,
            &[ExportKind::Audit],
            ExportFormat::Csv,
            "cli",
            &mut out,
            &mut |_| {},
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("type,id,at,sha256,record\naudit,1,"),
            "{text}"
        );
        let row = text.lines().nth(1).unwrap();
        let sha = row.split(',').nth(3).unwrap();
        assert_eq!(sha.len(), 64);
        assert!(text.contains("\nsummary,2,"), "{text}");
    }

    #[test]
    fn a_failing_writer_is_reported_as_a_write_error() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "pipe closed",
                ))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .append_audit("config_loaded", "cli", &serde_json::json!({}))
            .unwrap();
        let error = write_export(
            &store,
            None,
            None,
            &[ExportKind::Audit],
            ExportFormat::Jsonl,
            "cli",
            &mut Broken,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(format!("{error:#}").contains("pipe closed"), "{error:#}");
    }
}
