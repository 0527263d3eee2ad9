//! What a PR person reads: the first notification's text and HTML.

mod support;

use lettre::Message;
use lettre::message::MultiPart;
use mail_parser::MessageParser;
use support::*;
use vigil_alerts::{AlertEngine, RenderedMessage};
use vigil_config::{BrandConfig, Config, RuleKind, ScriptConfig};
use vigil_core::{
    Contributor, Incident, Label, NotificationKind, Query, TermCount, TriggerContext,
};

fn incident_with_hostile_post(rule_name: &str, engine: &AlertEngine) -> (MemStore, Incident) {
    let store = MemStore::new();
    mixed_posts(&store);
    let mut hostile = post(
        "evil",
        t0() - minutes(3),
        "Acme <script>alert('x')</script> & \"friends\"",
        Some(Label::Negative),
        Some(-0.99),
    );
    hostile.url = Some("javascript:alert(1)".into());
    store.add("Acme", hostile);
    let outcome = engine.evaluate(&store, t0()).unwrap().remove(0);
    assert_eq!(outcome.rule, rule_name);
    let incident = store.incident(outcome.incident_id.unwrap());
    (store, incident)
}

/// What a mail client shows for the HTML (minijinja also escapes `/`).
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

fn mixed_posts(store: &MemStore) {
    for i in 0..6 {
        store.add("Acme", negative(&format!("n{i}"), t0() - minutes(10 + i)));
    }
    store.add("Acme", positive("p0", t0() - minutes(20)));
}

#[test]
fn first_notification_has_everything_needed_to_respond() {
    let engine = AlertEngine::new(&config(vec![rule("neg", RuleKind::NegativeShare)])).unwrap();
    let (_, incident) = incident_with_hostile_post("neg", &engine);
    let message = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();

    assert_eq!(message.subject, "[CRISIS] Acme: neg (incident 1)");
    assert_eq!(
        message.recipients,
        vec!["pr@example.com", "press@example.com"]
    );
    let html_as_read = unescape(&message.html);
    for (what, body) in [("text", &message.text), ("html", &html_as_read)] {
        // What fired and why, with the numbers.
        assert!(
            body.contains("87.5% of 8 Acme mentions in the last 1h were negative (threshold 40%)."),
            "{what}: {body}"
        );
        assert!(
            body.contains("negative_share") && body.contains("87.5%") && body.contains("40.0%"),
            "{what}"
        );
        // The response script, rendered with the incident's variables.
        assert!(
            body.contains("We are aware of reports about Acme (8 mentions)."),
            "{what}: {body}"
        );
        assert!(body.contains("- seen: forum"), "{what}");
        // Evidence with links, sentiment and source.
        assert!(body.contains("https://forum.example.com/p/n0"), "{what}");
        assert!(
            body.contains("negative -0.70") && body.contains("forum"),
            "{what}"
        );
        // The deadline and how to acknowledge.
        assert!(
            body.contains("2024-05-09T00:00:00Z") && body.contains("in 24h"),
            "{what}"
        );
        assert!(
            body.contains("vigil incidents ack 1 --by <your name>"),
            "{what}"
        );
        assert!(
            body.contains("https://vigil.example.com/#/incidents/1"),
            "{what}"
        );
    }
    assert!(html_as_read.contains("<a href=\"https://forum.example.com/p/n0\">"));
}

#[test]
fn html_escapes_post_text_and_refuses_script_urls() {
    let engine = AlertEngine::new(&config(vec![rule("neg", RuleKind::NegativeShare)])).unwrap();
    let (_, incident) = incident_with_hostile_post("neg", &engine);
    assert_eq!(incident.evidence[0].id, "evil", "most negative first");
    let message = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();
    assert!(!message.html.contains("<script>"), "{}", message.html);
    assert!(
        message.html.contains("&lt;script&gt;alert("),
        "{}",
        message.html
    );
    assert!(message.html.contains("&amp; &quot;friends&quot;"));
    assert!(
        !message.html.contains("href=\"javascript:"),
        "only http(s) links are clickable"
    );
    // Plain text stays as written.
    assert!(
        message
            .text
            .contains("Acme <script>alert('x')</script> & \"friends\"")
    );
}

#[test]
fn rule_without_script_uses_default_subject_and_omits_script() {
    let mut plain = rule("neg", RuleKind::NegativeShare);
    plain.script = None;
    let mut cfg = config(vec![plain]);
    cfg.alerts.dashboard_url = None;
    let engine = AlertEngine::new(&cfg).unwrap();
    let (_, incident) = incident_with_hostile_post("neg", &engine);
    let message = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();
    assert_eq!(message.subject, "[crisis] Acme: neg");
    assert!(!message.text.contains("RESPONSE SCRIPT"));
    assert!(!message.html.contains("Response script"));
    assert!(!message.text.contains("#/incidents/"));
    assert!(
        message
            .text
            .contains("vigil incidents ack 1 --by <your name>")
    );
}

#[test]
fn follow_ups_thread_under_the_first_subject() {
    let engine = AlertEngine::new(&config(vec![rule("neg", RuleKind::NegativeShare)])).unwrap();
    let (_, incident) = incident_with_hostile_post("neg", &engine);
    let reminder = engine
        .render(&incident, NotificationKind::Reminder, 1, t0() + hours(2))
        .unwrap();
    assert_eq!(reminder.subject, "Re: [CRISIS] Acme: neg (incident 1)");
    assert!(
        reminder
            .text
            .contains("Reminder 1: incident #1 is not acknowledged yet")
    );
    assert!(reminder.text.contains("in 22h"));
    let escalation = engine
        .render(&incident, NotificationKind::Escalation, 0, t0() + hours(4))
        .unwrap();
    assert!(
        escalation
            .recipients
            .contains(&"head-of-comms@example.com".to_string())
    );
    let summary = engine
        .render(&incident, NotificationKind::Summary, 0, t0() + hours(25))
        .unwrap();
    assert!(summary.text.contains("overdue by 1h"), "{}", summary.text);
    assert!(
        summary
            .text
            .contains("Peak negative_share while open: 87.5%."),
        "{}",
        summary.text
    );
}

#[test]
fn script_with_unknown_variable_is_rejected_at_start() {
    let mut cfg = config(vec![rule("neg", RuleKind::NegativeShare)]);
    cfg.scripts[0].body = "Dear {{ customer_name }}".into();
    let err = AlertEngine::new(&cfg).err().expect("strict check");
    let message = err.to_string();
    assert!(
        message.contains("script \"holding\": body template"),
        "{message}"
    );
    assert!(
        message.contains("customer_name") || message.contains("undefined"),
        "{message}"
    );
}

const CHINESE_SCRIPT_BODY: &str = "我们已注意到关于 {{ brand }} 的反馈（{{ mentions }} 条）。语言：{{ language }}\n\
{% for t in top_terms %}- 话题：{{ t.term }}（{{ t.posts }}）\n{% endfor %}\
{% for s in top_sources %}- 来源：{{ s.name }} 触达 {{ s.reach }}\n{% endfor %}\
{% for a in top_authors %}- 作者：{{ a.name }}\n{% endfor %}\
{% for post in evidence %}{% if post.reach %}- 帖子触达：{{ post.reach }}\n{% endif %}{% endfor %}";

/// The test config with brand Acme in `language`, and script `holding` in two
/// versions: the one of `config()` (no language) and a Chinese one.
fn config_with_language(language: Option<&str>) -> Config {
    let mut cfg = config(vec![rule("neg", RuleKind::NegativeShare)]);
    cfg.brands = vec![BrandConfig {
        name: "Acme".into(),
        query_text: "acme".into(),
        query: Query::parse("acme").unwrap(),
        language: language.map(str::to_string),
    }];
    cfg.scripts.push(ScriptConfig {
        name: "holding".into(),
        subject: "【{{ severity }}】{{ brand }}：{{ rule }}（事件 {{ incident_id }}）".into(),
        file: None,
        body: CHINESE_SCRIPT_BODY.into(),
        language: Some("zh".into()),
    });
    cfg
}

/// What the window was about, with a hostile author name and a source without reach.
fn sample_context() -> TriggerContext {
    TriggerContext {
        top_terms: vec![
            TermCount {
                term: "退款".into(),
                posts: 12,
            },
            TermCount {
                term: "broken".into(),
                posts: 1,
            },
        ],
        top_sources: vec![
            Contributor {
                name: "weibo".into(),
                posts: 30,
                reach: 12_345,
            },
            Contributor {
                name: "forum".into(),
                posts: 5,
                reach: 0,
            },
        ],
        top_authors: vec![Contributor {
            name: "<script>evil()</script>".into(),
            posts: 3,
            reach: 1_000,
        }],
    }
}

/// An incident as `evaluate` opens it, then given `context` and reaches on its first
/// two evidence posts (54,321 and 0, which is not shown).
fn incident_with_context(engine: &AlertEngine, context: TriggerContext) -> Incident {
    let (_, mut incident) = incident_with_hostile_post("neg", engine);
    incident.trigger.context = context;
    assert!(incident.evidence.len() >= 2, "{:?}", incident.evidence);
    incident.evidence[0].reach = Some(54_321);
    incident.evidence[1].reach = Some(0);
    incident
}

/// The message as the mailer builds it, parsed back: it must be valid MIME whose
/// subject and both parts decode to what was rendered.
fn assert_valid_mail(message: &RenderedMessage) {
    let mail = Message::builder()
        .from("Vigil <alerts@example.com>".parse().unwrap())
        .to("pr@example.com".parse().unwrap())
        .subject(message.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            message.text.clone(),
            message.html.clone(),
        ))
        .expect("builds")
        .formatted();
    let raw = String::from_utf8_lossy(&mail);
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(raw.is_ascii(), "headers and parts are encoded: {raw}");
    let parsed = MessageParser::default().parse(&mail).expect("parses");
    assert_eq!(parsed.subject(), Some(message.subject.as_str()));
    let text = parsed
        .body_text(0)
        .expect("text part")
        .replace("\r\n", "\n");
    assert_eq!(text.trim_end(), message.text.trim_end());
    let html = parsed
        .body_html(0)
        .expect("html part")
        .replace("\r\n", "\n");
    assert_eq!(html.trim_end(), message.html.trim_end());
}

#[test]
fn a_chinese_brand_gets_the_chinese_script_and_chinese_chrome() {
    let engine = AlertEngine::new(&config_with_language(Some("zh"))).unwrap();
    let incident = incident_with_context(&engine, sample_context());
    let mentions = incident.trigger.mentions;
    let message = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();

    assert_eq!(message.subject, "【crisis】Acme：neg（事件 1）");
    let html_as_read = unescape(&message.html);
    for (what, body) in [("text", &message.text), ("html", &html_as_read)] {
        // The Chinese version of the script, with the new variables.
        assert!(
            body.contains(&format!(
                "我们已注意到关于 Acme 的反馈（{mentions} 条）。语言：zh"
            )),
            "{what}: {body}"
        );
        assert!(body.contains("- 话题：退款（12）"), "{what}: {body}");
        assert!(body.contains("- 来源：weibo 触达 12345"), "{what}: {body}");
        assert!(body.contains("- 帖子触达：54321"), "{what}: {body}");
        assert!(!body.contains("We are aware of reports"), "{what}: {body}");
        // The chrome around it.
        for chinese in [
            "危机警报：Acme — neg",
            "规则“neg”于 2024-05-08T00:00:00Z 对 Acme 触发。须在 24小时 内作出回应。",
            "2024-05-09T00:00:00Z 前回应",
            "还剩 24小时",
            "触发原因",
            "窗口内提及数",
            "舆情概况",
            "退款（12 条） · broken（1 条）",
            "weibo（30 条，触达 12,345） · forum（5 条）",
            "证据（",
            "条帖子，负面优先，按触达排序）",
            "触达 54,321",
            "回应口径（holding）",
            "如何确认",
            "或打开 ",
            "事件 #1 · 首次通知 · 开启于 2024-05-08T00:00:00Z",
        ] {
            assert!(body.contains(chinese), "{what} lacks {chinese:?}: {body}");
        }
        for english in [
            "Respond by",
            "What fired",
            "Evidence",
            "Response script",
            "How to acknowledge",
            "Crisis alert",
            " reach ",
        ] {
            assert!(
                !body.to_lowercase().contains(&english.to_lowercase()),
                "{what} still has {english:?}: {body}"
            );
        }
        assert!(
            !body.contains("，触达 0") && !body.contains("· 触达 0 ·"),
            "{what}: reach 0 is not shown: {body}"
        );
    }
    assert!(
        message
            .text
            .contains("请在 2024-05-09T00:00:00Z 前回应（还剩 24小时）。")
    );
    assert!(message.text.contains("\n舆情概况\n"), "{}", message.text);
    assert!(
        message
            .text
            .contains("\n  或打开 https://vigil.example.com/#/incidents/1\n")
    );
    assert!(message.html.contains("<html lang=\"zh-CN\">"));
    assert!(
        html_as_read.contains("<strong>请在 2024-05-09T00:00:00Z 前回应</strong>（还剩 24小时）。")
    );
    assert_valid_mail(&message);
}

#[test]
fn chinese_follow_ups_keep_the_first_subject_and_speak_chinese() {
    let engine = AlertEngine::new(&config_with_language(Some("zh-cn"))).unwrap();
    let incident = incident_with_context(&engine, sample_context());
    // zh-cn has no script of its own: the one without a language, in Chinese chrome.
    let first = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();
    assert_eq!(first.subject, "[CRISIS] Acme: neg (incident 1)");
    assert!(first.text.contains("We are aware of reports about Acme"));
    assert!(first.text.contains("触发原因"), "{}", first.text);

    let reminder = engine
        .render(&incident, NotificationKind::Reminder, 1, t0() + hours(2))
        .unwrap();
    assert_eq!(reminder.subject, format!("Re: {}", first.subject));
    assert!(
        reminder.text.contains("第 1 次提醒：事件 #1 尚未确认"),
        "{}",
        reminder.text
    );
    assert!(
        reminder.text.contains("已开启 2小时，仍无人确认。"),
        "{}",
        reminder.text
    );
    assert!(reminder.text.contains("还剩 22小时"), "{}", reminder.text);
    let summary = engine
        .render(&incident, NotificationKind::Summary, 0, t0() + hours(25))
        .unwrap();
    assert_eq!(summary.subject, format!("Re: {}", first.subject));
    assert!(
        summary.text.contains("响应时限已到：事件 #1 未确认"),
        "{}",
        summary.text
    );
    assert!(summary.text.contains("已逾期 1小时"), "{}", summary.text);
    assert!(
        summary.text.contains("现已标记为逾期。"),
        "{}",
        summary.text
    );
    assert_valid_mail(&summary);

    // Without a script the default subject is in Chinese too, and stays put.
    let mut cfg = config_with_language(Some("zh"));
    cfg.alerts.rules[0].script = None;
    let engine = AlertEngine::new(&cfg).unwrap();
    let first = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();
    assert_eq!(first.subject, "[危机] Acme: neg");
    let escalation = engine
        .render(&incident, NotificationKind::Escalation, 0, t0() + hours(4))
        .unwrap();
    assert_eq!(escalation.subject, "Re: [危机] Acme: neg");
    assert!(escalation.text.contains("升级通知：事件 #1 仍未确认"));
    assert!(!escalation.text.contains("回应口径"));
}

#[test]
fn a_brand_without_language_gets_the_english_script_and_chrome() {
    for language in [None, Some("en")] {
        let engine = AlertEngine::new(&config_with_language(language)).unwrap();
        let incident = incident_with_context(&engine, sample_context());
        let message = engine
            .render(&incident, NotificationKind::First, 0, t0())
            .unwrap();
        assert_eq!(
            message.subject, "[CRISIS] Acme: neg (incident 1)",
            "{language:?}"
        );
        assert!(
            message.text.contains("We are aware of reports about Acme"),
            "{language:?}: {}",
            message.text
        );
        assert!(!message.text.contains("我们已注意到"), "{language:?}");
        assert!(message.text.contains("WHAT FIRED"));
        assert!(
            message
                .text
                .contains("Respond by 2024-05-09T00:00:00Z (in 24h).")
        );
        assert!(message.html.contains("<html lang=\"en\">"));
        assert!(!message.html.contains("触发原因"));
        assert_valid_mail(&message);
    }
}

#[test]
fn context_section_lists_terms_sources_and_authors_with_numbers() {
    let engine = AlertEngine::new(&config_with_language(None)).unwrap();
    let incident = incident_with_context(&engine, sample_context());
    let message = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();
    let text = &message.text;
    assert!(
        text.contains(
            "\nWHAT IS THIS ABOUT\n\
             \x20 Top terms:          退款 (12 posts) · broken (1 post)\n\
             \x20 Top sources:        weibo (30 posts, reach 12,345) · forum (5 posts)\n\
             \x20 Top authors:        <script>evil()</script> (3 posts, reach 1,000)\n"
        ),
        "{text}"
    );
    // Before the evidence, after what fired.
    let about = text.find("WHAT IS THIS ABOUT").unwrap();
    assert!(text.find("WHAT FIRED").unwrap() < about);
    assert!(about < text.find("EVIDENCE (").unwrap());
    // Evidence shows a positive reach only.
    assert!(text.contains(" · reach 54,321 · "), "{text}");
    assert!(!text.contains("reach 0"), "{text}");

    let html = unescape(&message.html);
    assert!(html.contains(">What is this about</h3>"), "{html}");
    assert!(html.contains(">Top sources</th>"), "{html}");
    assert!(
        html.contains("weibo (30 posts, reach 12,345) · forum (5 posts)"),
        "{html}"
    );
    assert!(html.contains(" · reach 54,321 · "), "{html}");
}

#[test]
fn context_section_is_left_out_when_empty() {
    for language in [None, Some("zh")] {
        let engine = AlertEngine::new(&config_with_language(language)).unwrap();
        let incident = incident_with_context(&engine, TriggerContext::default());
        let message = engine
            .render(&incident, NotificationKind::First, 0, t0())
            .unwrap();
        for body in [&message.text, &message.html] {
            for heading in ["WHAT IS THIS ABOUT", "What is this about", "舆情概况"] {
                assert!(!body.contains(heading), "{language:?}: {body}");
            }
        }
    }
    // Only the rows that have entries.
    let engine = AlertEngine::new(&config_with_language(None)).unwrap();
    let terms_only = TriggerContext {
        top_terms: sample_context().top_terms,
        ..TriggerContext::default()
    };
    let incident = incident_with_context(&engine, terms_only);
    let message = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();
    assert!(message.text.contains("Top terms:"), "{}", message.text);
    assert!(!message.text.contains("Top sources"), "{}", message.text);
    assert!(!message.html.contains("Top authors"), "{}", message.html);
}

#[test]
fn html_escapes_hostile_authors_in_both_languages() {
    for language in [None, Some("zh")] {
        let engine = AlertEngine::new(&config_with_language(language)).unwrap();
        let mut incident = incident_with_context(&engine, sample_context());
        incident.evidence[1].author = Some("<script>steal()</script>".into());
        let message = engine
            .render(&incident, NotificationKind::First, 0, t0())
            .unwrap();
        assert!(
            !message.html.contains("<script"),
            "{language:?}: {}",
            message.html
        );
        assert!(
            message.html.contains("&lt;script&gt;evil()"),
            "{}",
            message.html
        );
        assert!(
            message.html.contains("&lt;script&gt;steal()"),
            "{}",
            message.html
        );
        assert!(
            message.html.contains("&lt;script&gt;alert("),
            "{}",
            message.html
        );
        // Plain text stays as written.
        assert!(message.text.contains("<script>steal()</script>"));
    }
}

#[test]
fn formatted_numbers_are_there_for_scripts_and_the_script_text_alone() {
    let mut cfg = config(vec![rule("neg", RuleKind::NegativeShare)]);
    cfg.scripts[0].body =
        "share {{ value_text }} over {{ threshold_text }}, peak {{ peak_text }}, raw {{ value }}"
            .into();
    let engine = AlertEngine::new(&cfg).unwrap();
    let (_, mut incident) = incident_with_hostile_post("neg", &engine);
    incident.trigger.value = 2.0 / 7.0;
    incident.trigger.threshold = 0.25;
    incident.peak_value = 0.5;
    let message = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();
    let (name, script) = message.script.expect("the rule names a script");
    assert_eq!(name, cfg.scripts[0].name);
    assert_eq!(
        script.trim(),
        format!("share 28.6% over 25.0%, peak 50.0%, raw {}", 2.0 / 7.0)
    );
    assert!(message.text.contains("share 28.6% over 25.0%"));
}
