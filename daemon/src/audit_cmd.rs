//! `vigil audit`: verify the hash chain and the signed checkpoints, export entries, sign
//! and print checkpoints, print inclusion and consistency proofs and the public key. The
//! JSON it prints is what an outside verifier needs: every field as hashed or signed.

use std::io::{BufWriter, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;
use vigil_store::{AuditPublicKey, Checkpoint, Store, StoreError};

use crate::UsageError;
use crate::cli::{AuditCommand, ExportFormat, ExportKind};
use crate::context::{self, load_config, parse_time};

pub fn audit(path: &Path, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let store = context::open_store(&config)?;
    match command {
        AuditCommand::Verify { public_key } => verify(&store, public_key.as_deref()),
        AuditCommand::Export {
            from,
            to,
            format,
            only,
            by,
        } => export(&store, (from, to), format, &only, &by),
        AuditCommand::Checkpoint { new } => {
            let checkpoint = if new {
                Some(store.audit_checkpoint(Utc::now())?)
            } else {
                store.latest_checkpoint()?
            };
            let Some(checkpoint) = checkpoint else {
                eprintln!("no audit checkpoint yet; sign one with `vigil audit checkpoint --new`");
                return Ok(ExitCode::from(1));
            };
            let public_key = store.audit_public_key()?;
            print_json(&checkpoint_json(&checkpoint, &public_key))?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prove {
            seq,
            consistency,
            size,
        } => {
            // The key is read only when a checkpoint is printed, so proving creates none.
            let mut public_key = None;
            let mut with_key = |checkpoint: &Checkpoint| -> anyhow::Result<serde_json::Value> {
                let key = match public_key {
                    Some(key) => key,
                    None => *public_key.insert(store.audit_public_key()?),
                };
                Ok(checkpoint_json(checkpoint, &key))
            };
            let document = match (seq, consistency) {
                (_, Some(old_size)) => {
                    let proof = store
                        .audit_consistency_proof(old_size, size)
                        .map_err(usage_if_invalid)?;
                    let mut document = serde_json::to_value(&proof)?;
                    for (field, checkpoint) in [
                        ("old_checkpoint", &proof.old_checkpoint),
                        ("new_checkpoint", &proof.new_checkpoint),
                    ] {
                        if let Some(checkpoint) = checkpoint {
                            document[field] = with_key(checkpoint)?;
                        }
                    }
                    document
                }
                (Some(seq), None) => {
                    let proof = store
                        .audit_inclusion_proof(seq, size)
                        .map_err(usage_if_invalid)?;
                    let mut document = serde_json::to_value(&proof)?;
                    if let Some(checkpoint) = &proof.checkpoint {
                        document["checkpoint"] = with_key(checkpoint)?;
                    }
                    document
                }
                (None, None) => {
                    return Err(
                        UsageError("give an entry SEQ or --consistency OLD_SIZE".into()).into(),
                    );
                }
            };
            print_json(&document)?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::PublicKey => {
            println!("{}", store.audit_public_key()?.to_hex());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn verify(store: &Store, public_key: Option<&str>) -> anyhow::Result<ExitCode> {
    let trusted = public_key
        .map(|text| {
            AuditPublicKey::from_hex(text)
                .map_err(|error| UsageError(format!("--public-key: {error}")))
        })
        .transpose()?;
    let report = store.verify_audit_full(trusted.as_ref())?;
    // Raw captures (`keep_raw`) are checked too: each decompressed and re-hashed.
    let captures = store.verify_raw_captures()?;
    let captures_line = match captures.captures {
        0 => String::new(),
        n => format!(
            "; {n} raw captures ({} bytes, {} stored) {}",
            captures.bytes,
            captures.stored_bytes,
            if captures.is_intact() {
                "verified"
            } else {
                "with PROBLEMS"
            }
        ),
    };
    if !captures.is_intact() {
        println!(
            "raw captures DAMAGED: {} of {} captures",
            captures.problems.len(),
            captures.captures
        );
        for problem in &captures.problems {
            println!("  - {problem}");
        }
    }
    if report.is_intact() && captures.is_intact() {
        let checkpoints = match (&report.latest_checkpoint, &report.trusted_key_id) {
            (None, _) => "no signed checkpoints yet".to_string(),
            (Some(latest), key_id) => format!(
                "{} signed checkpoints verified with key {} (latest: {} entries, signed {})",
                report.checkpoints,
                key_id.as_deref().unwrap_or("?"),
                latest.tree_size,
                vigil_store::format_time(latest.signed_at)
            ),
        };
        println!(
            "audit log intact: {} entries, hash chain verified; {checkpoints}{captures_line}",
            report.entries
        );
        return Ok(ExitCode::SUCCESS);
    }
    if report.is_intact() {
        return Ok(ExitCode::from(1));
    }
    match &report.first_bad {
        Some(problem) => println!(
            "audit log TAMPERED: first bad entry {}: {}",
            problem.seq, problem.reason
        ),
        None => println!("audit log TAMPERED: {} problems", report.problems.len()),
    }
    for problem in &report.problems {
        println!("  - {problem}");
    }
    Ok(ExitCode::from(1))
}

fn export(
    store: &Store,
    (from, to): (Option<String>, Option<String>),
    format: ExportFormat,
    only: &[ExportKind],
    by: &str,
) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let (from, to) = (parse_time(&from, now)?, parse_time(&to, now)?);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    // A progress line on a terminal: large periods take a while.
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |written: u64| {
        if terminal {
            eprint!("\rexported {written} records…   ");
        }
    };
    let summary = crate::audit_export::write_export(
        store,
        from,
        to,
        only,
        format,
        by,
        &mut out,
        &mut progress,
    )?;
    drop(out);
    if terminal {
        eprint!("\r");
    }
    let counts: Vec<String> = summary
        .counts
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    eprintln!(
        "exported {} records; lines sha256 {}",
        counts.join(", "),
        summary.lines_sha256
    );
    Ok(ExitCode::SUCCESS)
}

/// A checkpoint with what a verifier needs beside it: the public key (as the data dir
/// holds it; compare it with the one you pinned) and the exact signed text.
fn checkpoint_json(checkpoint: &Checkpoint, public_key: &AuditPublicKey) -> serde_json::Value {
    let mut document = serde_json::to_value(checkpoint).unwrap_or_default();
    document["public_key"] = public_key.to_hex().into();
    document["signed_message"] = checkpoint.signed_message().into();
    document
}

fn print_json(document: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(document)?);
    Ok(())
}

/// A size or entry that does not exist is the caller's mistake (exit 2).
fn usage_if_invalid(error: StoreError) -> anyhow::Error {
    match error {
        StoreError::Invalid(message) => UsageError(message).into(),
        StoreError::NotFound(what) => UsageError(format!("{what} not found")).into(),
        other => other.into(),
    }
}
