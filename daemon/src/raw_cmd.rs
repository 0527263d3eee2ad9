//! `vigil raw POST_ID [--out FILE]`: the exact bytes of the page a post was extracted
//! from, for sources with `keep_raw`. The bytes go to stdout (or FILE) untouched; what
//! they are (hash, URL, time, type, size) goes to stderr, so stdout can be piped.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::RawArgs;
use crate::context::{self, load_config};

pub fn raw(path: &Path, args: RawArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(path, false)?;
    let store = context::open_store(&config)?;
    let id = args.post_id.as_str();
    let Some(stored) = store.get_post(id)? else {
        bail!("no post {id:?} in the store (never stored, or erased or purged)");
    };
    let Some(sha256) = stored.post.provenance.raw_sha256 else {
        bail!(
            "post {id} has no raw capture: its source {:?} does not set keep_raw, the page was \
             captured before it did, or the capture was erased",
            stored.post.source
        );
    };
    // A capture that no longer hashes to its name is an error naming the hash.
    let Some(capture) = store.raw_capture(&sha256)? else {
        bail!("post {id} names raw capture {sha256}, which is not in the store");
    };
    eprintln!("sha256: {}", capture.sha256);
    eprintln!("source: {}", capture.source);
    eprintln!("fetch_url: {}", capture.fetch_url);
    eprintln!(
        "fetched_at: {}",
        vigil_store::format_time(capture.fetched_at)
    );
    eprintln!("http_status: {}", capture.http_status);
    eprintln!(
        "content_type: {}",
        capture.content_type.as_deref().unwrap_or("-")
    );
    eprintln!("size: {} bytes", capture.bytes.len());
    match &args.out {
        Some(file) => {
            std::fs::write(file, &capture.bytes)
                .with_context(|| format!("cannot write {}", file.display()))?;
            eprintln!("written to {}", file.display());
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&capture.bytes)
                .and_then(|()| stdout.flush())
                .context("cannot write to stdout")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
