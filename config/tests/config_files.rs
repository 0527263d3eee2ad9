//! Good and bad config files, asserting the exact messages a user sees.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vigil_config::{RuleKind, Seasonality, SmtpTls, SourceKind};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn good_config_loads_with_defaults_filled_in() {
    let config = vigil_config::load(&fixture("good.toml")).expect("good.toml is valid");
    assert_eq!(config.storage.data_dir, fixture("data"));
    assert_eq!(config.storage.retention_days, 365);
    assert_eq!(config.brands[0].name, "Acme");
    assert!(config.brands[0].query.matches("买了艾克米"));
    assert_eq!(config.sources[0].kind, SourceKind::Rss);
    assert_eq!(config.sources[0].interval, Duration::from_secs(30));
    assert_eq!(config.crawler.per_host_interval, Duration::from_secs(1));
    let smtp = config.alerts.smtp.as_ref().unwrap();
    assert_eq!((smtp.port, smtp.tls), (2525, SmtpTls::None));
    assert_eq!(config.alerts.rules[0].kind, RuleKind::Keyword);
    assert_eq!(config.alerts.rules[0].min_mentions, 1);
    assert_eq!(
        config.alerts.crisis.response_window,
        Duration::from_secs(86_400)
    );
    assert_eq!(config.script("inline").unwrap().body, "Say sorry.");
    assert_eq!(config.alerts.crisis.ack_timeout, None);
}

#[test]
fn rule_timing_keys_are_read() {
    let text = "[alerts.smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\nfrom = \"v@example.com\"\n\
        [[alerts.recipients]]\nname = \"pr\"\nemails = [\"pr@example.com\"]\n\
        [[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\
        [[alerts.rules]]\nname = \"r\"\nbrand = \"Acme\"\nkind = \"negative_share\"\n\
        notify = [\"pr\"]\nfor = \"10m\"\ncooldown = \"2h\"\nauto_resolve_after = \"90m\"\n";
    let config = vigil_config::parse_str(text, Path::new("r.toml"), Path::new("."))
        .unwrap_or_else(|e| panic!("{e}"));
    let rule = &config.alerts.rules[0];
    assert_eq!(rule.hold_for, Duration::from_secs(600));
    assert_eq!(rule.cooldown, Duration::from_secs(7200));
    assert_eq!(rule.auto_resolve_after, Some(Duration::from_secs(5400)));
    let plain = text
        .replace("for = \"10m\"\n", "")
        .replace("cooldown = \"2h\"\n", "")
        .replace("auto_resolve_after = \"90m\"\n", "");
    let config = vigil_config::parse_str(&plain, Path::new("r.toml"), Path::new(".")).unwrap();
    let rule = &config.alerts.rules[0];
    assert_eq!(
        (rule.hold_for, rule.cooldown, rule.auto_resolve_after),
        (Duration::ZERO, Duration::ZERO, None)
    );
}

const RULE_HEAD: &str = "[alerts.smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\nfrom = \"v@example.com\"\n\
    [[alerts.recipients]]\nname = \"pr\"\nemails = [\"pr@example.com\"]\n\
    [[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\
    [[alerts.rules]]\nname = \"r\"\nbrand = \"Acme\"\nnotify = [\"pr\"]\n";

fn parse(text: &str) -> Result<vigil_config::Config, String> {
    vigil_config::parse_str(text, Path::new("r.toml"), Path::new(".")).map_err(|e| e.to_string())
}

#[test]
fn seasonality_and_confirmation_keys() {
    let config = parse(&format!(
        "{RULE_HEAD}kind = \"volume_spike\"\nseasonality = \"daily\"\n\
         confirm = [\"yesterday\", \"last_week\", \"2d\"]\nconfirm_ratio = 2.0\n"
    ))
    .unwrap();
    let rule = &config.alerts.rules[0];
    assert_eq!(rule.seasonality, Seasonality::Daily);
    assert_eq!(
        rule.confirm,
        [1, 7, 2].map(|d| Duration::from_secs(d * 86_400))
    );
    assert_eq!(rule.confirm_ratio, 2.0);
    let defaults = parse(&format!("{RULE_HEAD}kind = \"volume_spike\"\n")).unwrap();
    let rule = &defaults.alerts.rules[0];
    assert_eq!(
        (rule.seasonality, rule.confirm.len(), rule.confirm_ratio),
        (Seasonality::Auto, 0, 1.5)
    );

    // weekly needs two weeks of baseline; a 50-minute window does not divide a day.
    let errors = parse(&format!(
        "{RULE_HEAD}kind = \"volume_spike\"\nseasonality = \"weekly\"\nbaseline = \"7d\"\n"
    ))
    .unwrap_err();
    assert!(
        errors.contains("needs a baseline of at least two weeks"),
        "{errors}"
    );
    let errors = parse(&format!(
        "{RULE_HEAD}kind = \"volume_spike\"\nseasonality = \"daily\"\nwindow = \"50m\"\n"
    ))
    .unwrap_err();
    assert!(
        errors.contains("the window (50m) must divide a day"),
        "{errors}"
    );
    let errors = parse(&format!(
        "{RULE_HEAD}kind = \"volume_spike\"\nconfirm = [\"tomorrow\"]\nconfirm_ratio = 0\n"
    ))
    .unwrap_err();
    assert!(
        errors.contains("\"tomorrow\": expected \"yesterday\", \"last_week\"")
            && errors.contains("confirm_ratio"),
        "{errors}"
    );
}

#[test]
fn influencer_rule_reach_threshold() {
    let config = parse(&format!("{RULE_HEAD}kind = \"influencer\"\n")).unwrap();
    let rule = &config.alerts.rules[0];
    assert_eq!(rule.kind, RuleKind::Influencer);
    assert_eq!((rule.threshold, rule.min_mentions), (1000.0, 1));
    let errors = parse(&format!(
        "{RULE_HEAD}kind = \"influencer\"\nthreshold = 0.5\n"
    ))
    .unwrap_err();
    assert!(errors.contains("0.5 is not a reach"), "{errors}");
}

#[test]
fn languages_of_brands_and_scripts() {
    let text = "[[brands]]\nname = \"Acme\"\nquery = \"acme\"\nlanguage = \"zh-CN\"\n\
        [[scripts]]\nname = \"holding\"\nbody = \"We are looking into it.\"\n\
        [[scripts]]\nname = \"holding\"\nlanguage = \"zh-cn\"\nbody = \"我们正在调查。\"\n\
        [[scripts]]\nname = \"holding\"\nlanguage = \"ja\"\nbody = \"調査中です。\"\n";
    let config = parse(text).unwrap();
    assert_eq!(config.brands[0].language.as_deref(), Some("zh-cn"));
    let body = |lang: Option<&str>| config.script_for("holding", lang).map(|s| s.body.as_str());
    assert_eq!(body(Some("zh-cn")), Some("我们正在调查。"));
    assert_eq!(body(Some("ja")), Some("調査中です。"));
    assert_eq!(body(Some("fr")), Some("We are looking into it."));
    assert_eq!(body(None), Some("We are looking into it."));
    assert_eq!(body(Some("en")), Some("We are looking into it."));
    assert!(config.script_for("other", None).is_none());

    // Same name and language twice is a duplicate; a bad tag is named.
    let errors = parse(&format!(
        "{text}[[scripts]]\nname = \"holding\"\nlanguage = \"ja\"\nbody = \"x\"\n\
         [[brands]]\nname = \"B\"\nquery = \"b\"\nlanguage = \"chinese simplified\"\n"
    ))
    .unwrap_err();
    assert!(
        errors.contains("duplicate script name \"holding (language ja)\""),
        "{errors}"
    );
    assert!(
        errors.contains("\"chinese simplified\" is not a language tag"),
        "{errors}"
    );
}

#[test]
fn ack_timeout_is_read_and_checked() {
    let text = "[alerts.crisis]\nack_timeout = \"6h\"\n";
    let config = vigil_config::parse_str(text, Path::new("a.toml"), Path::new(".")).unwrap();
    assert_eq!(
        config.alerts.crisis.ack_timeout,
        Some(Duration::from_secs(6 * 3600))
    );
    let errors = vigil_config::parse_str(
        "[alerts.crisis]\nack_timeout = \"soon\"\n",
        Path::new("b.toml"),
        Path::new("."),
    )
    .unwrap_err();
    assert!(errors.to_string().contains("ack_timeout"), "{errors}");
}

#[test]
fn example_config_in_the_repository_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vigil.example.toml");
    let config = vigil_config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.alerts.rules.len(), 3);
    let mut kinds: Vec<&str> = config.sources.iter().map(|s| s.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), 8, "every source kind is shown: {kinds:?}");
    let reviews = config.source("acme-reviews").expect("html example");
    assert_eq!(
        reviews.fields.get("published").map(String::as_str),
        Some("time@datetime")
    );
    assert_eq!(reviews.max_pages, 3);
    assert_eq!(
        config.source("reddit").expect("reddit").max_pages,
        5,
        "API default"
    );
    assert_eq!(config.source("acme-news").expect("rss").max_pages, 1);
    assert_eq!(config.crawler.retries, 2);
    assert_eq!(
        config.alerts.source_down_notify,
        vec!["pr-team".to_string()]
    );
    assert!(
        config
            .script("product-safety")
            .unwrap()
            .body
            .contains("{{ brand }}")
    );
}

#[test]
fn bad_config_reports_every_problem_with_position() {
    let errors = vigil_config::load(&fixture("bad.toml")).expect_err("bad.toml is invalid");
    let file = fixture("bad.toml").display().to_string();
    let lines: Vec<String> = errors
        .errors
        .iter()
        .map(|e| e.to_string().replacen(&file, "bad.toml", 1))
        .collect();
    let expected = [
        "bad.toml:3:1: storage.retention_dayz: unknown key (did you mean \"retention_days\"?)",
        "bad.toml:6:10: server.listen: \"localhost\" is not an address: expected IP:PORT, e.g. \"127.0.0.1:8080\"",
        "bad.toml:10:9: brands[0].query: invalid query \"acme OR\": query error at column 8: expected a term, a \"phrase\", field:value, '(' or '*', found the end of the query",
        "bad.toml:14:8: sources[0].kind: unknown value \"rsss\": expected one of rss, html, json, reddit, hackernews, mastodon, bluesky, appstore",
        "bad.toml:15:7: sources[0].url: \"ftp://example.com/feed\" is not an http(s) URL",
        "bad.toml:16:12: sources[0].interval: invalid duration \"5 minutes\": unknown unit \" minutes\" (expected a number and a unit: ms, s, m, h, d, w; e.g. \"30s\", \"7d\")",
        "bad.toml:19:19: crawler.max_concurrency: expected an integer, found a string",
        "bad.toml:23:12: alerts.smtp.password: secrets are never written in the config file: put it in an environment variable and name it with password_env, or in a file and name it with password_file",
        "bad.toml:28:29: alerts.recipients[0].emails: \"not-an-address\" is not an email address",
        "bad.toml:32:9: alerts.rules[0].brand: unknown brand \"Acne\": defined are \"Acme\"",
        "bad.toml:34:13: alerts.rules[0].threshold: 40 is not a share: expected a number above 0 and at most 1 (0.4 = 40%)",
        "bad.toml:35:17: alerts.rules[0].notify: unknown recipient \"legal\": defined are \"pr\"",
        "bad.toml:36:10: alerts.rules[0].script: unknown script \"missing-script\": none are defined",
    ];
    assert_eq!(lines, expected, "\nactual:\n{}", lines.join("\n"));
    assert!(
        errors
            .to_string()
            .starts_with("13 problems in the configuration:")
    );
}

#[test]
fn toml_syntax_errors_are_located() {
    let errors = vigil_config::parse_str(
        "[storage\ndata_dir = 1",
        Path::new("x.toml"),
        Path::new("."),
    )
    .unwrap_err();
    assert_eq!(errors.errors.len(), 1);
    let message = errors.errors[0].to_string();
    assert!(message.starts_with("x.toml:1:"), "{message}");
    assert!(message.contains("invalid TOML"), "{message}");
}

#[test]
fn missing_required_keys_and_keyword_query() {
    let text = "[[brands]]\nname = \"A\"\n\n[alerts.smtp]\nhost = \"h\"\nfrom = \"a@b\"\n[[alerts.recipients]]\nname = \"r\"\nemails = [\"a@b.c\"]\n[[alerts.rules]]\nname = \"k\"\nbrand = \"A\"\nkind = \"keyword\"\nnotify = [\"r\"]\n";
    let errors = vigil_config::parse_str(text, Path::new("m.toml"), Path::new(".")).unwrap_err();
    let all = errors.to_string();
    assert!(
        all.contains("m.toml:1:1: brands[0].query: missing required key"),
        "{all}"
    );
    assert!(
        all.contains("alerts.rules[0].query: keyword rules need `query`"),
        "{all}"
    );
}

#[test]
fn empty_config_is_the_builtin_default() {
    let config = vigil_config::Config::builtin_default();
    assert!(config.brands.is_empty());
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert!(config.storage.redact_pii);
}

#[test]
fn mutated_configs_never_panic_and_errors_have_positions() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vigil.example.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    let base_dir = path.parent().unwrap();
    let pieces = [
        "\"",
        "[",
        "]",
        "=",
        "\n",
        "{",
        "}",
        "0",
        "-1",
        "x",
        "'",
        "召回",
        "[[brands]]\n",
        "true",
        "1e999",
        "\u{feff}",
    ];
    let mut state: u64 = 42;
    let mut next = |bound: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % bound
    };
    let line_count = original.lines().count();
    for _ in 0..400 {
        let mut text = original.clone();
        for _ in 0..1 + next(4) {
            let mut at = next(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, pieces[next(pieces.len())]);
        }
        if let Err(errors) = vigil_config::parse_str(&text, &path, base_dir) {
            assert!(!errors.errors.is_empty());
            for error in &errors.errors {
                assert!(error.line >= 1 && error.line <= line_count + 10, "{error}");
                assert!(error.column >= 1, "{error}");
            }
        }
    }
}

#[test]
fn secrets_come_from_environment_variables_or_files() {
    let base = Path::new("/etc/vigil");
    let config = vigil_config::parse_str(
        r#"
[[server.tokens]]
name = "analyst"
role = "viewer"
token_env = "VIGIL_TOKEN_ANALYST"
[[server.tokens]]
name = "ops"
role = "admin"
token_file = "secrets/ops.token"
[alerts.smtp]
host = "smtp.example.com"
username = "alerts"
password_file = "/run/secrets/smtp"
from = "Vigil <alerts@example.com>"
[[alerts.recipients]]
name = "pr"
webhooks = [{ kind = "slack", url_file = "/run/secrets/slack" }, { kind = "json", url_env = "HOOK", secret_file = "hook.key" }]
"#,
        Path::new("v.toml"),
        base,
    )
    .expect("valid");
    use vigil_config::SecretRef;
    assert_eq!(
        config.server.tokens[0].token,
        SecretRef::env("VIGIL_TOKEN_ANALYST")
    );
    assert_eq!(
        config.server.tokens[1].token,
        SecretRef::File(base.join("secrets/ops.token"))
    );
    assert_eq!(
        config.alerts.smtp.as_ref().unwrap().password,
        Some(SecretRef::File("/run/secrets/smtp".into()))
    );
    let hooks = &config.alerts.recipients[0].webhooks;
    assert_eq!(hooks[0].url, SecretRef::File("/run/secrets/slack".into()));
    assert_eq!(
        hooks[1].secret,
        Some(SecretRef::File(base.join("hook.key")))
    );
    let keys: Vec<String> = config.secrets().into_iter().map(|(key, _)| key).collect();
    assert_eq!(
        keys,
        [
            "server.tokens[analyst].token",
            "server.tokens[ops].token",
            "alerts.smtp.password",
            "alerts.recipients[pr].webhooks[0].url",
            "alerts.recipients[pr].webhooks[1].url",
            "alerts.recipients[pr].webhooks[1].secret",
        ]
    );

    let both = parse(
        "[[server.tokens]]\nname = \"a\"\nrole = \"viewer\"\ntoken_env = \"A\"\ntoken_file = \"a.token\"\n",
    )
    .unwrap_err();
    assert!(
        both.contains(
            "5:14: server.tokens[0].token_file: give either token_env or token_file, not both"
        ),
        "{both}"
    );
    let neither = parse("[[server.tokens]]\nname = \"a\"\nrole = \"viewer\"\n").unwrap_err();
    assert!(
        neither.contains("server.tokens[0].token_env: missing required key: token_env (the environment variable holding the token) or token_file (a file holding it)"),
        "{neither}"
    );
    let empty = parse("[[server.tokens]]\nname = \"a\"\nrole = \"viewer\"\ntoken_file = \" \"\n")
        .unwrap_err();
    assert!(
        empty.contains("server.tokens[0].token_file: the path is empty"),
        "{empty}"
    );
}

#[test]
fn keep_raw_is_read_per_source_and_defaults_to_off() {
    let sources = "[[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\
        [[sources]]\nname = \"plain\"\nkind = \"rss\"\nurl = \"https://a.example/feed\"\n\
        [[sources]]\nname = \"kept\"\nkind = \"rss\"\nurl = \"https://b.example/feed\"\nkeep_raw = true\n";
    let config = parse(sources).unwrap();
    let keep_raw: Vec<(&str, bool)> = config
        .sources
        .iter()
        .map(|source| (source.name.as_str(), source.keep_raw))
        .collect();
    assert_eq!(keep_raw, [("plain", false), ("kept", true)]);
    assert!(
        !vigil_config::SourceConfig::new("x", vigil_config::SourceKind::Rss, "https://x").keep_raw
    );

    let errors = parse(&sources.replace("keep_raw = true", "keep_raw = \"yes\"")).unwrap_err();
    assert!(
        errors.contains("sources[1].keep_raw: expected true or false, found"),
        "{errors}"
    );
    let typo = parse(&sources.replace("keep_raw", "keep_rwa")).unwrap_err();
    assert!(typo.contains("keep_raw"), "did you mean: {typo}");
}

#[test]
fn honour_deletions_defaults_on_for_reddit_only_and_is_tunable() {
    let config = parse(
        "[[sources]]\nname = \"r\"\nkind = \"reddit\"\nurl = \"https://oauth.reddit.com/r/acme/new\"\n\
         [[sources]]\nname = \"n\"\nkind = \"rss\"\nurl = \"https://example.com/feed.xml\"\n\
         [[sources]]\nname = \"m\"\nkind = \"rss\"\nurl = \"https://example.com/b.xml\"\n\
         honour_deletions = true\nrecheck_every = \"30m\"\nrecheck_window = \"7d\"\nrecheck_max = 50\n",
    )
    .expect("valid");
    let (reddit, rss, tuned) = (&config.sources[0], &config.sources[1], &config.sources[2]);
    assert!(reddit.honour_deletions && !rss.honour_deletions && tuned.honour_deletions);
    assert_eq!(
        reddit.recheck_every,
        std::time::Duration::from_secs(6 * 3600)
    );
    assert_eq!(
        reddit.recheck_window,
        std::time::Duration::from_secs(30 * 86_400)
    );
    assert_eq!(reddit.recheck_max, 200);
    assert_eq!(tuned.recheck_every, std::time::Duration::from_secs(1800));
    assert_eq!(
        tuned.recheck_window,
        std::time::Duration::from_secs(7 * 86_400)
    );
    assert_eq!(tuned.recheck_max, 50);
    let bad = parse(
        "[[sources]]\nname = \"m\"\nkind = \"rss\"\nurl = \"https://example.com/b.xml\"\nrecheck_max = 0\n",
    )
    .unwrap_err();
    assert!(bad.contains("sources[0].recheck_max"), "{bad}");
}

#[test]
fn brand_models_are_checked_and_kept_in_brand_order() {
    let brands = "[[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\
        [[brands]]\nname = \"Globex\"\nquery = \"globex\"\n";
    let text = format!(
        "{brands}[classifier]\nbackend = \"learned\"\n\
         [classifier.brand_models]\nGlobex = \"/m/globex.vlm\"\nAcme = \"models/acme.vlm\"\n"
    );
    let config = vigil_config::parse_str(&text, Path::new("b.toml"), Path::new("/etc/vigil"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.classifier.brand_models,
        [
            (
                "Acme".to_string(),
                PathBuf::from("/etc/vigil/models/acme.vlm")
            ),
            ("Globex".to_string(), PathBuf::from("/m/globex.vlm")),
        ],
        "[[brands]] order, paths relative to the config's folder"
    );

    let unknown = parse(&text.replace("Globex = ", "Initech = ")).unwrap_err();
    assert!(
        unknown.contains("classifier.brand_models.Initech")
            && unknown.contains("unknown brand \"Initech\": defined are \"Acme\", \"Globex\""),
        "{unknown}"
    );
    let lexicon = parse(&text.replace("\"learned\"", "\"lexicon\"")).unwrap_err();
    assert!(
        lexicon.contains("brand models need backend \"learned\""),
        "{lexicon}"
    );
    let not_a_path = parse(&text.replace("\"/m/globex.vlm\"", "3")).unwrap_err();
    assert!(not_a_path.contains("expected a string"), "{not_a_path}");
    let none = parse(&format!("{brands}[classifier]\nbackend = \"lexicon\"\n")).unwrap();
    assert!(none.classifier.brand_models.is_empty());
}

#[test]
fn language_backends_are_checked() {
    let text = "[classifier]\nbackend = \"transformer\"\n[classifier.languages]\nzh = \"learned\"\nund = \"lexicon\"\n";
    let config = parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.classifier.languages,
        [
            ("zh".to_string(), vigil_config::ClassifierBackend::Learned),
            ("und".to_string(), vigil_config::ClassifierBackend::Lexicon),
        ]
    );
    let bad_lang = parse(&text.replace("zh = ", "fr = ")).unwrap_err();
    assert!(
        bad_lang.contains("classifier.languages.fr") && bad_lang.contains("expected en, zh or und"),
        "{bad_lang}"
    );
    let bad_backend = parse(&text.replace("\"learned\"", "\"vader\"")).unwrap_err();
    assert!(
        bad_backend.contains("unknown backend \"vader\""),
        "{bad_backend}"
    );
}
