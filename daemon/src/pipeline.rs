//! The whole data flow in one place.
//!
//! ```text
//! scheduler ──CrawlBatch──▶ store stage ──Vec<StoredPost>──▶ classify stage ──Vec<StoredPost>──▶ index stage
//!  (one loop per source)     (dedup, provenance,             (sentiment, written                (tantivy, commit
//!                             audit, checkpoint)              back to the store)                 payload = store seq)
//!                                                                                                       │ notify
//!                               outbox stage ◀──notify── alert stage ◀──────────────────────────────────┘
//!                               (SMTP, retries)          (rules → incidents → 24 h clock → outbox rows)
//! ```
//! Stages are tokio tasks joined by bounded channels, so a slow stage pushes back on
//! the crawler. The store is the log: every derived step can be redone from it, which is
//! how start-up repairs a crash (unclassified posts are classified, the index catches up
//! from its committed watermark). Blocking work never runs directly on the async
//! workers: the classify stage's batches go to the blocking pool (`spawn_blocking`), and
//! SQLite and tantivy calls (and the repair passes that classify a backlog) run in
//! `block_in_place`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{Notify, mpsc};
use tokio::task::{JoinSet, block_in_place};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use vigil_alerts::{AlertEngine, Mailer};
use vigil_classifier::Scorer;
use vigil_config::{Config, SourceConfig};
use vigil_core::{Clock, Post, RawCapture, SourceCheckpoint, StoredPost, SystemClock};
use vigil_crawler::{CrawlError, CrawlOutcome, Crawler};
use vigil_index::{IndexWriter, SearchIndex};
use vigil_store::{ErasureReport, Store};

use crate::context;

/// Everything the stages share, opened once.
pub struct Services {
    pub config: Arc<Config>,
    pub store: Arc<Store>,
    pub index: Arc<SearchIndex>,
    /// The classifier, with the brands' own models (`[classifier.brand_models]`).
    pub classifier: Arc<Scorer>,
    pub crawler: Arc<Crawler>,
    pub engine: Arc<AlertEngine>,
    pub mailer: Option<Arc<Mailer>>,
    /// The configured webhooks (URLs read from the environment at start-up).
    pub webhooks: Option<Arc<vigil_alerts::Webhooks>>,
    pub clock: Arc<dyn Clock>,
    /// Wakes the index stage to re-add posts queued for refresh (an API correction)
    /// without waiting for its poll.
    pub refresh_wakeup: Arc<tokio::sync::Notify>,
    /// Erasures made in the store while the daemon runs (the admin API,
    /// `honour_deletions`), for the index stage, which owns the writer, to apply.
    pub erased: mpsc::UnboundedSender<ErasureReport>,
    /// The receiving end, taken by the index stage when the pipeline starts.
    erased_rx: std::sync::Mutex<Option<mpsc::UnboundedReceiver<ErasureReport>>>,
}

impl Services {
    pub fn open(config: Config) -> anyhow::Result<Arc<Services>> {
        let store = context::open_store(&config)?;
        let index = context::open_index(&config)?;
        let classifier = Arc::new(
            vigil_classifier::build_scorer(&config.classifier, None)
                .context("building the classifier")?,
        );
        let crawler = Arc::new(
            Crawler::new(&config.crawler, &config.brands).context("building the crawler")?,
        );
        let engine = Arc::new(AlertEngine::new(&config).context("compiling alert scripts")?);
        store.append_audit(
            "config_loaded",
            "vigil",
            &serde_json::json!({ "path": config.path.as_ref().map(|p| p.display().to_string()), "sha256": config.content_hash }),
        )?;
        let mailer = match &config.alerts.smtp {
            Some(smtp) => Some(Arc::new(Mailer::new(smtp).context("configuring SMTP")?)),
            None => None,
        };
        let webhooks = vigil_alerts::Webhooks::from_config(&config.alerts)
            .map_err(|error| crate::UsageError(error.to_string()))?;
        let webhooks = (!webhooks.is_empty()).then(|| Arc::new(webhooks));
        let (erased, erased_rx) = mpsc::unbounded_channel();
        Ok(Arc::new(Services {
            config: Arc::new(config),
            store,
            index,
            classifier,
            crawler,
            engine,
            mailer,
            webhooks,
            clock: Arc::new(SystemClock),
            refresh_wakeup: Arc::new(tokio::sync::Notify::new()),
            erased,
            erased_rx: std::sync::Mutex::new(Some(erased_rx)),
        }))
    }
}

/// One fetch result on its way to the store.
pub struct CrawlBatch {
    pub source: String,
    pub previous: Option<SourceCheckpoint>,
    pub result: Result<CrawlOutcome, CrawlError>,
}

/// `vigil run`.
pub async fn run_daemon(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = context::load_config(config_path, false)?;
    let listen = config.server.listen;
    let services = Services::open(config)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the HTTP API to {listen}"))?;
    info!(%listen, sources = services.config.sources.len(), brands = services.config.brands.len(), "vigil started");
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    run_pipeline(services, shutdown, Some(listener)).await?;
    info!("vigil stopped");
    Ok(ExitCode::SUCCESS)
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(error) => {
                    warn!(%error, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    info!("shutdown requested: finishing in-flight batches");
    shutdown.cancel();
}

/// Runs every stage until `shutdown` is cancelled, then drains them in order.
pub async fn run_pipeline(
    services: Arc<Services>,
    shutdown: CancellationToken,
    listener: Option<tokio::net::TcpListener>,
) -> anyhow::Result<()> {
    let mut index_stage = block_in_place(|| IndexStage::open(&services.index))?;
    block_in_place(|| recover(&services, &mut index_stage))?;

    let (crawl_tx, crawl_rx) = mpsc::channel::<CrawlBatch>(16);
    let (stored_tx, stored_rx) = mpsc::channel::<Vec<StoredPost>>(16);
    let (classified_tx, classified_rx) = mpsc::channel::<Vec<StoredPost>>(16);
    let erased_rx = services
        .erased_rx
        .lock()
        .map_err(|_| anyhow::anyhow!("erasure channel lock poisoned"))?
        .take()
        .context("the pipeline runs once per Services")?;
    let alerts_wakeup = Arc::new(Notify::new());
    let outbox_wakeup = Arc::new(Notify::new());

    let mut stages = JoinSet::new();
    stages.spawn(crate::deletions::recheck_task(
        services.clone(),
        shutdown.clone(),
    ));
    stages.spawn(scheduler(services.clone(), crawl_tx, shutdown.clone()));
    stages.spawn(store_stage(services.clone(), crawl_rx, stored_tx));
    stages.spawn(classify_stage(services.clone(), stored_rx, classified_tx));
    stages.spawn(index_stage_task(
        services.clone(),
        index_stage,
        classified_rx,
        erased_rx,
        alerts_wakeup.clone(),
        shutdown.clone(),
    ));
    stages.spawn(alert_stage(
        services.clone(),
        alerts_wakeup,
        outbox_wakeup.clone(),
        shutdown.clone(),
    ));
    stages.spawn(outbox_stage(
        services.clone(),
        outbox_wakeup,
        shutdown.clone(),
    ));
    if let Some(listener) = listener {
        let router = crate::http::router(services.clone());
        let stop = shutdown.clone();
        stages.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
                .context("HTTP server")
        });
    }

    let mut first_error = None;
    while let Some(joined) = stages.join_next().await {
        let outcome = joined.map_err(anyhow::Error::from).and_then(|r| r);
        if let Err(error) = outcome {
            error!(error = format!("{error:#}"), "stage failed; shutting down");
            shutdown.cancel();
            first_error.get_or_insert(error);
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Start-up repair after a crash: classify what was stored but not classified, then bring
/// the index up to the store.
pub fn recover(services: &Services, index_stage: &mut IndexStage) -> anyhow::Result<()> {
    index_stage.purge_erased(&services.store)?;
    let classified = classify_backlog(services)?;
    let indexed = index_stage.catch_up(&services.store)?;
    let refreshed = index_stage.apply_refresh(&services.store)?;
    if classified + indexed + refreshed > 0 {
        info!(classified, indexed, refreshed, "caught up with the store");
    }
    Ok(())
}

// ---------------------------------------------------------------- scheduler

async fn scheduler(
    services: Arc<Services>,
    tx: mpsc::Sender<CrawlBatch>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut loops = JoinSet::new();
    for source in services.config.sources.clone() {
        loops.spawn(source_loop(
            services.clone(),
            source,
            tx.clone(),
            shutdown.clone(),
        ));
    }
    drop(tx);
    while let Some(joined) = loops.join_next().await {
        joined?;
    }
    Ok(())
}

/// Delay before the next attempt: the source's interval, doubled per consecutive failure
/// up to eight times the interval or one hour, whichever is longer.
pub fn next_delay(interval: Duration, consecutive_failures: u32) -> Duration {
    if consecutive_failures == 0 {
        return interval;
    }
    let factor = 1u32 << consecutive_failures.min(3);
    (interval * factor).min(interval.max(Duration::from_secs(3600)))
}

async fn source_loop(
    services: Arc<Services>,
    source: SourceConfig,
    tx: mpsc::Sender<CrawlBatch>,
    shutdown: CancellationToken,
) {
    let previous = block_in_place(|| services.store.checkpoint(&source.name)).unwrap_or_default();
    // Resume the schedule across restarts instead of hammering every source at start.
    let mut delay = previous
        .as_ref()
        .and_then(|c| c.last_attempt_at)
        .map(|last| {
            let due = last
                + chrono::Duration::from_std(next_delay(
                    source.interval,
                    previous.as_ref().map_or(0, |c| c.consecutive_failures),
                ))
                .unwrap_or_default();
            (due - services.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
        })
        .unwrap_or(Duration::ZERO);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        let previous = match block_in_place(|| services.store.checkpoint(&source.name)) {
            Ok(previous) => previous,
            Err(error) => {
                warn!(%error, source = %source.name, "cannot read checkpoint");
                None
            }
        };
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            result = services.crawler.crawl(&source, previous.as_ref()) => result,
        };
        delay = match &result {
            Ok(_) => source.interval,
            Err(error) => {
                let failures = previous.as_ref().map_or(0, |c| c.consecutive_failures) + 1;
                // ±20% so sources that failed together do not retry in lockstep; a
                // 429/503 says how long to stay away, and we never come back sooner.
                let jitter = 0.8 + 0.4 * rand::random::<f64>();
                next_delay(source.interval, failures)
                    .mul_f64(jitter)
                    .max(error.retry_after().unwrap_or_default())
            }
        };
        let batch = CrawlBatch {
            source: source.name.clone(),
            previous,
            result,
        };
        if tx.send(batch).await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------- store

/// What the store stage records for a failed fetch: the error, on the source's checkpoint.
pub fn failed_checkpoint(
    services: &Services,
    batch: &CrawlBatch,
    error: &CrawlError,
) -> SourceCheckpoint {
    vigil_crawler::failed_checkpoint(
        &batch.source,
        batch.previous.as_ref(),
        error,
        services.clock.now(),
    )
}

/// Stores one crawl result; returns the newly stored posts.
pub fn store_batch(services: &Services, batch: &CrawlBatch) -> anyhow::Result<Vec<StoredPost>> {
    match &batch.result {
        Ok(outcome) => {
            // The posts and the raw captures they name (keep_raw sources) go in together.
            let report = services.store.ingest_with_raw(
                &outcome.posts,
                &outcome.raw_captures,
                Some(&outcome.checkpoint),
                "crawler",
            )?;
            info!(
                source = %batch.source,
                status = outcome.http_status,
                not_modified = outcome.not_modified,
                items = outcome.items_seen,
                unmatched = outcome.unmatched,
                stored = report.stored.len(),
                duplicates = report.duplicates,
                raw_captures = report.raw_captures.len(),
                "crawled"
            );
            for warning in &outcome.warnings {
                warn!(source = %batch.source, warning = %warning, "recoverable problem in source");
            }
            Ok(report.stored)
        }
        Err(error) => {
            let checkpoint = failed_checkpoint(services, batch, error);
            warn!(source = %batch.source, %error, failures = checkpoint.consecutive_failures, transient = error.is_transient(), "fetch failed");
            services.store.save_checkpoint(&checkpoint)?;
            Ok(Vec::new())
        }
    }
}

async fn store_stage(
    services: Arc<Services>,
    mut rx: mpsc::Receiver<CrawlBatch>,
    tx: mpsc::Sender<Vec<StoredPost>>,
) -> anyhow::Result<()> {
    while let Some(batch) = rx.recv().await {
        // A busy database (another process holding the write lock) is worth waiting
        // for; after that the batch is dropped and the next crawl fetches it again,
        // since its checkpoint was not saved.
        let mut attempt = 0;
        let stored = loop {
            match block_in_place(|| store_batch(&services, &batch)) {
                Ok(stored) => break stored,
                Err(error) if attempt < 5 => {
                    attempt += 1;
                    warn!(error = format!("{error:#}"), source = %batch.source, attempt, "storing failed; retrying");
                    tokio::time::sleep(Duration::from_secs(attempt)).await;
                }
                Err(error) => {
                    error!(error = format!("{error:#}"), source = %batch.source, "storing failed; the next crawl retries");
                    break Vec::new();
                }
            }
        };
        if !stored.is_empty() && tx.send(stored).await.is_err() {
            break;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- classify

/// Scores posts and writes the sentiment back to the store.
pub fn classify_posts(
    services: &Services,
    posts: Vec<StoredPost>,
) -> anyhow::Result<Vec<StoredPost>> {
    classify_and_record(&services.store, services.classifier.as_ref(), posts)
}

/// Classifies posts before they are stored, so the store writes each one with its
/// sentiment in the ingest transaction (no second update).
pub fn classify_unstored(services: &Services, posts: &mut [Post]) {
    let sentiments = services
        .classifier
        .classify_batch(&scoring_inputs(posts.iter()));
    for (post, sentiment) in posts.iter_mut().zip(sentiments) {
        if post.lang.is_none() {
            post.lang = Some(sentiment.lang.clone());
        }
        post.sentiment = Some(sentiment);
    }
}

/// What [`Scorer::classify_batch`] takes of each post: text, language, brands.
pub fn scoring_inputs<'a>(
    posts: impl Iterator<Item = &'a Post>,
) -> Vec<(&'a str, Option<&'a str>, &'a [String])> {
    posts
        .map(|p| (p.text.as_str(), p.lang.as_deref(), p.brands.as_slice()))
        .collect()
}

fn classify_and_record(
    store: &Store,
    classifier: &Scorer,
    mut posts: Vec<StoredPost>,
) -> anyhow::Result<Vec<StoredPost>> {
    let sentiments = classifier.classify_batch(&scoring_inputs(posts.iter().map(|p| &p.post)));
    let updates: Vec<(i64, vigil_core::Sentiment)> = posts
        .iter()
        .zip(&sentiments)
        .map(|(p, s)| (p.seq, s.clone()))
        .collect();
    store.set_sentiments(&updates)?;
    for (post, sentiment) in posts.iter_mut().zip(sentiments) {
        if post.post.lang.is_none() {
            post.post.lang = Some(sentiment.lang.clone());
        }
        post.post.sentiment = Some(sentiment);
    }
    Ok(posts)
}

/// Classifies everything the store holds without a sentiment (crash leftovers, posts
/// stored by another process).
pub fn classify_backlog(services: &Services) -> anyhow::Result<usize> {
    classify_store_backlog(&services.store, services.classifier.as_ref())
}

pub fn classify_store_backlog(store: &Store, classifier: &Scorer) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let backlog = store.unclassified(2000)?;
        if backlog.is_empty() {
            return Ok(total);
        }
        total += backlog.len();
        classify_and_record(store, classifier, backlog)?;
    }
}

async fn classify_stage(
    services: Arc<Services>,
    mut rx: mpsc::Receiver<Vec<StoredPost>>,
    tx: mpsc::Sender<Vec<StoredPost>>,
) -> anyhow::Result<()> {
    while let Some(posts) = rx.recv().await {
        // Inference (a transformer batch takes seconds) runs on the blocking pool, never
        // on the runtime's workers.
        let services = Arc::clone(&services);
        let classified =
            tokio::task::spawn_blocking(move || classify_posts(&services, posts)).await;
        match classified.unwrap_or_else(|error| Err(anyhow::anyhow!("classify task: {error}"))) {
            Ok(classified) => {
                if tx.send(classified).await.is_err() {
                    break;
                }
            }
            // The posts stay unclassified in the store; the index stage's poll
            // classifies the backlog.
            Err(error) => warn!(
                error = format!("{error:#}"),
                "classification failed; will retry from the store"
            ),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- index

/// The single index writer and the store sequence number it has committed up to.
pub struct IndexStage {
    writer: IndexWriter,
    /// Store seq of the last post added (committed or not).
    watermark: i64,
    /// Posts added since the last commit.
    uncommitted: usize,
}

impl IndexStage {
    pub fn open(index: &SearchIndex) -> anyhow::Result<IndexStage> {
        let writer = index.writer(64 * 1024 * 1024)?;
        let watermark = index.watermark()?;
        Ok(IndexStage {
            writer,
            watermark,
            uncommitted: 0,
        })
    }

    /// Commits what [`IndexStage::add_batch`] added, with the watermark in the commit
    /// payload; a no-op when nothing is pending. Returns whether it committed.
    pub fn commit(&mut self) -> anyhow::Result<bool> {
        if self.uncommitted == 0 {
            return Ok(false);
        }
        self.commit_all()?;
        Ok(true)
    }

    fn commit_all(&mut self) -> anyhow::Result<()> {
        self.writer.commit(self.watermark)?;
        self.uncommitted = 0;
        Ok(())
    }

    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Indexes classified posts arriving in store order. A batch that does not start
    /// right after the watermark (posts stored by another process, or deleted) first
    /// catches up from the store, so the committed watermark never skips a post.
    pub fn apply(&mut self, store: &Store, posts: &[StoredPost]) -> anyhow::Result<usize> {
        let added = self.add_batch(store, posts)?;
        self.commit()?;
        Ok(added)
    }

    /// [`IndexStage::apply`] without the commit: batches arriving together share one
    /// commit ([`IndexStage::commit`]). Until then a crash loses nothing, since the
    /// committed watermark still points before them and the store has them.
    pub fn add_batch(&mut self, store: &Store, posts: &[StoredPost]) -> anyhow::Result<usize> {
        let Some(first) = posts.first() else {
            return Ok(0);
        };
        let mut added = 0;
        if first.seq != self.watermark + 1 {
            added += self.catch_up(store)?;
            if self.watermark < first.seq {
                // The catch-up stopped at a post another process has stored but not yet
                // classified: indexing this batch now would move the watermark past it.
                // The periodic poll classifies that backlog and catches up.
                return Ok(added);
            }
        }
        for post in posts {
            if post.seq <= self.watermark {
                continue;
            }
            if post.post.sentiment.is_none() {
                break;
            }
            self.writer.add(post)?;
            self.watermark = post.seq;
            self.uncommitted += 1;
            added += 1;
        }
        Ok(added)
    }

    /// Indexes every classified post after the watermark, stopping at the first one the
    /// classifier has not reached yet.
    pub fn catch_up(&mut self, store: &Store) -> anyhow::Result<usize> {
        let mut added = 0;
        'pages: loop {
            let page = store.posts_after(self.watermark, 5000)?;
            if page.is_empty() {
                break;
            }
            for post in &page {
                if post.post.sentiment.is_none() {
                    break 'pages;
                }
                self.writer.add(post)?;
                self.watermark = post.seq;
                added += 1;
            }
            self.commit_all()?;
        }
        if added > 0 {
            self.commit_all()?;
        }
        Ok(added)
    }

    /// Deletes every erased post from the index. Deleting an absent id is a no-op, so
    /// this completes an erasure that was interrupted between the store and the index.
    pub fn purge_erased(&mut self, store: &Store) -> anyhow::Result<usize> {
        let ids = store.tombstoned_ids()?;
        for id in &ids {
            self.writer.delete(id)?;
        }
        if !ids.is_empty() {
            self.commit_all()?;
        }
        Ok(ids.len())
    }

    /// Deletes the posts of an erasure the store has made from the index, re-adds the
    /// copies it relinked, and commits. Returns how many posts were deleted.
    pub fn apply_erasure(
        &mut self,
        store: &Store,
        report: &ErasureReport,
    ) -> anyhow::Result<usize> {
        for id in &report.ids {
            self.writer.delete(id)?;
        }
        self.refresh(store, &report.relinked)?;
        self.commit_all()?;
        Ok(report.ids.len())
    }

    /// Rewrites the index segments that still hold deleted documents, so erased posts'
    /// bytes leave the disk now rather than at some later merge (erasures only).
    pub fn compact_deletes(&mut self) -> anyhow::Result<usize> {
        Ok(self.writer.compact_deletes()?)
    }

    /// Retention: purges posts published before `cutoff` from the store (tombstones and
    /// an audit entry stay) and deletes them from the index in the same step, so a
    /// purged post is never found again. A crash between the two is repaired at start-up
    /// by [`IndexStage::purge_erased`]. Returns how many posts were purged.
    pub fn apply_retention(
        &mut self,
        store: &Store,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<usize> {
        let report = store.purge_published_before(cutoff, "retention")?;
        if report.ids.is_empty() {
            return Ok(0);
        }
        // Copies of a purged original now point at a promoted copy.
        self.apply_erasure(store, &report)
    }

    /// Re-indexes posts whose stored record changed after indexing (copies re-linked
    /// to a new original when theirs was erased).
    pub fn refresh(&mut self, store: &Store, ids: &[String]) -> anyhow::Result<usize> {
        let mut refreshed = 0;
        for id in ids {
            if let Some(post) = store.get_post(id)? {
                self.writer.add(&post)?;
                refreshed += 1;
            }
        }
        if refreshed > 0 {
            self.commit_all()?;
        }
        Ok(refreshed)
    }

    /// Re-adds the posts whose sentiment changed after they were indexed (analysts'
    /// corrections, re-scoring), then clears them from the store's queue. Posts past the
    /// watermark are only cleared: the catch-up indexes them as they are now.
    pub fn apply_refresh(&mut self, store: &Store) -> anyhow::Result<usize> {
        const PAGE: usize = 5000;
        let mut refreshed = 0;
        loop {
            let queued = store.pending_refresh(PAGE)?;
            let mut added = 0;
            for item in &queued {
                let Some(id) = item.post_id.as_deref() else {
                    continue;
                };
                if item.seq > self.watermark {
                    continue;
                }
                if let Some(post) = store.get_post(id)? {
                    self.writer.add(&post)?;
                    added += 1;
                }
            }
            if added > 0 {
                // Committed before the queue is cleared: a crash in between re-adds them.
                self.commit_all()?;
            }
            store.clear_refresh(&queued)?;
            refreshed += added;
            if queued.len() < PAGE {
                return Ok(refreshed);
            }
        }
    }

    pub fn rebuild(
        &mut self,
        store: &Store,
        mut progress: impl FnMut(i64, i64),
    ) -> anyhow::Result<usize> {
        self.writer.delete_all()?;
        self.watermark = 0;
        self.writer.commit(0)?;
        let total = store.max_seq()?;
        let mut added = 0;
        loop {
            let page = store.posts_after(self.watermark, 5000)?;
            if page.is_empty() {
                break;
            }
            for post in &page {
                self.writer.add(post)?;
                self.watermark = post.seq;
                added += 1;
            }
            self.commit_all()?;
            progress(self.watermark, total);
        }
        Ok(added)
    }
}

/// The daemon commits the index after every batch, or after this many posts when
/// batches queue up, so a post is searchable soon after it is stored.
const MAX_POSTS_PER_COMMIT: usize = 20_000;

/// How often the daemon applies `storage.retention_days` (also once at start).
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

async fn index_stage_task(
    services: Arc<Services>,
    mut stage: IndexStage,
    mut rx: mpsc::Receiver<Vec<StoredPost>>,
    mut erased: mpsc::UnboundedReceiver<ErasureReport>,
    alerts_wakeup: Arc<Notify>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Also poll the store: `vigil import` may store posts while the daemon runs, and a
    // failed batch is picked up again from the store. A poll is one `max(seq)` lookup;
    // every 500 ms keeps imported posts searchable well within 2 s of being stored.
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    // Retention runs at start and then hourly, here where the index writer lives.
    let mut retention = tokio::time::interval(RETENTION_EVERY);
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let retention_days = i64::from(services.config.storage.retention_days);
    let mut upstream_open = true;
    loop {
        let result = tokio::select! {
            _ = retention.tick() => block_in_place(|| -> anyhow::Result<usize> {
                let cutoff = services.clock.now() - chrono::Duration::days(retention_days);
                let purged = stage.apply_retention(&services.store, cutoff)?;
                if purged > 0 {
                    services.index.reload()?;
                    info!(purged, cutoff = %cutoff.to_rfc3339(), "retention: purged posts from store and index");
                }
                // Nothing new to announce to the alert stage.
                Ok(0)
            }),
            batch = rx.recv(), if upstream_open => match batch {
                // Batches that queued up meanwhile share one commit.
                Some(posts) => block_in_place(|| -> anyhow::Result<usize> {
                    let mut added = stage.add_batch(&services.store, &posts)?;
                    while added < MAX_POSTS_PER_COMMIT {
                        let Ok(more) = rx.try_recv() else { break };
                        added += stage.add_batch(&services.store, &more)?;
                    }
                    stage.commit()?;
                    Ok(added)
                }),
                None => {
                    // The crawl stages have drained. Keep serving imports until shutdown.
                    upstream_open = false;
                    if shutdown.is_cancelled() { break } else { continue }
                }
            },
            _ = poll.tick() => block_in_place(|| -> anyhow::Result<usize> {
                let mut added = 0;
                if services.store.max_seq()? > stage.watermark() {
                    classify_backlog(&services)?;
                    added += stage.catch_up(&services.store)?;
                }
                added += stage.apply_refresh(&services.store)?;
                Ok(added)
            }),
            _ = services.refresh_wakeup.notified() => block_in_place(|| stage.apply_refresh(&services.store)),
            // Posts erased from the store (admin API, honour_deletions): out of the
            // index too.
            Some(report) = erased.recv() => block_in_place(|| -> anyhow::Result<usize> {
                let removed = stage.apply_erasure(&services.store, &report)?;
                stage.compact_deletes()?;
                services.index.reload()?;
                info!(removed, "erased posts removed from the index");
                Ok(0)
            }),
            _ = shutdown.cancelled(), if !upstream_open => break,
        };
        match result {
            Ok(added) if added > 0 => {
                if let Err(error) = services.index.reload() {
                    warn!(%error, "index reload failed");
                }
                debug!(added, watermark = stage.watermark(), "indexed");
                alerts_wakeup.notify_one();
            }
            Ok(_) => {}
            // The store is the log: whatever failed here is indexed by a later poll.
            Err(error) => warn!(
                error = format!("{error:#}"),
                "indexing failed; will retry from the store"
            ),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- alerts and outbox

/// Evaluates every rule and plans due notifications; returns how many were enqueued,
/// counting each incident opened (its first notification is written when it opens).
pub fn evaluate_alerts(services: &Services) -> anyhow::Result<usize> {
    let now = services.clock.now();
    // The monitoring watching itself: failing and silent sources.
    if let Err(error) = crate::health::check_sources(&services.config, &services.store, now) {
        error!(error = format!("{error:#}"), "source health check failed");
    }
    // A failed evaluation must not hold back the response clock of open incidents.
    let mut opened = 0;
    match services.engine.evaluate(&*services.store, now) {
        Ok(outcomes) => {
            // Counted so the alert stage wakes the outbox at once instead of leaving
            // the first mail to its 1 s poll (BENCHMARKS.md, crawl → SMTP latency).
            opened = outcomes.iter().filter(|o| o.opened).count();
            for outcome in outcomes.iter().filter(|o| o.fired) {
                // Openings are logged by the engine; an open incident firing again is routine.
                debug!(rule = %outcome.rule, brand = %outcome.brand, value = outcome.value, opened = outcome.opened, incident = ?outcome.incident_id, "rule fired");
            }
        }
        Err(error) => {
            error!(%error, "rule evaluation failed; planning notifications for open incidents anyway")
        }
    }
    Ok(opened + services.engine.plan_notifications(&*services.store, now)?)
}

async fn alert_stage(
    services: Arc<Services>,
    wakeup: Arc<Notify>,
    outbox_wakeup: Arc<Notify>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(services.config.alerts.evaluate_every);
    let checkpoint_every = services.config.storage.audit_checkpoint_every;
    let mut checkpoint = tokio::time::interval(
        checkpoint_every.clamp(Duration::from_secs(1), Duration::from_secs(60)),
    );
    checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                // Sign what was written since the last checkpoint, so a clean stop
                // leaves no uncovered tail.
                sign_audit_checkpoint(&services, Duration::ZERO);
                return Ok(());
            }
            _ = checkpoint.tick() => {
                sign_audit_checkpoint(&services, checkpoint_every);
                continue;
            }
            _ = wakeup.notified() => {}
            _ = tick.tick() => {}
        }
        match block_in_place(|| evaluate_alerts(&services)) {
            Ok(enqueued) => {
                if enqueued > 0 {
                    info!(enqueued, "notifications written to the outbox");
                    outbox_wakeup.notify_one();
                }
            }
            Err(error) => error!(error = format!("{error:#}"), "alert evaluation failed"),
        }
    }
}

/// Signs an audit checkpoint when the newest is older than `every` and the log grew
/// (`storage.audit_checkpoint_every`). A refusal (a broken chain, a log that no longer
/// extends a signed checkpoint, a corrupt key) is logged loudly and retried next time:
/// it means someone tampered with the database or the key.
fn sign_audit_checkpoint(services: &Services, every: Duration) {
    let now = services.clock.now();
    match block_in_place(|| services.store.audit_checkpoint_if_due(now, every)) {
        Ok(Some(checkpoint)) => info!(
            tree_size = checkpoint.tree_size,
            root = %checkpoint.root_hash,
            key_id = %checkpoint.key_id,
            "audit checkpoint signed"
        ),
        Ok(None) => {}
        Err(error) => error!(%error, "audit checkpoint refused; run `vigil audit verify`"),
    }
}

/// One delivery pass over the outbox.
pub async fn deliver_outbox(services: &Services) -> anyhow::Result<()> {
    let outbox = &services.config.alerts.outbox;
    if let Some(mailer) = &services.mailer {
        let report =
            vigil_alerts::deliver_due(&*services.store, mailer, outbox, services.clock.now())
                .await?;
        log_delivery("email", report);
    }
    if let Some(webhooks) = &services.webhooks {
        let report = vigil_alerts::deliver_webhooks_due(
            &*services.store,
            webhooks,
            outbox,
            services.clock.now(),
        )
        .await?;
        log_delivery("webhooks", report);
    }
    Ok(())
}

fn log_delivery(channels: &str, report: vigil_alerts::DeliveryReport) {
    if report.sent + report.failed + report.given_up > 0 {
        info!(
            channels,
            sent = report.sent,
            failed = report.failed,
            given_up = report.given_up,
            "outbox delivery"
        );
    }
}

async fn outbox_stage(
    services: Arc<Services>,
    wakeup: Arc<Notify>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = wakeup.notified() => {}
            _ = tick.tick() => {}
        }
        if let Err(error) = deliver_outbox(&services).await {
            error!(error = format!("{error:#}"), "outbox delivery failed");
        }
    }
}

// ---------------------------------------------------------------- one-shot use

/// The same stages, run in sequence on one batch: `vigil crawl --once` and `vigil import`.
/// `raw_captures` are the pages the posts came from (keep_raw sources), stored with them.
pub fn process_posts(
    services: &Services,
    index_stage: Option<&mut IndexStage>,
    posts: &[Post],
    raw_captures: &[RawCapture],
    checkpoint: Option<&SourceCheckpoint>,
    actor: &str,
) -> anyhow::Result<(usize, usize)> {
    let report = services
        .store
        .ingest_with_raw(posts, raw_captures, checkpoint, actor)?;
    let stored = report.stored.len();
    let classified = classify_posts(services, report.stored)?;
    if let Some(stage) = index_stage {
        stage.apply(&services.store, &classified)?;
    }
    Ok((stored, report.duplicates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let minute = Duration::from_secs(60);
        assert_eq!(next_delay(minute, 0), minute);
        assert_eq!(next_delay(minute, 1), minute * 2);
        assert_eq!(next_delay(minute, 3), minute * 8);
        assert_eq!(next_delay(minute, 30), minute * 8);
        let day = Duration::from_secs(86_400);
        assert_eq!(
            next_delay(day, 2),
            day,
            "long intervals are not stretched further"
        );
    }
}
