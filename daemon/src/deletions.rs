//! `honour_deletions`: every `recheck_every`, each flagged source is asked whether the
//! posts it gave us (published within `recheck_window`, at most `recheck_max` per pass,
//! round-robin by seq) still exist (`Crawler::recheck`). Posts it no longer has are
//! erased like an erasure request — tombstone with hashes only, raw captures deleted,
//! audited as actor `honour_deletions` — and then deleted from the index by the index
//! stage, which owns the writer. A crash between the two is repaired at start-up
//! (`IndexStage::purge_erased`).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::block_in_place;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use vigil_config::SourceConfig;
use vigil_crawler::RecheckPost;
use vigil_store::ErasureTarget;

use crate::pipeline::Services;

/// The actor of the erasures this task makes, in the audit log.
pub const ACTOR: &str = "honour_deletions";

/// What one pass over one source did.
#[derive(Debug, Default)]
pub struct PassReport {
    pub checked: usize,
    pub deleted: usize,
    pub unknown: usize,
}

/// Runs until `shutdown`; erasure reports go to the index stage (`Services::erased`).
pub async fn recheck_task(
    services: Arc<Services>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let sources: Vec<SourceConfig> = services
        .config
        .sources
        .iter()
        .filter(|source| source.honour_deletions)
        .cloned()
        .collect();
    if sources.is_empty() {
        return Ok(());
    }
    let start = tokio::time::Instant::now();
    // Source name → when its next pass is due, and the seq its last pass ended at.
    let mut due: HashMap<String, tokio::time::Instant> = sources
        .iter()
        .map(|source| (source.name.clone(), start + every(source)))
        .collect();
    let mut cursors: HashMap<String, i64> = HashMap::new();
    loop {
        let next = due.values().min().copied().unwrap_or(start);
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep_until(next) => {}
        }
        for source in &sources {
            if due[&source.name] > tokio::time::Instant::now() {
                continue;
            }
            due.insert(
                source.name.clone(),
                tokio::time::Instant::now() + every(source),
            );
            let cursor = cursors.entry(source.name.clone()).or_insert(0);
            match recheck_pass(&services, source, cursor).await {
                Ok(report) if report.checked > 0 => info!(
                    source = %source.name,
                    checked = report.checked,
                    deleted = report.deleted,
                    unknown = report.unknown,
                    "honour_deletions: re-checked posts at the source"
                ),
                Ok(_) => debug!(source = %source.name, "honour_deletions: nothing to re-check"),
                Err(error) => warn!(
                    source = %source.name,
                    error = format!("{error:#}"),
                    "honour_deletions: re-check failed; the next pass tries again"
                ),
            }
        }
    }
}

/// One pass over `source` from `cursor` (moved to where it ended, or back to 0 at the
/// end of the window).
pub async fn recheck_pass(
    services: &Services,
    source: &SourceConfig,
    cursor: &mut i64,
) -> anyhow::Result<PassReport> {
    let window = chrono::Duration::from_std(source.recheck_window)?;
    let since = services.clock.now() - window;
    let candidates = block_in_place(|| {
        services
            .store
            .recheck_candidates(&source.name, since, *cursor, source.recheck_max)
    })?;
    *cursor = if candidates.len() < source.recheck_max {
        0
    } else {
        candidates.last().map_or(0, |c| c.seq)
    };
    if candidates.is_empty() {
        return Ok(PassReport::default());
    }
    let posts: Vec<RecheckPost> = candidates
        .into_iter()
        .map(|c| RecheckPost {
            id: c.id,
            external_id: c.external_id,
            url: c.url,
        })
        .collect();
    let outcome = services.crawler.recheck(source, &posts).await;
    if let Some(problem) = &outcome.problem {
        debug!(source = %source.name, %problem, unknown = outcome.unknown, "honour_deletions: some posts could not be re-checked");
    }
    let mut report = PassReport {
        checked: posts.len(),
        deleted: 0,
        unknown: outcome.unknown,
    };
    if outcome.deleted.is_empty() {
        return Ok(report);
    }
    for (id, why) in &outcome.deleted {
        debug!(source = %source.name, post = %id, %why, "honour_deletions: deleted at the source");
    }
    let ids: Vec<String> = outcome.deleted.into_iter().map(|(id, _)| id).collect();
    let erasure = block_in_place(|| {
        services.store.erase_posts(
            &ErasureTarget::Ids(ids),
            &format!("deleted at the source ({})", source.name),
            ACTOR,
        )
    })?;
    report.deleted = erasure.ids.len();
    if !erasure.ids.is_empty() {
        // The index stage removes them; if it has stopped, start-up repair does.
        let _ = services.erased.send(erasure);
    }
    Ok(report)
}

/// A source's re-check interval, at least a second (a zero would spin).
fn every(source: &SourceConfig) -> std::time::Duration {
    source.recheck_every.max(std::time::Duration::from_secs(1))
}
