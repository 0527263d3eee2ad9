//! TOML text → [`Config`], collecting every problem with its position.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vigil_core::{Query, Severity};

use crate::reader::{Diagnostics, Span, TableReader};
use crate::types::*;
use crate::{ConfigError, ConfigErrors, SecretRef};

/// Reads and validates `path`. All problems come back together, in file order.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigErrors {
        errors: vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the config file: {error}"),
        }],
    })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut config = parse_str(&text, path, &base_dir)?;
    config.path = Some(path.to_path_buf());
    Ok(config)
}

/// Reads the value of a secret's environment variable (`*_env` keys).
pub fn secret_from_env(variable: &str) -> Result<String, String> {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Ok(value),
        Ok(_) => Err(format!("environment variable {variable} is empty")),
        Err(_) => Err(format!("environment variable {variable} is not set")),
    }
}

/// Parses TOML `text` as if read from `file`; relative paths resolve against `base_dir`.
pub fn parse_str(text: &str, file: &Path, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let mut diag = Diagnostics::new(file, text);
    let document = match toml_edit::Document::parse(text) {
        Ok(document) => document,
        Err(error) => {
            let message = error.message().trim().to_string();
            diag.error(&error.span(), "", format!("invalid TOML: {message}"));
            return Err(ConfigErrors {
                errors: diag.into_sorted(),
            });
        }
    };
    let root_table = document.as_table();
    let mut root = TableReader::new(root_table, root_table.span(), "");
    let config = read_config(&mut root, &mut diag, base_dir, text);
    root.finish(&mut diag);
    let errors = diag.into_sorted();
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors { errors })
    }
}

fn read_config(
    root: &mut TableReader,
    diag: &mut Diagnostics,
    base_dir: &Path,
    text: &str,
) -> Config {
    let storage = read_storage(root, diag, base_dir);
    let server = read_server(root, diag, base_dir);
    let brands = read_brands(root, diag);
    let sources = read_sources(root, diag, base_dir);
    let crawler = read_crawler(root, diag);
    let (mut classifier, brand_model_refs) = read_classifier(root, diag, base_dir);
    let (alerts, rule_refs) = read_alerts(root, diag, base_dir);
    let scripts = read_scripts(root, diag, base_dir);
    check_brand_models(&mut classifier, brand_model_refs, &brands, diag);
    let config = Config {
        path: None,
        content_hash: vigil_core::sha256_hex(text),
        storage,
        server,
        brands: brands.iter().map(|(b, _)| b.clone()).collect(),
        sources: sources.iter().map(|(s, _)| s.clone()).collect(),
        crawler,
        classifier,
        alerts,
        scripts: scripts.iter().map(|(s, _)| s.clone()).collect(),
    };
    check_references(&config, diag, &brands, &sources, &scripts, &rule_refs);
    config
}

fn resolve(base_dir: &Path, path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_absolute() {
        path
    } else {
        base_dir.join(path)
    }
}

/// Reports a literal secret written into the file, pointing at the `*_env` and
/// `*_file` forms.
fn reject_literal_secret(table: &mut TableReader, diag: &mut Diagnostics, key: &str) {
    if let Some((_, span)) = table.item(key) {
        diag.error(
            &span,
            &table.key_path(key),
            format!("secrets are never written in the config file: put it in an environment variable and name it with {key}_env, or in a file and name it with {key}_file"),
        );
    }
}

/// The secret `key` of a table: `{key}_env` (an environment variable) or `{key}_file`
/// (a path, relative to the config file's folder). A literal `{key}` is an error, and
/// so are both forms at once. `required` names what the secret is, for the message when
/// neither form is given.
fn secret_ref(
    table: &mut TableReader,
    diag: &mut Diagnostics,
    base_dir: &Path,
    key: &str,
    required: Option<&str>,
) -> Option<SecretRef> {
    reject_literal_secret(table, diag, key);
    let env_key = format!("{key}_env");
    let file_key = format!("{key}_file");
    let variable = env_name(table, diag, &env_key);
    let file = table.string(diag, &file_key);
    match (variable, file) {
        (Some(_), Some((_, span))) => {
            diag.error(
                &span,
                &table.key_path(&file_key),
                format!("give either {env_key} or {file_key}, not both"),
            );
            None
        }
        (Some(variable), None) => Some(SecretRef::Env(variable)),
        (None, Some((path, span))) => {
            if path.trim().is_empty() {
                diag.error(&span, &table.key_path(&file_key), "the path is empty");
                return None;
            }
            Some(SecretRef::File(resolve(base_dir, &path)))
        }
        (None, None) => {
            if let Some(what) = required
                && !table.contains(&env_key)
            {
                diag.error(
                    &table.span,
                    &table.key_path(&env_key),
                    format!("missing required key: {env_key} (the environment variable holding {what}) or {file_key} (a file holding it)"),
                );
            }
            None
        }
    }
}

fn env_name(table: &mut TableReader, diag: &mut Diagnostics, key: &str) -> Option<String> {
    let (name, span) = table.string(diag, key)?;
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        diag.error(
            &span,
            &table.key_path(key),
            format!("{name:?} is not an environment variable name (letters, digits, _)"),
        );
    }
    Some(name)
}

fn read_storage(root: &mut TableReader, diag: &mut Diagnostics, base_dir: &Path) -> StorageConfig {
    let defaults = StorageConfig {
        data_dir: resolve(base_dir, "./vigil-data"),
        retention_days: 365,
        pseudonymize_authors: false,
        redact_pii: true,
        audit_checkpoint_every: Duration::from_secs(3600),
    };
    let Some(mut t) = root.table(diag, "storage") else {
        return defaults;
    };
    let config = StorageConfig {
        data_dir: resolve(base_dir, &t.string_or(diag, "data_dir", "./vigil-data")),
        retention_days: t.int_in(diag, "retention_days", 365, 1, 36_500) as u32,
        pseudonymize_authors: t.bool_or(diag, "pseudonymize_authors", false),
        redact_pii: t.bool_or(diag, "redact_pii", true),
        audit_checkpoint_every: t.duration_or(diag, "audit_checkpoint_every", "1h"),
    };
    t.finish(diag);
    config
}

fn read_server(root: &mut TableReader, diag: &mut Diagnostics, base_dir: &Path) -> ServerConfig {
    let default_listen: SocketAddr = "127.0.0.1:8080".parse().expect("valid default");
    let Some(mut t) = root.table(diag, "server") else {
        return ServerConfig {
            listen: default_listen,
            tokens: Vec::new(),
        };
    };
    let listen = match t.string(diag, "listen") {
        Some((text, span)) => text.parse().unwrap_or_else(|_| {
            diag.error(
                &span,
                "server.listen",
                format!("{text:?} is not an address: expected IP:PORT, e.g. \"127.0.0.1:8080\""),
            );
            default_listen
        }),
        None => default_listen,
    };
    let mut tokens = Vec::new();
    for mut token in t.tables(diag, "tokens") {
        let name = token
            .required_string(diag, "name")
            .map(|(n, _)| n)
            .unwrap_or_default();
        let role = match token.choice(diag, "role", &["viewer", "responder", "admin"], 0) {
            0 => Role::Viewer,
            1 => Role::Responder,
            _ => Role::Admin,
        };
        let secret = secret_ref(&mut token, diag, base_dir, "token", Some("the token"))
            .unwrap_or_else(|| SecretRef::env(""));
        token.finish(diag);
        tokens.push(TokenConfig {
            name,
            role,
            token: secret,
        });
    }
    t.finish(diag);
    ServerConfig { listen, tokens }
}

fn parse_query(diag: &mut Diagnostics, key: &str, text: &str, span: &Span) -> Query {
    Query::parse(text).unwrap_or_else(|error| {
        diag.error(span, key, format!("invalid query {text:?}: {error}"));
        Query::All
    })
}

fn read_brands(root: &mut TableReader, diag: &mut Diagnostics) -> Vec<(BrandConfig, Span)> {
    let mut brands = Vec::new();
    for mut t in root.tables(diag, "brands") {
        let (name, span) = t.required_string(diag, "name").unwrap_or_default();
        let (query_text, query_span) = t.required_string(diag, "query").unwrap_or_default();
        let key = t.key_path("query");
        let query = if query_text.is_empty() {
            Query::All
        } else {
            parse_query(diag, &key, &query_text, &query_span)
        };
        let language = read_language(&mut t, diag);
        t.finish(diag);
        brands.push((
            BrandConfig {
                name,
                query_text,
                query,
                language,
            },
            span,
        ));
    }
    brands
}

fn read_sources(
    root: &mut TableReader,
    diag: &mut Diagnostics,
    base_dir: &Path,
) -> Vec<(SourceConfig, Vec<(String, Span)>)> {
    let mut sources = Vec::new();
    for mut t in root.tables(diag, "sources") {
        let name = t
            .required_string(diag, "name")
            .map(|(n, _)| n)
            .unwrap_or_default();
        let kind_index = if t.contains("kind") {
            t.choice(diag, "kind", SourceKind::NAMES, 0)
        } else {
            t.required_string(diag, "kind");
            0
        };
        let kind = [
            SourceKind::Rss,
            SourceKind::Html,
            SourceKind::Json,
            SourceKind::Reddit,
            SourceKind::Hackernews,
            SourceKind::Mastodon,
            SourceKind::Bluesky,
            SourceKind::Appstore,
        ][kind_index];
        let url = match t.required_string(diag, "url") {
            Some((url, span)) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    diag.error(
                        &span,
                        &t.key_path("url"),
                        format!("{url:?} is not an http(s) URL"),
                    );
                }
                url
            }
            None => String::new(),
        };
        let interval = t.duration_or(diag, "interval", "5m");
        let brands = t.string_list(diag, "brands");
        let item = t.string(diag, "item").map(|(s, _)| s);
        let items = t.string(diag, "items").map(|(s, _)| s);
        let fields: BTreeMap<String, String> = t.string_map(diag, "fields").into_iter().collect();
        let next_page = t.string(diag, "next_page").map(|(s, _)| s);
        let default_pages = match kind {
            SourceKind::Rss | SourceKind::Html => 1,
            _ => 5,
        };
        let max_pages = t.int_in(diag, "max_pages", default_pages, 1, 1000) as u32;
        let cursor_param = t.string(diag, "cursor_param").map(|(s, _)| s);
        let identifier = t.string(diag, "identifier").map(|(s, _)| s);
        let password = secret_ref(&mut t, diag, base_dir, "password", None);
        let token = secret_ref(&mut t, diag, base_dir, "token", None);
        let down_after = t
            .contains("down_after")
            .then(|| t.duration_or(diag, "down_after", "1h"));
        let keep_raw = t.bool_or(diag, "keep_raw", false);
        let honour_deletions = t.bool_or(diag, "honour_deletions", kind == SourceKind::Reddit);
        let recheck_every = t.duration_or(diag, "recheck_every", "6h");
        let recheck_window = t.duration_or(diag, "recheck_window", "30d");
        let recheck_max = t.int_in(diag, "recheck_max", 200, 1, 100_000) as usize;
        if password.is_some() != identifier.is_some() {
            diag.error(
                &t.span,
                &t.key_path(if identifier.is_some() {
                    "password_env"
                } else {
                    "identifier"
                }),
                "an app-password session needs both `identifier` and `password_env` (or `password_file`)",
            );
        }
        if kind == SourceKind::Html && item.is_none() {
            diag.error(
                &t.span,
                &t.key_path("item"),
                "html sources need `item`, the CSS selector of one post",
            );
        }
        if kind == SourceKind::Json && items.is_none() {
            diag.error(
                &t.span,
                &t.key_path("items"),
                "json sources need `items`, the JSON pointer to the list of posts",
            );
        }
        t.finish(diag);
        let config = SourceConfig {
            name,
            kind,
            url,
            interval,
            brands: brands.iter().map(|(b, _)| b.clone()).collect(),
            item,
            items,
            fields,
            next_page,
            max_pages,
            cursor_param,
            identifier,
            password,
            token,
            down_after,
            keep_raw,
            honour_deletions,
            recheck_every,
            recheck_window,
            recheck_max,
        };
        sources.push((config, brands));
    }
    sources
}

fn read_crawler(root: &mut TableReader, diag: &mut Diagnostics) -> CrawlerConfig {
    let mut defaults = CrawlerConfig::default();
    let Some(mut t) = root.table(diag, "crawler") else {
        return defaults;
    };
    defaults.user_agent = t.string_or(diag, "user_agent", &defaults.user_agent);
    defaults.max_concurrency = t.int_in(diag, "max_concurrency", 16, 1, 1024) as usize;
    defaults.per_host_interval = t.duration_or(diag, "per_host_interval", "1s");
    defaults.respect_robots = t.bool_or(diag, "respect_robots", true);
    defaults.allow_private_addresses = t.bool_or(diag, "allow_private_addresses", false);
    for (text, span) in t.string_list(diag, "allow_addresses") {
        match text.parse::<std::net::IpAddr>() {
            Ok(ip) => defaults.allow_addresses.push(ip),
            Err(_) => diag.error(
                &span,
                &t.key_path("allow_addresses"),
                format!("{text:?} is not an IP address"),
            ),
        }
    }
    defaults.max_body_bytes = t.int_in(diag, "max_body_bytes", 5_000_000, 1024, 1 << 34) as u64;
    defaults.timeout = t.duration_or(diag, "timeout", "30s");
    defaults.connect_timeout = t.duration_or(diag, "connect_timeout", "10s");
    defaults.max_redirects = t.int_in(diag, "max_redirects", 5, 0, 50) as usize;
    defaults.retries = t.int_in(diag, "retries", 2, 0, 10) as u32;
    defaults.retry_initial = t.duration_or(diag, "retry_initial", "1s");
    defaults.retry_max = t.duration_or(diag, "retry_max", "30s");
    defaults.down_after = t.duration_or(diag, "down_after", "1h");
    defaults.silent_after = t.duration_or(diag, "silent_after", "24h");
    t.finish(diag);
    defaults
}

/// `[classifier.brand_models]` as written: brand, resolved path, span of the value.
type BrandModelRefs = Vec<(String, PathBuf, Span)>;

fn read_classifier(
    root: &mut TableReader,
    diag: &mut Diagnostics,
    base_dir: &Path,
) -> (ClassifierConfig, BrandModelRefs) {
    // `learned` beats `lexicon` on every held-out test part (learned/RESULTS.md), so it
    // is the default, as issue 5 asks.
    let defaults = ClassifierConfig {
        backend: ClassifierBackend::Learned,
        engine: None,
        model_dir: None,
        head: None,
        brand_models: Vec::new(),
        languages: Vec::new(),
    };
    let Some(mut t) = root.table(diag, "classifier") else {
        return (defaults, Vec::new());
    };
    let backend = match t.choice(diag, "backend", &["lexicon", "learned", "transformer"], 1) {
        0 => ClassifierBackend::Lexicon,
        1 => ClassifierBackend::Learned,
        _ => ClassifierBackend::Transformer,
    };
    let engine = if t.contains("engine") {
        Some(
            ["candle", "rust-bert"][t.choice(diag, "engine", &["candle", "rust-bert"], 0)]
                .to_string(),
        )
    } else {
        None
    };
    let model_dir = t
        .string(diag, "model_dir")
        .map(|(p, _)| resolve(base_dir, &p));
    let head = t.string(diag, "head").map(|(p, _)| resolve(base_dir, &p));
    let brand_models = t
        .string_map_spanned(diag, "brand_models")
        .into_iter()
        .map(|(brand, path, span)| (brand, resolve(base_dir, &path), span))
        .collect();
    let mut languages = Vec::new();
    for (lang, name, span) in t.string_map_spanned(diag, "languages") {
        if !["en", "zh", "und"].contains(&lang.as_str()) {
            diag.error(
                &span,
                &format!("classifier.languages.{lang}"),
                format!(
                    "unknown language {lang:?}: expected en, zh or und (the languages Vigil \
                     detects; a post's hint counts by its first part, zh-CN is zh)"
                ),
            );
            continue;
        }
        match ClassifierBackend::NAMES.iter().position(|n| *n == name) {
            Some(at) => languages.push((
                lang,
                [
                    ClassifierBackend::Lexicon,
                    ClassifierBackend::Learned,
                    ClassifierBackend::Transformer,
                ][at],
            )),
            None => diag.error(
                &span,
                &format!("classifier.languages.{lang}"),
                format!("unknown backend {name:?}: expected lexicon, learned or transformer"),
            ),
        }
    }
    t.finish(diag);
    (
        ClassifierConfig {
            backend,
            engine,
            model_dir,
            head,
            brand_models: Vec::new(),
            languages,
        },
        brand_models,
    )
}

/// Checks `[classifier.brand_models]` against `[[brands]]` and the backend, and keeps
/// the models in `[[brands]]` order.
fn check_brand_models(
    classifier: &mut ClassifierConfig,
    refs: BrandModelRefs,
    brands: &[(BrandConfig, Span)],
    diag: &mut Diagnostics,
) {
    if refs.is_empty() {
        return;
    }
    if classifier.backend == ClassifierBackend::Lexicon {
        diag.error(
            &refs[0].2,
            "classifier.brand_models",
            "brand models need backend \"learned\" (model files) or \"transformer\" \
             (head files); the lexicon has no model to replace",
        );
        return;
    }
    let mut models = Vec::new();
    for (brand, path, span) in refs {
        match brands.iter().position(|(b, _)| b.name == brand) {
            Some(at) => models.push((at, brand, path)),
            None => diag.error(
                &span,
                &format!("classifier.brand_models.{brand}"),
                format!(
                    "unknown brand {brand:?}: {}",
                    known(brands.iter().map(|(b, _)| &b.name))
                ),
            ),
        }
    }
    models.sort_by_key(|(at, _, _)| *at);
    classifier.brand_models = models
        .into_iter()
        .map(|(_, brand, path)| (brand, path))
        .collect();
}

/// Names a rule refers to, with their spans, checked once everything is read.
pub(crate) struct RuleRefs {
    brand: (String, Span),
    notify: Vec<(String, Span)>,
    script: Option<(String, Span)>,
    path: String,
}

fn read_alerts(
    root: &mut TableReader,
    diag: &mut Diagnostics,
    base_dir: &Path,
) -> (AlertsConfig, Vec<RuleRefs>) {
    let mut alerts = AlertsConfig {
        smtp: None,
        crisis: CrisisConfig {
            response_window: std::time::Duration::from_secs(24 * 3600),
            remind_every: std::time::Duration::from_secs(2 * 3600),
            escalate_after: std::time::Duration::from_secs(4 * 3600),
            ack_timeout: None,
        },
        recipients: Vec::new(),
        rules: Vec::new(),
        evaluate_every: std::time::Duration::from_secs(30),
        dashboard_url: None,
        outbox: OutboxConfig {
            retry_initial: std::time::Duration::from_secs(5),
            retry_max: std::time::Duration::from_secs(300),
        },
        source_down_notify: Vec::new(),
    };
    let mut refs = Vec::new();
    let Some(mut t) = root.table(diag, "alerts") else {
        return (alerts, refs);
    };
    alerts.evaluate_every = t.duration_or(diag, "evaluate_every", "30s");
    alerts.dashboard_url = t
        .string(diag, "dashboard_url")
        .map(|(s, _)| s.trim_end_matches('/').to_string());
    if let Some(mut smtp) = t.table(diag, "smtp") {
        alerts.smtp = Some(read_smtp(&mut smtp, diag, base_dir));
        smtp.finish(diag);
    }
    if let Some(mut crisis) = t.table(diag, "crisis") {
        alerts.crisis.response_window = crisis.duration_or(diag, "response_window", "24h");
        alerts.crisis.remind_every = crisis.duration_or(diag, "remind_every", "2h");
        alerts.crisis.escalate_after = crisis.duration_or(diag, "escalate_after", "4h");
        if crisis.contains("ack_timeout") {
            alerts.crisis.ack_timeout = Some(crisis.duration_or(diag, "ack_timeout", "8h"));
        }
        crisis.finish(diag);
    }
    if let Some(mut outbox) = t.table(diag, "outbox") {
        alerts.outbox.retry_initial = outbox.duration_or(diag, "retry_initial", "5s");
        alerts.outbox.retry_max = outbox.duration_or(diag, "retry_max", "5m");
        outbox.finish(diag);
    }
    let source_down_notify = t.string_list(diag, "source_down_notify");
    for mut r in t.tables(diag, "recipients") {
        alerts
            .recipients
            .push(read_recipient(&mut r, diag, base_dir));
        r.finish(diag);
    }
    for (name, span) in &source_down_notify {
        if !alerts.recipients.iter().any(|r| &r.name == name) {
            diag.error(
                span,
                &t.key_path("source_down_notify"),
                format!(
                    "unknown recipient {name:?}: {}",
                    known(alerts.recipients.iter().map(|r| &r.name))
                ),
            );
        }
    }
    alerts.source_down_notify = if source_down_notify.is_empty() {
        alerts.recipients.iter().map(|r| r.name.clone()).collect()
    } else {
        source_down_notify.into_iter().map(|(n, _)| n).collect()
    };
    for mut r in t.tables(diag, "rules") {
        let (rule, rule_refs) = read_rule(&mut r, diag);
        alerts.rules.push(rule);
        refs.push(rule_refs);
        r.finish(diag);
    }
    t.finish(diag);
    (alerts, refs)
}

fn read_smtp(t: &mut TableReader, diag: &mut Diagnostics, base_dir: &Path) -> SmtpConfig {
    let host = t
        .required_string(diag, "host")
        .map(|(h, _)| h)
        .unwrap_or_default();
    let tls = match t.choice(diag, "tls", &["none", "starttls", "tls"], 1) {
        0 => SmtpTls::None,
        1 => SmtpTls::Starttls,
        _ => SmtpTls::Tls,
    };
    let default_port = match tls {
        SmtpTls::None => 25,
        SmtpTls::Starttls => 587,
        SmtpTls::Tls => 465,
    };
    let port = t.int_in(diag, "port", default_port, 1, 65_535) as u16;
    let username = t.string(diag, "username").map(|(u, _)| u);
    let password = secret_ref(t, diag, base_dir, "password", None);
    let from = match t.required_string(diag, "from") {
        Some((from, span)) => {
            if !from.contains('@') {
                diag.error(
                    &span,
                    &t.key_path("from"),
                    format!(
                        "{from:?} is not an email address (e.g. \"Vigil <alerts@example.com>\")"
                    ),
                );
            }
            from
        }
        None => String::new(),
    };
    let timeout = t.duration_or(diag, "timeout", "30s");
    SmtpConfig {
        host,
        port,
        tls,
        username,
        password,
        from,
        timeout,
    }
}

fn read_recipient(t: &mut TableReader, diag: &mut Diagnostics, base_dir: &Path) -> RecipientConfig {
    let name = t
        .required_string(diag, "name")
        .map(|(n, _)| n)
        .unwrap_or_default();
    let email_list = |t: &mut TableReader, diag: &mut Diagnostics, key: &str| -> Vec<String> {
        let key_path = t.key_path(key);
        t.string_list(diag, key)
            .into_iter()
            .filter_map(|(email, span)| {
                if email.contains('@') && !email.contains(char::is_whitespace) {
                    Some(email)
                } else {
                    diag.error(
                        &span,
                        &key_path,
                        format!("{email:?} is not an email address"),
                    );
                    None
                }
            })
            .collect()
    };
    let emails = email_list(t, diag, "emails");
    let escalation = email_list(t, diag, "escalation");
    let mut webhooks = Vec::new();
    for mut w in t.tables(diag, "webhooks") {
        let kind_index = w.choice(
            diag,
            "kind",
            &["json", "slack", "wecom", "dingtalk", "feishu"],
            0,
        );
        let kind = ["json", "slack", "wecom", "dingtalk", "feishu"][kind_index].to_string();
        let url = secret_ref(&mut w, diag, base_dir, "url", Some("the webhook URL"))
            .unwrap_or_else(|| SecretRef::env(""));
        let secret = secret_ref(&mut w, diag, base_dir, "secret", None);
        w.finish(diag);
        webhooks.push(WebhookConfig { kind, url, secret });
    }
    if emails.is_empty() && webhooks.is_empty() {
        diag.error(
            &t.span,
            &t.key_path("emails"),
            "a recipient needs at least one email address or webhook",
        );
    }
    RecipientConfig {
        name,
        emails,
        escalation,
        webhooks,
    }
}

fn read_rule(t: &mut TableReader, diag: &mut Diagnostics) -> (RuleConfig, RuleRefs) {
    let name = t
        .required_string(diag, "name")
        .map(|(n, _)| n)
        .unwrap_or_default();
    let brand = t.required_string(diag, "brand").unwrap_or_default();
    let kind = if t.contains("kind") {
        [
            RuleKind::NegativeShare,
            RuleKind::VolumeSpike,
            RuleKind::SentimentDrop,
            RuleKind::Keyword,
            RuleKind::Influencer,
        ][t.choice(diag, "kind", RuleKind::NAMES, 0)]
    } else {
        t.required_string(diag, "kind");
        RuleKind::NegativeShare
    };
    let window = t.duration_or(diag, "window", "1h");
    let baseline = t.duration_or(diag, "baseline", "7d");
    if baseline < window {
        diag.error(
            &t.span,
            &t.key_path("baseline"),
            "the baseline must be at least as long as the window",
        );
    }
    let sigma = match t.float(diag, "sigma") {
        Some((s, span)) if s <= 0.0 || !s.is_finite() => {
            diag.error(
                &span,
                &t.key_path("sigma"),
                format!("{s} must be a positive number"),
            );
            2.0
        }
        Some((s, _)) => s,
        None => 2.0,
    };
    let threshold = match t.float(diag, "threshold") {
        Some((x, span)) if kind == RuleKind::NegativeShare && !(x > 0.0 && x <= 1.0) => {
            diag.error(
                &span,
                &t.key_path("threshold"),
                format!("{x} is not a share: expected a number above 0 and at most 1 (0.4 = 40%)"),
            );
            0.4
        }
        Some((x, span)) if kind == RuleKind::Influencer && !(x >= 1.0 && x.is_finite()) => {
            diag.error(
                &span,
                &t.key_path("threshold"),
                format!("{x} is not a reach: expected the least votes + likes + reposts + replies a post needs, e.g. 1000"),
            );
            DEFAULT_INFLUENCER_REACH
        }
        Some((x, _)) => x,
        None if kind == RuleKind::Influencer => DEFAULT_INFLUENCER_REACH,
        None => 0.4,
    };
    let default_min = if matches!(kind, RuleKind::Keyword | RuleKind::Influencer) {
        1
    } else {
        10
    };
    let min_mentions = t.int_in(diag, "min_mentions", default_min, 0, i64::MAX) as u64;
    let severity = [Severity::Info, Severity::Warning, Severity::Crisis]
        [t.choice(diag, "severity", &["info", "warning", "crisis"], 1)];
    let notify = t.string_list(diag, "notify");
    if notify.is_empty() {
        diag.error(
            &t.span,
            &t.key_path("notify"),
            "a rule needs at least one recipient in `notify`",
        );
    }
    let script = t.string(diag, "script");
    let (query, query_text) = match t.string(diag, "query") {
        Some((text, span)) => {
            let key = t.key_path("query");
            (Some(parse_query(diag, &key, &text, &span)), Some(text))
        }
        None => {
            if kind == RuleKind::Keyword {
                diag.error(
                    &t.span,
                    &t.key_path("query"),
                    "keyword rules need `query`, the crisis terms (e.g. \"recall OR 召回\")",
                );
            }
            (None, None)
        }
    };
    let hold_for = t.duration_or(diag, "for", "0s");
    let cooldown = t.duration_or(diag, "cooldown", "0s");
    let auto_resolve_after = t
        .contains("auto_resolve_after")
        .then(|| t.duration_or(diag, "auto_resolve_after", "1h"));
    let seasonality = [
        Seasonality::Auto,
        Seasonality::None,
        Seasonality::Daily,
        Seasonality::Weekly,
    ][t.choice(diag, "seasonality", Seasonality::NAMES, 0)];
    check_seasonality(t, diag, seasonality, window, baseline);
    let confirm = read_confirm(t, diag);
    let confirm_ratio = match t.float(diag, "confirm_ratio") {
        Some((r, span)) if !(r > 0.0 && r.is_finite()) => {
            diag.error(
                &span,
                &t.key_path("confirm_ratio"),
                format!("{r} must be a positive number (1.5 = at least half as many again)"),
            );
            1.5
        }
        Some((r, _)) => r,
        None => 1.5,
    };
    let refs = RuleRefs {
        brand: brand.clone(),
        notify: notify.clone(),
        script: script.clone(),
        path: t.path.clone(),
    };
    let rule = RuleConfig {
        name,
        brand: brand.0,
        kind,
        window,
        baseline,
        sigma,
        threshold,
        min_mentions,
        severity,
        notify: notify.into_iter().map(|(n, _)| n).collect(),
        script: script.map(|(s, _)| s),
        query,
        query_text,
        hold_for,
        cooldown,
        auto_resolve_after,
        seasonality,
        confirm,
        confirm_ratio,
    };
    (rule, refs)
}

/// A rule's `threshold` when it is an `influencer` rule and gives none.
const DEFAULT_INFLUENCER_REACH: f64 = 1000.0;

/// An explicit `daily`/`weekly` needs a window that divides the period and a baseline
/// holding at least two such periods.
fn check_seasonality(
    t: &TableReader,
    diag: &mut Diagnostics,
    seasonality: Seasonality,
    window: Duration,
    baseline: Duration,
) {
    let (period, name) = match seasonality {
        Seasonality::Daily => (Duration::from_secs(86_400), "a day"),
        Seasonality::Weekly => (Duration::from_secs(7 * 86_400), "a week"),
        Seasonality::Auto | Seasonality::None => return,
    };
    let window_ms = window.as_millis();
    if window_ms == 0 || period.as_millis() % window_ms != 0 {
        diag.error(
            &t.span,
            &t.key_path("seasonality"),
            format!(
                "seasonality {:?} compares the same time of {}: the window ({}) must divide {name}",
                seasonality.as_str(),
                &name[2..],
                vigil_core::time::format_duration(window)
            ),
        );
    } else if baseline < period * 2 {
        diag.error(
            &t.span,
            &t.key_path("seasonality"),
            format!(
                "seasonality {:?} needs a baseline of at least two {}s (e.g. {})",
                seasonality.as_str(),
                &name[2..],
                if seasonality == Seasonality::Daily {
                    "\"7d\""
                } else {
                    "\"28d\""
                }
            ),
        );
    }
}

/// `confirm`: a list of `"yesterday"`, `"last_week"` or durations (`"1d"`, `"7d"`).
fn read_confirm(t: &mut TableReader, diag: &mut Diagnostics) -> Vec<Duration> {
    let mut offsets = Vec::new();
    for (item, span) in t.string_list(diag, "confirm") {
        let offset = match item.as_str() {
            "yesterday" => Ok(Duration::from_secs(86_400)),
            "last_week" => Ok(Duration::from_secs(7 * 86_400)),
            other => vigil_core::time::parse_duration(other),
        };
        match offset {
            Ok(offset) if !offset.is_zero() => offsets.push(offset),
            _ => diag.error(
                &span,
                &t.key_path("confirm"),
                format!(
                    "{item:?}: expected \"yesterday\", \"last_week\" or a duration such as \"1d\""
                ),
            ),
        }
    }
    offsets
}

/// An optional `language` tag (`en`, `zh`, `zh-CN`), lower-cased.
fn read_language(t: &mut TableReader, diag: &mut Diagnostics) -> Option<String> {
    let (tag, span) = t.string(diag, "language")?;
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok {
        Some(tag.to_ascii_lowercase())
    } else {
        diag.error(
            &span,
            &t.key_path("language"),
            format!("{tag:?} is not a language tag: expected e.g. \"en\", \"zh\" or \"zh-CN\""),
        );
        None
    }
}

fn read_scripts(
    root: &mut TableReader,
    diag: &mut Diagnostics,
    base_dir: &Path,
) -> Vec<(ScriptConfig, Span)> {
    let mut scripts = Vec::new();
    for mut t in root.tables(diag, "scripts") {
        let (name, span) = t.required_string(diag, "name").unwrap_or_default();
        let subject = t.string_or(diag, "subject", "[{{ severity }}] {{ brand }}: {{ rule }}");
        let file = t.string(diag, "file");
        let inline = t.string(diag, "body");
        let language = read_language(&mut t, diag);
        let (file_path, body) = match (file, inline) {
            (Some(_), Some((_, span))) => {
                diag.error(
                    &span,
                    &t.key_path("body"),
                    "give either `file` or `body`, not both",
                );
                (None, String::new())
            }
            (Some((file, span)), None) => {
                let path = resolve(base_dir, &file);
                match std::fs::read_to_string(&path) {
                    Ok(body) => (Some(path), body),
                    Err(error) => {
                        diag.error(
                            &span,
                            &t.key_path("file"),
                            format!("cannot read script template {}: {error}", path.display()),
                        );
                        (Some(path), String::new())
                    }
                }
            }
            (None, Some((body, _))) => (None, body),
            (None, None) => {
                diag.error(
                    &t.span,
                    &t.key_path("file"),
                    "a script needs `file` (a template file) or `body` (inline template)",
                );
                (None, String::new())
            }
        };
        t.finish(diag);
        scripts.push((
            ScriptConfig {
                name,
                subject,
                file: file_path,
                body,
                language,
            },
            span,
        ));
    }
    scripts
}

fn report_duplicates<'a>(
    diag: &mut Diagnostics,
    what: &str,
    names: impl Iterator<Item = (&'a str, Span, String)>,
) {
    let mut seen: HashMap<&str, ()> = HashMap::new();
    for (name, span, path) in names {
        if seen.insert(name, ()).is_some() {
            diag.error(
                &span,
                &path,
                format!("duplicate {what} name {name:?}: names must be unique"),
            );
        }
    }
}

fn check_references(
    config: &Config,
    diag: &mut Diagnostics,
    brands: &[(BrandConfig, Span)],
    sources: &[(SourceConfig, Vec<(String, Span)>)],
    scripts: &[(ScriptConfig, Span)],
    rules: &[RuleRefs],
) {
    report_duplicates(
        diag,
        "brand",
        brands
            .iter()
            .enumerate()
            .map(|(i, (b, s))| (b.name.as_str(), s.clone(), format!("brands[{i}].name"))),
    );
    // Scripts may share a name when their languages differ.
    let script_keys: Vec<String> = scripts
        .iter()
        .map(|(s, _)| match &s.language {
            Some(lang) => format!("{} (language {lang})", s.name),
            None => s.name.clone(),
        })
        .collect();
    report_duplicates(
        diag,
        "script",
        scripts
            .iter()
            .zip(&script_keys)
            .enumerate()
            .map(|(i, ((_, s), key))| (key.as_str(), s.clone(), format!("scripts[{i}].name"))),
    );
    let mut source_names: HashMap<&str, ()> = HashMap::new();
    for (i, (source, source_brands)) in sources.iter().enumerate() {
        if source_names.insert(source.name.as_str(), ()).is_some() {
            diag.error(
                &None,
                &format!("sources[{i}].name"),
                format!("duplicate source name {:?}", source.name),
            );
        }
        for (brand, span) in source_brands {
            if config.brand(brand).is_none() {
                diag.error(
                    span,
                    &format!("sources[{i}].brands"),
                    format!(
                        "unknown brand {brand:?}: {}",
                        known(config.brands.iter().map(|b| &b.name))
                    ),
                );
            }
        }
    }
    let mut rule_names: HashMap<&str, ()> = HashMap::new();
    for (rule, refs) in config.alerts.rules.iter().zip(rules) {
        if !rule.name.is_empty() && rule_names.insert(rule.name.as_str(), ()).is_some() {
            diag.error(
                &refs.brand.1,
                &format!("{}.name", refs.path),
                format!("duplicate rule name {:?}", rule.name),
            );
        }
        let (brand, span) = &refs.brand;
        if !brand.is_empty() && config.brand(brand).is_none() {
            diag.error(
                span,
                &format!("{}.brand", refs.path),
                format!(
                    "unknown brand {brand:?}: {}",
                    known(config.brands.iter().map(|b| &b.name))
                ),
            );
        }
        for (recipient, span) in &refs.notify {
            if config.recipient(recipient).is_none() {
                diag.error(
                    span,
                    &format!("{}.notify", refs.path),
                    format!(
                        "unknown recipient {recipient:?}: {}",
                        known(config.alerts.recipients.iter().map(|r| &r.name))
                    ),
                );
            }
        }
        if let Some((script, span)) = &refs.script
            && config.script(script).is_none()
        {
            diag.error(
                span,
                &format!("{}.script", refs.path),
                format!(
                    "unknown script {script:?}: {}",
                    known(config.scripts.iter().map(|s| &s.name))
                ),
            );
        }
    }
    if !config.alerts.rules.is_empty()
        && config.alerts.smtp.is_none()
        && config
            .alerts
            .recipients
            .iter()
            .any(|r| !r.emails.is_empty())
    {
        diag.error(
            &None,
            "alerts.smtp",
            "rules notify email recipients but [alerts.smtp] is missing",
        );
    }
}

fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.map(|n| format!("{n:?}")).collect();
    if names.is_empty() {
        "none are defined".to_string()
    } else {
        format!("defined are {}", names.join(", "))
    }
}

impl Config {
    /// The configuration commands run on when there is no config file: no brands or
    /// sources, lexicon classifier, data in `./vigil-data`.
    pub fn builtin_default() -> Config {
        parse_str("", Path::new("<built-in defaults>"), Path::new("."))
            .expect("empty config is valid")
    }
}
