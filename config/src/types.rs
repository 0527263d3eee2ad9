//! The validated configuration. Every field here has been checked by the loader; stage
//! crates can rely on references (a rule's brand, recipients and script) resolving.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use vigil_core::{Query, Severity};

use crate::SecretRef;

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was loaded from (`None` for built-in defaults).
    pub path: Option<PathBuf>,
    /// SHA-256 of the file's bytes, recorded in the audit log at every load.
    pub content_hash: String,
    pub storage: StorageConfig,
    pub server: ServerConfig,
    pub brands: Vec<BrandConfig>,
    pub sources: Vec<SourceConfig>,
    pub crawler: CrawlerConfig,
    pub classifier: ClassifierConfig,
    pub alerts: AlertsConfig,
    pub scripts: Vec<ScriptConfig>,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Relative paths are resolved against the config file's folder.
    pub data_dir: PathBuf,
    pub retention_days: u32,
    pub pseudonymize_authors: bool,
    pub redact_pii: bool,
    /// How often the daemon signs an audit checkpoint (extension).
    pub audit_checkpoint_every: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub tokens: Vec<TokenConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Responder,
    Admin,
}

#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub name: String,
    pub role: Role,
    /// Where the token is (`token_env` or `token_file`).
    pub token: SecretRef,
}

#[derive(Debug, Clone)]
pub struct BrandConfig {
    pub name: String,
    /// The query as written.
    pub query_text: String,
    pub query: Query,
    /// The language the PR team answers this brand in (extension): notifications use
    /// the response script written in it, when there is one. `None`: the script without
    /// a `language`.
    pub language: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Rss,
    Html,
    Json,
    Reddit,
    Hackernews,
    Mastodon,
    Bluesky,
    Appstore,
}

impl SourceKind {
    pub const NAMES: &'static [&'static str] = &[
        "rss",
        "html",
        "json",
        "reddit",
        "hackernews",
        "mastodon",
        "bluesky",
        "appstore",
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub name: String,
    pub kind: SourceKind,
    pub url: String,
    pub interval: Duration,
    /// When non-empty every post of this source belongs to these brands (no matching).
    pub brands: Vec<String>,
    /// `html`: CSS selector per post.
    pub item: Option<String>,
    /// `json`: JSON pointer to the array of posts.
    pub items: Option<String>,
    /// `html`: field → `selector` or `selector@attr`; `json`: field → JSON pointer.
    pub fields: BTreeMap<String, String>,
    /// `html`: selector of the next-page link; `json`: JSON pointer to the next URL or
    /// cursor.
    pub next_page: Option<String>,
    /// Pages fetched per run at most (default 1 for `rss`/`html`, 5 for API kinds).
    pub max_pages: u32,
    /// `json` (extension): query parameter that carries a cursor token (default `after`).
    pub cursor_param: Option<String>,
    /// `bluesky` (extension): account handle or DID for an app-password session.
    pub identifier: Option<String>,
    /// `bluesky` (extension): the app password (`password_env` or `password_file`).
    pub password: Option<SecretRef>,
    /// `json`, `mastodon`, `reddit` (extension): a bearer token sent as
    /// `Authorization: Bearer …` (`token_env` or `token_file`).
    pub token: Option<SecretRef>,
    /// Extension: failing for longer than this raises a `source_down` incident
    /// (default `crawler.down_after`).
    pub down_after: Option<Duration>,
    /// Extension: keep each fetched page's raw bytes (zstd-compressed, with their
    /// SHA-256) beside the posts extracted from it (default false).
    pub keep_raw: bool,
    /// Extension: re-check stored posts at the source and erase those it no longer
    /// has (default true for `reddit`, whose API terms require it; false otherwise).
    pub honour_deletions: bool,
    /// How often `honour_deletions` re-checks (default 6h).
    pub recheck_every: Duration,
    /// Posts published within this window are re-checked (default 30d).
    pub recheck_window: Duration,
    /// Posts re-checked per pass at most, round-robin (default 200).
    pub recheck_max: usize,
}

impl SourceConfig {
    /// A source with every optional key at its default, as the config loader would
    /// build it from `name`, `kind` and `url` alone.
    pub fn new(name: impl Into<String>, kind: SourceKind, url: impl Into<String>) -> Self {
        SourceConfig {
            name: name.into(),
            kind,
            url: url.into(),
            interval: Duration::from_secs(300),
            brands: Vec::new(),
            item: None,
            items: None,
            fields: BTreeMap::new(),
            next_page: None,
            max_pages: match kind {
                SourceKind::Rss | SourceKind::Html => 1,
                _ => 5,
            },
            cursor_param: None,
            identifier: None,
            password: None,
            token: None,
            down_after: None,
            keep_raw: false,
            honour_deletions: kind == SourceKind::Reddit,
            recheck_every: Duration::from_secs(6 * 3600),
            recheck_window: Duration::from_secs(30 * 86_400),
            recheck_max: 200,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CrawlerConfig {
    pub user_agent: String,
    pub max_concurrency: usize,
    pub per_host_interval: Duration,
    pub respect_robots: bool,
    pub allow_private_addresses: bool,
    /// Private addresses that may be reached anyway (an intranet feed) (extension).
    pub allow_addresses: Vec<std::net::IpAddr>,
    pub max_body_bytes: u64,
    /// Whole-request timeout (extension).
    pub timeout: Duration,
    /// Connect timeout (extension).
    pub connect_timeout: Duration,
    /// Redirects followed before giving up (extension).
    pub max_redirects: usize,
    /// Retries of a timed-out or 5xx request within one crawl (extension).
    pub retries: u32,
    /// First retry delay; doubled per retry up to `retry_max`, with full jitter
    /// (extension).
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// A source failing for longer than this raises a `source_down` incident
    /// (extension).
    pub down_after: Duration,
    /// A brand that used to get mentions from a source and got none for this long, while
    /// the source itself kept succeeding, raises a `source_down` incident (extension).
    pub silent_after: Duration,
}

impl Default for CrawlerConfig {
    /// The defaults documented in `vigil.example.toml`.
    fn default() -> Self {
        CrawlerConfig {
            user_agent: format!(
                "VigilBot/{} (+https://github.com/vigil)",
                env!("CARGO_PKG_VERSION")
            ),
            max_concurrency: 16,
            per_host_interval: Duration::from_secs(1),
            respect_robots: true,
            allow_private_addresses: false,
            allow_addresses: Vec::new(),
            max_body_bytes: 5_000_000,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_redirects: 5,
            retries: 2,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            down_after: Duration::from_secs(3600),
            silent_after: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassifierBackend {
    Lexicon,
    Learned,
    Transformer,
}

impl ClassifierBackend {
    pub const NAMES: [&'static str; 3] = ["lexicon", "learned", "transformer"];

    pub fn as_str(self) -> &'static str {
        match self {
            ClassifierBackend::Lexicon => "lexicon",
            ClassifierBackend::Learned => "learned",
            ClassifierBackend::Transformer => "transformer",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClassifierConfig {
    pub backend: ClassifierBackend,
    pub engine: Option<String>,
    pub model_dir: Option<PathBuf>,
    /// `transformer` only: a head file (`.vth`, as written by vigil-transformer's
    /// `train_head` example); `None` uses the bundled head.
    pub head: Option<PathBuf>,
    /// Per-brand models (extension, `[classifier.brand_models]`): a post of one of
    /// these brands is scored by the brand's model (`learned`: a `.vlm` model file;
    /// `transformer`: a `.vth` head on the shared encoder) instead of the default one.
    /// In `[[brands]]` order, which decides for a post of several such brands.
    pub brand_models: Vec<(String, PathBuf)>,
    /// Per-language backends (extension, `[classifier.languages]`, e.g. `zh =
    /// "learned"` beside an English transformer): a post in one of these languages (its
    /// hint, else detection: `en`, `zh` or `und`) is scored by that backend, before any
    /// brand model.
    pub languages: Vec<(String, ClassifierBackend)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// `password_env` or `password_file`.
    pub password: Option<SecretRef>,
    pub from: String,
    /// Bounds each whole delivery, connect to QUIT (extension).
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct CrisisConfig {
    pub response_window: Duration,
    pub remind_every: Duration,
    pub escalate_after: Duration,
    /// An acknowledgement older than this without a resolution expires: the incident
    /// is open again and reminded at once (extension; `None`: never expires).
    pub ack_timeout: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub kind: String,
    /// The webhook URL (`url_env` or `url_file`): it usually embeds a credential.
    pub url: SecretRef,
    /// The signing secret of signed kinds (`secret_env` or `secret_file`).
    pub secret: Option<SecretRef>,
}

#[derive(Debug, Clone)]
pub struct RecipientConfig {
    pub name: String,
    pub emails: Vec<String>,
    pub escalation: Vec<String>,
    pub webhooks: Vec<WebhookConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    NegativeShare,
    VolumeSpike,
    SentimentDrop,
    Keyword,
    /// A negative post whose reach (votes + likes + reposts + replies) is at least the
    /// rule's `threshold` (extension).
    Influencer,
}

impl RuleKind {
    pub const NAMES: &'static [&'static str] = &[
        "negative_share",
        "volume_spike",
        "sentiment_drop",
        "keyword",
        "influencer",
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Debug, Clone)]
pub struct RuleConfig {
    pub name: String,
    pub brand: String,
    pub kind: RuleKind,
    pub window: Duration,
    pub baseline: Duration,
    pub sigma: f64,
    pub threshold: f64,
    pub min_mentions: u64,
    pub severity: Severity,
    pub notify: Vec<String>,
    pub script: Option<String>,
    /// `keyword`: the crisis terms; other kinds: an optional filter on the brand's posts.
    pub query: Option<Query>,
    pub query_text: Option<String>,
    /// `for`: the rule must fire on every evaluation for this long before an incident
    /// opens (zero: at once).
    pub hold_for: Duration,
    /// After an incident of this rule and brand is resolved, no new one opens for this
    /// long (zero: none).
    pub cooldown: Duration,
    /// An unresolved incident whose rule has been quiet this long is resolved by
    /// vigil (`None`: only people resolve).
    pub auto_resolve_after: Option<Duration>,
    /// `volume_spike` / `sentiment_drop`: which baseline windows the window is compared
    /// with (extension).
    pub seasonality: Seasonality,
    /// `volume_spike`: the window must also be at least `confirm_ratio` times the same
    /// window this long ago (e.g. 1 day = same hour yesterday, 7 days = last week)
    /// (extension).
    pub confirm: Vec<Duration>,
    pub confirm_ratio: f64,
}

/// Which of the baseline's windows a `volume_spike` or `sentiment_drop` compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seasonality {
    /// `daily` when the baseline holds at least three days and the window divides a day;
    /// otherwise `none`.
    Auto,
    /// Every window of the baseline.
    None,
    /// The windows at the same time of day (9–10 a.m. against 9–10 a.m. each day).
    Daily,
    /// The windows at the same time of week (Monday 9 a.m. against earlier Mondays).
    Weekly,
}

impl Seasonality {
    pub const NAMES: &'static [&'static str] = &["auto", "none", "daily", "weekly"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// First retry delay after a failed delivery; doubles up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub smtp: Option<SmtpConfig>,
    pub crisis: CrisisConfig,
    pub recipients: Vec<RecipientConfig>,
    pub rules: Vec<RuleConfig>,
    /// How often rules are evaluated and the response clock ticks (extension).
    pub evaluate_every: Duration,
    /// Base URL of the dashboard, for "how to acknowledge" links (extension).
    pub dashboard_url: Option<String>,
    pub outbox: OutboxConfig,
    /// Recipient groups told about `source_down` incidents (extension; default: every
    /// group).
    pub source_down_notify: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ScriptConfig {
    pub name: String,
    /// minijinja template for the subject line.
    pub subject: String,
    /// Where the body template came from (for messages).
    pub file: Option<PathBuf>,
    /// The body template, read from `file` or given inline as `body` (extension).
    pub body: String,
    /// The language this version of the script is written in (extension). Several
    /// scripts may share a name when their languages differ; a brand's notifications
    /// use the version in the brand's `language`, else the one without a language,
    /// else the first.
    pub language: Option<String>,
}

impl Config {
    /// Every secret the config refers to, with the key that names it
    /// (`server.tokens[analyst].token`, `alerts.smtp.password`, …).
    pub fn secrets(&self) -> Vec<(String, &SecretRef)> {
        let mut secrets = Vec::new();
        for token in &self.server.tokens {
            secrets.push((format!("server.tokens[{}].token", token.name), &token.token));
        }
        for source in &self.sources {
            for (key, secret) in [("password", &source.password), ("token", &source.token)] {
                if let Some(secret) = secret {
                    secrets.push((format!("sources[{}].{key}", source.name), secret));
                }
            }
        }
        if let Some(secret) = self.alerts.smtp.as_ref().and_then(|s| s.password.as_ref()) {
            secrets.push(("alerts.smtp.password".to_string(), secret));
        }
        for recipient in &self.alerts.recipients {
            for (n, webhook) in recipient.webhooks.iter().enumerate() {
                let key = format!("alerts.recipients[{}].webhooks[{n}]", recipient.name);
                secrets.push((format!("{key}.url"), &webhook.url));
                if let Some(secret) = &webhook.secret {
                    secrets.push((format!("{key}.secret"), secret));
                }
            }
        }
        secrets
    }

    pub fn brand(&self, name: &str) -> Option<&BrandConfig> {
        self.brands.iter().find(|b| b.name == name)
    }

    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }

    pub fn script(&self, name: &str) -> Option<&ScriptConfig> {
        self.scripts.iter().find(|s| s.name == name)
    }

    /// The version of script `name` for `language`: the one written in it, else the
    /// one without a language, else the first of that name.
    pub fn script_for(&self, name: &str, language: Option<&str>) -> Option<&ScriptConfig> {
        script_for(&self.scripts, name, language)
    }

    pub fn recipient(&self, name: &str) -> Option<&RecipientConfig> {
        self.alerts.recipients.iter().find(|r| r.name == name)
    }

    /// Words the Chinese segmenter must keep whole: brand names and the CJK terms of
    /// brand queries and rule queries. Sorted, without repeats.
    pub fn dictionary_words(&self) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        let queries = self
            .brands
            .iter()
            .map(|b| &b.query)
            .chain(self.alerts.rules.iter().filter_map(|r| r.query.as_ref()));
        for query in queries {
            words.extend(
                query
                    .positive_terms()
                    .into_iter()
                    .filter(|t| t.chars().any(vigil_core::text::is_cjk)),
            );
        }
        words.extend(self.brands.iter().map(|b| b.name.to_lowercase()));
        words.sort();
        words.dedup();
        words
    }
}

/// [`Config::script_for`] over any list of scripts.
pub fn script_for<'a>(
    scripts: &'a [ScriptConfig],
    name: &str,
    language: Option<&str>,
) -> Option<&'a ScriptConfig> {
    let named = || scripts.iter().filter(move |s| s.name == name);
    language
        .and_then(|lang| {
            named().find(|s| {
                s.language
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(lang))
            })
        })
        .or_else(|| named().find(|s| s.language.is_none()))
        .or_else(|| named().next())
}
