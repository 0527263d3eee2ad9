//! Notification content: the response-script templates (minijinja), the plain-text body
//! and the HTML body (a built-in minijinja template with HTML auto-escaping, so post
//! text can never inject markup), and the deterministic Message-IDs that thread them.
//!
//! A notification is written in its brand's `language`: the response script is the
//! version of the rule's script in that language (else the one without a language),
//! and the fixed text around it (headings, labels, deadline phrases) is Simplified
//! Chinese for Chinese brands and English otherwise ([`MailLanguage`]).

use chrono::{DateTime, TimeDelta, Utc};
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;
use vigil_config::{ScriptConfig, script_for};
use vigil_core::text::thousands;
use vigil_core::time::format_duration;
use vigil_core::{
    Contributor, EvidencePost, Incident, IncidentStatus, Label, NotificationKind, Severity,
    TermCount, Trigger,
};

use crate::error::{AlertsError, Result};
use crate::rules::rfc3339;

/// One notification, ready for the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub recipients: Vec<String>,
    /// The response script's name and its rendered text alone (also inside `text`),
    /// when the rule names a script.
    pub script: Option<(String, String)>,
}

/// The Message-ID of notification `(incident, kind, seq)`. Derived only from the key
/// and the opening time, so a retry or a re-plan after a crash carries the same id
/// (and a recreated database reusing an incident id does not collide).
pub fn message_id(
    incident_id: i64,
    opened_at: DateTime<Utc>,
    kind: NotificationKind,
    seq: u32,
) -> String {
    format!(
        "<vigil.{incident_id}.{}.{}.{seq}@vigil.invalid>",
        opened_at.timestamp(),
        kind.as_str()
    )
}

/// The variables a response script's subject and body templates see. Documented in the
/// README ("Scripts"); keep the two in step.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TemplateVars {
    pub incident_id: i64,
    pub rule: String,
    pub brand: String,
    /// The brand's `language` tag, or "".
    pub language: String,
    pub severity: &'static str,
    pub status: &'static str,
    pub metric: String,
    pub value: f64,
    pub peak_value: f64,
    pub threshold: f64,
    pub baseline: Option<f64>,
    /// `value`, `threshold`, `baseline` and `peak_value` as people read them (shares
    /// as percentages, counts without long decimals), as the mail's numbers show them.
    pub value_text: String,
    pub threshold_text: String,
    pub baseline_text: String,
    pub peak_text: String,
    pub window: String,
    pub baseline_window: Option<String>,
    pub mentions: u64,
    pub explanation: String,
    pub opened_at: String,
    pub deadline: String,
    /// In the brand's language: `in 23h30m` / `还剩 23小时30分钟`.
    pub deadline_in: String,
    pub evidence: Vec<EvidenceVar>,
    pub top_terms: Vec<TermCount>,
    pub top_sources: Vec<Contributor>,
    pub top_authors: Vec<Contributor>,
    pub ack_command: String,
    pub dashboard_url: Option<String>,
    pub incident_url: Option<String>,
    pub kind: &'static str,
    pub seq: u32,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EvidenceVar {
    pub id: String,
    pub url: Option<String>,
    /// `url` when it is http(s): the only kind of link put in an `href`.
    pub link: Option<String>,
    pub source: String,
    pub author: Option<String>,
    pub published_at: String,
    pub text: String,
    pub label: Option<&'static str>,
    pub score: Option<f32>,
    /// `negative -0.83`, `neutral`, `unscored`: label and score as shown in mails.
    pub sentiment: String,
    /// The post's reach when its source reports engagement.
    pub reach: Option<i64>,
}

/// How the metric moved between the opening and the summary (summary only).
#[derive(Debug, Clone, Default)]
pub(crate) struct Trend {
    pub posts_since_opening: u64,
    pub negative_since_opening: u64,
    pub value_at_opening: Option<f64>,
    pub value_now: Option<f64>,
}

/// The language of a notification's fixed text. Chinese for brands whose `language`
/// is Chinese (`zh`, `zh-cn`, `zh-tw`, …: the mail chrome is Simplified Chinese),
/// English for every other brand and for brands without a language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MailLanguage {
    English,
    Chinese,
}

impl MailLanguage {
    pub fn of(language: Option<&str>) -> MailLanguage {
        let primary = language.and_then(|tag| tag.split('-').next());
        match primary {
            Some(primary) if primary.eq_ignore_ascii_case("zh") => MailLanguage::Chinese,
            _ => MailLanguage::English,
        }
    }

    fn words(self) -> &'static Words {
        match self {
            MailLanguage::English => &ENGLISH,
            MailLanguage::Chinese => &CHINESE,
        }
    }
}

/// The fixed strings of the layouts in one language. Sentences with numbers in them
/// are built by the functions below, both languages side by side.
#[derive(Debug, Serialize)]
struct Words {
    /// The HTML `lang` attribute.
    html_lang: &'static str,
    /// Around a parenthetical: ` (` `)` in English, full-width in Chinese.
    open_paren: &'static str,
    close_paren: &'static str,
    full_stop: &'static str,
    /// After a label in the text body's tables.
    colon: &'static str,
    /// `Respond by {deadline}{respond_by_end}`.
    respond_by: &'static str,
    respond_by_end: &'static str,
    what_fired: &'static str,
    what_about: &'static str,
    top_terms: &'static str,
    top_sources: &'static str,
    top_authors: &'static str,
    trend: &'static str,
    evidence: &'static str,
    no_posts: &'static str,
    response_script: &'static str,
    how_to_acknowledge: &'static str,
    /// `Run <code>vigil incidents ack …</code> or open <a>…</a>.`
    run: &'static str,
    or_open: &'static str,
    /// The footer: `Vigil · incident #7 · first · opened …`.
    incident: &'static str,
    opened: &'static str,
    reach: &'static str,
    metric: &'static str,
    value: &'static str,
    peak_while_open: &'static str,
    threshold: &'static str,
    baseline: &'static str,
    window: &'static str,
    mentions_in_window: &'static str,
}

const ENGLISH: Words = Words {
    html_lang: "en",
    open_paren: " (",
    close_paren: ")",
    full_stop: ".",
    colon: ":",
    respond_by: "Respond by ",
    respond_by_end: "",
    what_fired: "What fired",
    what_about: "What is this about",
    top_terms: "Top terms",
    top_sources: "Top sources",
    top_authors: "Top authors",
    trend: "Trend since opening",
    evidence: "Evidence",
    no_posts: "No posts in the window.",
    response_script: "Response script",
    how_to_acknowledge: "How to acknowledge",
    run: "Run",
    or_open: "or open",
    incident: "incident",
    opened: "opened",
    reach: "reach",
    metric: "Metric",
    value: "Value",
    peak_while_open: "Peak while open",
    threshold: "Threshold",
    baseline: "Baseline",
    window: "Window",
    mentions_in_window: "Mentions in window",
};

const CHINESE: Words = Words {
    html_lang: "zh-CN",
    open_paren: "（",
    close_paren: "）",
    full_stop: "。",
    colon: "：",
    respond_by: "请在 ",
    respond_by_end: " 前回应",
    what_fired: "触发原因",
    what_about: "舆情概况",
    top_terms: "高频词",
    top_sources: "主要来源",
    top_authors: "主要作者",
    trend: "开启以来的走势",
    evidence: "证据",
    no_posts: "窗口内没有帖子。",
    response_script: "回应口径",
    how_to_acknowledge: "如何确认",
    run: "运行",
    or_open: "或打开",
    incident: "事件",
    opened: "开启于",
    reach: "触达",
    metric: "指标",
    value: "数值",
    peak_while_open: "开启以来峰值",
    threshold: "阈值",
    baseline: "基线",
    window: "时间窗口",
    mentions_in_window: "窗口内提及数",
};

/// Everything the built-in layouts show besides the script variables.
#[derive(Debug, Serialize)]
struct View<'a> {
    #[serde(flatten)]
    vars: &'a TemplateVars,
    t: &'static Words,
    subject: &'a str,
    heading: String,
    intro: Vec<String>,
    numbers: Vec<(&'static str, String)>,
    /// "What is this about": label and entries (`refund (12 posts)`), empty rows left out.
    context: Vec<(&'static str, Vec<String>)>,
    trend: Option<Vec<String>>,
    evidence_heading: String,
    posts: Vec<PostView<'a>>,
    script_name: Option<&'a str>,
    script_text: Option<String>,
    kind_name: &'static str,
}

/// An evidence post as the layouts show it, in the mail's language.
#[derive(Debug, Serialize)]
struct PostView<'a> {
    sentiment: String,
    source: &'a str,
    author: Option<&'a str>,
    /// `reach 12,345`, when the post has a positive reach.
    reach: Option<String>,
    published_at: &'a str,
    text: &'a str,
    url: Option<&'a str>,
    link: Option<&'a str>,
}

pub(crate) struct RenderRequest<'a> {
    pub incident: &'a Incident,
    pub kind: NotificationKind,
    pub seq: u32,
    pub now: DateTime<Utc>,
    pub script: Option<&'a str>,
    /// The brand's `language`: picks the script version and the mail's language.
    pub language: Option<&'a str>,
    /// The first notification's subject as stored; recomputed when absent.
    pub first_subject: Option<&'a str>,
    pub trend: Option<Trend>,
    pub dashboard_url: Option<&'a str>,
    pub remind_every: TimeDelta,
    pub escalate_after: TimeDelta,
    pub response_window: TimeDelta,
    pub recipients: Vec<String>,
}

const HTML_TEMPLATE_NAME: &str = "vigil/notification.html";
const HTML_TEMPLATE: &str = include_str!("notification.html");

/// The compiled templates: every version of every script (subject and body), plus the
/// HTML layout.
pub(crate) struct Templates {
    env: Environment<'static>,
    /// Every script version in config order, for [`script_for`]; the compiled
    /// templates are in `env` under [`template_name`].
    scripts: Vec<ScriptConfig>,
}

impl Templates {
    /// Compiles every script version, then renders each once against a sample incident
    /// with strict undefined checks, so a misspelt variable is a start-up error naming
    /// the script (and its language) instead of a blank in a 3 a.m. crisis mail.
    pub fn new(scripts: &[ScriptConfig]) -> Result<Templates> {
        let mut env = Environment::new();
        // Lenient at runtime: a crisis mail must go out even if a script misbehaves.
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.add_template_owned(HTML_TEMPLATE_NAME, HTML_TEMPLATE)
            .map_err(|source| AlertsError::Render {
                incident_id: 0,
                kind: "layout",
                source,
            })?;
        for script in scripts {
            for (part, source_text) in [("subject", &script.subject), ("body", &script.body)] {
                env.add_template_owned(template_name(script, part), source_text.clone())
                    .map_err(|source| AlertsError::Template {
                        script: script_label(script),
                        part,
                        source,
                    })?;
            }
        }
        let templates = Templates {
            env,
            scripts: scripts.to_vec(),
        };
        templates.check_strict()?;
        Ok(templates)
    }

    fn check_strict(&self) -> Result<()> {
        let mut strict = self.env.clone();
        strict.set_undefined_behavior(UndefinedBehavior::Strict);
        for script in &self.scripts {
            let mut sample = sample_vars();
            sample.language = script.language.clone().unwrap_or_default();
            let context = Value::from(Serde(&sample));
            for part in ["subject", "body"] {
                strict
                    .get_template(&template_name(script, part))
                    .and_then(|template| template.render(&context))
                    .map_err(|source| AlertsError::Template {
                        script: script_label(script),
                        part,
                        source,
                    })?;
            }
        }
        Ok(())
    }

    /// Whether some version of script `name` exists, in any language.
    pub fn has_script(&self, name: &str) -> bool {
        self.scripts.iter().any(|script| script.name == name)
    }

    /// The version of script `name` for a brand in `language`.
    fn version(&self, name: &str, language: Option<&str>) -> Option<&ScriptConfig> {
        script_for(&self.scripts, name, language)
    }

    fn render_script(
        &self,
        script: &ScriptConfig,
        part: &str,
        vars: &TemplateVars,
    ) -> Result<String, minijinja::Error> {
        self.env
            .get_template(&template_name(script, part))?
            .render(Value::from(Serde(vars)))
    }

    /// The subject of the first notification: the subject template of the script's
    /// version for `language`, or `[severity] brand: rule`.
    pub fn first_subject(
        &self,
        script: Option<&str>,
        language: Option<&str>,
        vars: &TemplateVars,
    ) -> String {
        let default = || default_subject(MailLanguage::of(language), vars);
        let Some(version) = script.and_then(|name| self.version(name, language)) else {
            return default();
        };
        match self.render_script(version, "subject", vars) {
            Ok(subject) => {
                let line = one_line(&subject);
                if line.is_empty() { default() } else { line }
            }
            Err(error) => {
                tracing::error!(%error, script = %script_label(version), incident = vars.incident_id, "subject template failed; using the default subject");
                default()
            }
        }
    }

    pub fn render(&self, request: RenderRequest<'_>) -> Result<RenderedMessage> {
        let language = MailLanguage::of(request.language);
        let words = language.words();
        let vars = template_vars(&request, language);
        let incident = request.incident;
        let first_subject = match request.first_subject {
            Some(subject) => subject.to_string(),
            None => self.first_subject(
                request.script,
                request.language,
                &TemplateVars {
                    kind: NotificationKind::First.as_str(),
                    seq: 0,
                    ..vars.clone()
                },
            ),
        };
        // "Re: " in every language: mail clients thread on it, and the subject of a
        // follow-up is the first one's, word for word, so the thread holds together.
        let subject = match request.kind {
            NotificationKind::First => first_subject,
            _ => format!("Re: {first_subject}"),
        };
        let version = request
            .script
            .and_then(|name| self.version(name, request.language));
        let script_text = version.map(|script| match self.render_script(script, "body", &vars) {
            Ok(text) => text,
            Err(error) => {
                tracing::error!(%error, script = %script_label(script), incident = incident.id, "response script failed to render");
                script_failed(language, &script.name, &error)
            }
        });
        let script = version
            .map(|script| script.name.clone())
            .zip(script_text.clone());
        let view = View {
            vars: &vars,
            t: words,
            subject: &subject,
            heading: heading(&request, language),
            intro: intro(&request, &vars, language),
            numbers: numbers(&incident.trigger, incident.peak_value, language),
            context: context_rows(&incident.trigger, language),
            trend: (request.kind == NotificationKind::Summary)
                .then(|| trend_lines(incident, request.trend.as_ref(), language)),
            evidence_heading: evidence_heading(language, vars.evidence.len()),
            posts: incident
                .evidence
                .iter()
                .zip(&vars.evidence)
                .map(|(post, var)| post_view(post, var, language))
                .collect(),
            script_name: version.map(|script| script.name.as_str()),
            script_text,
            kind_name: kind_name(request.kind, language),
        };
        let text = render_text(&view);
        let html = self
            .env
            .get_template(HTML_TEMPLATE_NAME)
            .and_then(|template| template.render(Value::from(Serde(&view))))
            .map_err(|source| AlertsError::Render {
                incident_id: incident.id,
                kind: request.kind.as_str(),
                source,
            })?;
        Ok(RenderedMessage {
            subject,
            text,
            html,
            recipients: request.recipients,
            script,
        })
    }
}

/// Unique per version: versions of one script differ in language, which config
/// loading checks.
fn template_name(script: &ScriptConfig, part: &str) -> String {
    // The suffix is not html/xml, so script output is never auto-escaped: it is text,
    // escaped by the HTML layout where it is embedded.
    match &script.language {
        None => format!("{}.{part}", script.name),
        Some(language) => format!("{}@{language}.{part}", script.name),
    }
}

/// The script as config errors name it: `holding`, `holding (language zh)`.
fn script_label(script: &ScriptConfig) -> String {
    match &script.language {
        None => script.name.clone(),
        Some(language) => format!("{} (language {language})", script.name),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn dashboard_link(dashboard_url: Option<&str>, incident_id: i64) -> Option<String> {
    dashboard_url.map(|base| format!("{}/#/incidents/{incident_id}", base.trim_end_matches('/')))
}

fn template_vars(request: &RenderRequest<'_>, language: MailLanguage) -> TemplateVars {
    let incident = request.incident;
    let trigger = &incident.trigger;
    TemplateVars {
        incident_id: incident.id,
        rule: incident.rule.clone(),
        brand: incident.brand.clone(),
        language: request.language.unwrap_or_default().to_string(),
        severity: incident.severity.as_str(),
        status: incident.status.as_str(),
        metric: trigger.metric.clone(),
        value: trigger.value,
        peak_value: incident.peak_value,
        threshold: trigger.threshold,
        baseline: trigger.baseline,
        value_text: format_metric(&trigger.metric, trigger.value),
        threshold_text: format_metric(&trigger.metric, trigger.threshold),
        baseline_text: trigger
            .baseline
            .map(|baseline| format_metric(&trigger.metric, baseline))
            .unwrap_or_default(),
        peak_text: format_metric(&trigger.metric, incident.peak_value),
        window: format_duration(std::time::Duration::from_secs(trigger.window_secs)),
        baseline_window: trigger
            .baseline_secs
            .map(|s| format_duration(std::time::Duration::from_secs(s))),
        mentions: trigger.mentions,
        explanation: trigger.explanation.clone(),
        opened_at: rfc3339(incident.opened_at),
        deadline: rfc3339(incident.response_deadline),
        deadline_in: relative(incident.response_deadline, request.now, language),
        evidence: incident.evidence.iter().map(evidence_var).collect(),
        top_terms: trigger.context.top_terms.clone(),
        top_sources: trigger.context.top_sources.clone(),
        top_authors: trigger.context.top_authors.clone(),
        ack_command: format!("vigil incidents ack {} --by <your name>", incident.id),
        dashboard_url: request.dashboard_url.map(str::to_string),
        incident_url: dashboard_link(request.dashboard_url, incident.id),
        kind: request.kind.as_str(),
        seq: request.seq,
    }
}

fn evidence_var(post: &EvidencePost) -> EvidenceVar {
    let link = post
        .url
        .as_ref()
        .filter(|u| {
            let lower = u.to_ascii_lowercase();
            lower.starts_with("https://") || lower.starts_with("http://")
        })
        .cloned();
    EvidenceVar {
        id: post.id.clone(),
        url: post.url.clone(),
        link,
        source: post.source.clone(),
        author: post.author.clone(),
        published_at: rfc3339(post.published_at),
        text: post.text.clone(),
        label: post.label.map(Label::as_str),
        score: post.score,
        sentiment: sentiment_text(post.label, post.score, MailLanguage::English),
        reach: post.reach,
    }
}

/// `negative -0.83` / `负面 -0.83`, `neutral`, `unscored`.
fn sentiment_text(label: Option<Label>, score: Option<f32>, language: MailLanguage) -> String {
    let label_text = label.map(|label| match language {
        MailLanguage::English => label.as_str(),
        MailLanguage::Chinese => match label {
            Label::Negative => "负面",
            Label::Neutral => "中性",
            Label::Positive => "正面",
        },
    });
    match (label_text, score) {
        (Some(label), Some(score)) => format!("{label} {score:+.2}"),
        (Some(label), None) => label.to_string(),
        (None, Some(score)) => format!("{score:+.2}"),
        (None, None) => match language {
            MailLanguage::English => "unscored".to_string(),
            MailLanguage::Chinese => "未评分".to_string(),
        },
    }
}

fn post_view<'a>(
    post: &EvidencePost,
    var: &'a EvidenceVar,
    language: MailLanguage,
) -> PostView<'a> {
    let words = language.words();
    PostView {
        sentiment: sentiment_text(post.label, post.score, language),
        source: &var.source,
        author: var.author.as_deref(),
        reach: post
            .reach
            .filter(|&reach| reach > 0)
            .map(|reach| format!("{} {}", words.reach, thousands(reach))),
        published_at: &var.published_at,
        text: &var.text,
        url: var.url.as_deref(),
        link: var.link.as_deref(),
    }
}

/// `12 posts` / `12 条`.
fn post_count(posts: u64, language: MailLanguage) -> String {
    match language {
        MailLanguage::English if posts == 1 => "1 post".to_string(),
        MailLanguage::English => format!("{posts} posts"),
        MailLanguage::Chinese => format!("{posts} 条"),
    }
}

/// The "what is this about" rows: `refund (12 posts)`, `weibo (30 posts, reach 12,345)`.
fn context_rows(trigger: &Trigger, language: MailLanguage) -> Vec<(&'static str, Vec<String>)> {
    let words = language.words();
    let context = &trigger.context;
    let terms = context
        .top_terms
        .iter()
        .map(|term| {
            format!(
                "{}{}{}{}",
                term.term,
                words.open_paren,
                post_count(term.posts, language),
                words.close_paren
            )
        })
        .collect();
    let contributor = |who: &Contributor| {
        let reach = if who.reach > 0 {
            let separator = match language {
                MailLanguage::English => ", ",
                MailLanguage::Chinese => "，",
            };
            format!("{separator}{} {}", words.reach, thousands(who.reach))
        } else {
            String::new()
        };
        format!(
            "{}{}{}{reach}{}",
            who.name,
            words.open_paren,
            post_count(who.posts, language),
            words.close_paren
        )
    };
    [
        (words.top_terms, terms),
        (
            words.top_sources,
            context.top_sources.iter().map(contributor).collect(),
        ),
        (
            words.top_authors,
            context.top_authors.iter().map(contributor).collect(),
        ),
    ]
    .into_iter()
    .filter(|(_, entries): &(&str, Vec<String>)| !entries.is_empty())
    .collect()
}

/// `Evidence (3 posts, negative first, by reach)` / `证据（3 条帖子，负面优先，按触达排序）`.
fn evidence_heading(language: MailLanguage, posts: usize) -> String {
    match language {
        MailLanguage::English => format!(
            "Evidence ({posts} post{}, negative first, by reach)",
            if posts == 1 { "" } else { "s" }
        ),
        MailLanguage::Chinese => format!("证据（{posts} 条帖子，负面优先，按触达排序）"),
    }
}

/// "in 23h59m" / "overdue by 2h", to the minute.
fn relative(deadline: DateTime<Utc>, now: DateTime<Utc>, language: MailLanguage) -> String {
    let minutes = (deadline - now).num_minutes();
    let span = hours_minutes(minutes, language);
    match (language, minutes.signum()) {
        (MailLanguage::English, 1) => format!("in {span}"),
        (MailLanguage::English, 0) => "now".to_string(),
        (MailLanguage::English, _) => format!("overdue by {span}"),
        (MailLanguage::Chinese, 1) => format!("还剩 {span}"),
        (MailLanguage::Chinese, 0) => "已到期".to_string(),
        (MailLanguage::Chinese, _) => format!("已逾期 {span}"),
    }
}

/// Response clocks read in hours ("24h", "4h30m" / "4小时30分钟"), never days.
fn hours_minutes(minutes: i64, language: MailLanguage) -> String {
    let minutes = minutes.unsigned_abs();
    let (hours, minutes) = (minutes / 60, minutes % 60);
    match language {
        MailLanguage::English => match (hours, minutes) {
            (0, m) => format!("{m}m"),
            (h, 0) => format!("{h}h"),
            (h, m) => format!("{h}h{m}m"),
        },
        MailLanguage::Chinese => match (hours, minutes) {
            (0, m) => format!("{m}分钟"),
            (h, 0) => format!("{h}小时"),
            (h, m) => format!("{h}小时{m}分钟"),
        },
    }
}

fn span(delta: TimeDelta, language: MailLanguage) -> String {
    hours_minutes(delta.num_minutes(), language)
}

fn default_subject(language: MailLanguage, vars: &TemplateVars) -> String {
    let severity = match language {
        MailLanguage::English => vars.severity,
        MailLanguage::Chinese => match vars.severity {
            "info" => "提示",
            "warning" => "警告",
            "crisis" => "危机",
            other => other,
        },
    };
    format!("[{severity}] {}: {}", vars.brand, vars.rule)
}

fn script_failed(language: MailLanguage, name: &str, error: &minijinja::Error) -> String {
    match language {
        MailLanguage::English => format!(
            "(The response script {name:?} failed to render: {error}. Fix the template; the alert itself is complete.)"
        ),
        MailLanguage::Chinese => {
            format!("（回应口径“{name}”渲染失败：{error}。请修正模板；本警报的其余内容完整。）")
        }
    }
}

fn kind_name(kind: NotificationKind, language: MailLanguage) -> &'static str {
    match language {
        MailLanguage::English => kind.as_str(),
        MailLanguage::Chinese => match kind {
            NotificationKind::First => "首次通知",
            NotificationKind::Reminder => "提醒",
            NotificationKind::Escalation => "升级",
            NotificationKind::Summary => "总结",
        },
    }
}

fn heading(request: &RenderRequest<'_>, language: MailLanguage) -> String {
    let incident = request.incident;
    let id = incident.id;
    let severity = severity_title(incident.severity, language);
    let status = status_text(incident.status, language);
    match (language, request.kind) {
        (MailLanguage::English, NotificationKind::First) => {
            format!("{severity} alert: {} — {}", incident.brand, incident.rule)
        }
        (MailLanguage::English, NotificationKind::Reminder) => format!(
            "Reminder {}: incident #{id} is not acknowledged yet",
            request.seq
        ),
        (MailLanguage::English, NotificationKind::Escalation) => {
            format!("Escalation: incident #{id} has not been acknowledged")
        }
        (MailLanguage::English, NotificationKind::Summary) => {
            format!("Response window ended: incident #{id} is {status}")
        }
        (MailLanguage::Chinese, NotificationKind::First) => {
            format!("{severity}警报：{} — {}", incident.brand, incident.rule)
        }
        (MailLanguage::Chinese, NotificationKind::Reminder) => {
            format!("第 {} 次提醒：事件 #{id} 尚未确认", request.seq)
        }
        (MailLanguage::Chinese, NotificationKind::Escalation) => {
            format!("升级通知：事件 #{id} 仍未确认")
        }
        (MailLanguage::Chinese, NotificationKind::Summary) => {
            format!("响应时限已到：事件 #{id} {status}")
        }
    }
}

fn severity_title(severity: Severity, language: MailLanguage) -> &'static str {
    match (language, severity) {
        (MailLanguage::English, Severity::Info) => "Info",
        (MailLanguage::English, Severity::Warning) => "Warning",
        (MailLanguage::English, Severity::Crisis) => "Crisis",
        (MailLanguage::Chinese, Severity::Info) => "提示",
        (MailLanguage::Chinese, Severity::Warning) => "警告",
        (MailLanguage::Chinese, Severity::Crisis) => "危机",
    }
}

fn status_text(status: IncidentStatus, language: MailLanguage) -> &'static str {
    match (language, status) {
        (MailLanguage::English, IncidentStatus::Open) => "open (not acknowledged)",
        (MailLanguage::English, IncidentStatus::Acknowledged) => "acknowledged, not resolved",
        (MailLanguage::English, IncidentStatus::Resolved) => "resolved",
        (MailLanguage::Chinese, IncidentStatus::Open) => "未确认",
        (MailLanguage::Chinese, IncidentStatus::Acknowledged) => "已确认，尚未解决",
        (MailLanguage::Chinese, IncidentStatus::Resolved) => "已解决",
    }
}

fn intro(request: &RenderRequest<'_>, vars: &TemplateVars, language: MailLanguage) -> Vec<String> {
    let incident = request.incident;
    let (id, brand, rule) = (incident.id, &incident.brand, &incident.rule);
    let english = language == MailLanguage::English;
    let line = match request.kind {
        NotificationKind::First => {
            let within = span(request.response_window, language);
            let opened = &vars.opened_at;
            if english {
                format!(
                    "Rule {rule:?} fired for {brand} at {opened}. A response is due within {within}."
                )
            } else {
                format!("规则“{rule}”于 {opened} 对 {brand} 触发。须在 {within} 内作出回应。")
            }
        }
        NotificationKind::Reminder => {
            let elapsed = span(request.remind_every * request.seq as i32, language);
            if english {
                format!(
                    "Incident #{id} ({brand} / {rule}) opened {elapsed} ago and nobody has acknowledged it yet."
                )
            } else {
                format!("事件 #{id}（{brand} / {rule}）已开启 {elapsed}，仍无人确认。")
            }
        }
        NotificationKind::Escalation => {
            let after = span(request.escalate_after, language);
            if english {
                format!(
                    "Incident #{id} ({brand} / {rule}) has not been acknowledged {after} after it opened. You are receiving this as an escalation contact."
                )
            } else {
                format!(
                    "事件 #{id}（{brand} / {rule}）开启 {after} 后仍未确认。您是升级联系人，因此收到此通知。"
                )
            }
        }
        NotificationKind::Summary => {
            let window = span(request.response_window, language);
            let deadline = &vars.deadline;
            let status = status_text(incident.status, language);
            let mut line = if english {
                format!(
                    "The {window} response window of incident #{id} ({brand} / {rule}) ended at {deadline}. Status: {status}."
                )
            } else {
                format!(
                    "事件 #{id}（{brand} / {rule}）的 {window} 响应时限已于 {deadline} 结束。状态：{status}。"
                )
            };
            if let (Some(by), Some(at)) = (&incident.acknowledged_by, incident.acknowledged_at) {
                let at = rfc3339(at);
                line.push_str(&if english {
                    format!(" Acknowledged by {by} at {at}.")
                } else {
                    format!("已由 {by} 于 {at} 确认。")
                });
            }
            if incident.status != IncidentStatus::Resolved {
                line.push_str(if english {
                    " It is now marked overdue."
                } else {
                    "现已标记为逾期。"
                });
            }
            line
        }
    };
    vec![line]
}

/// Formats a metric value the way people read it: shares as percentages, counts as
/// whole numbers, scores signed.
pub(crate) fn format_metric(metric: &str, value: f64) -> String {
    match metric {
        "negative_share" => format!("{:.1}%", value * 100.0),
        "volume_spike" | "keyword" => {
            if (value - value.round()).abs() < 1e-9 {
                format!("{value:.0}")
            } else {
                format!("{value:.1}")
            }
        }
        "sentiment_drop" => format!("{value:+.2}"),
        _ => format!("{value}"),
    }
}

fn numbers(trigger: &Trigger, peak: f64, language: MailLanguage) -> Vec<(&'static str, String)> {
    let words = language.words();
    let metric = trigger.metric.as_str();
    let mut rows = vec![
        (words.metric, metric.to_string()),
        (words.value, format_metric(metric, trigger.value)),
        (words.peak_while_open, format_metric(metric, peak)),
        (words.threshold, format_metric(metric, trigger.threshold)),
    ];
    if let Some(baseline) = trigger.baseline {
        let over = trigger
            .baseline_secs
            .map(|s| {
                let duration = format_duration(std::time::Duration::from_secs(s));
                match language {
                    MailLanguage::English => format!(" (over {duration})"),
                    MailLanguage::Chinese => format!("（过去 {duration}）"),
                }
            })
            .unwrap_or_default();
        rows.push((
            words.baseline,
            format!("{}{over}", format_metric(metric, baseline)),
        ));
    }
    rows.push((
        words.window,
        format_duration(std::time::Duration::from_secs(trigger.window_secs)),
    ));
    rows.push((words.mentions_in_window, trigger.mentions.to_string()));
    rows
}

fn trend_lines(incident: &Incident, trend: Option<&Trend>, language: MailLanguage) -> Vec<String> {
    let metric = incident.trigger.metric.as_str();
    let brand = &incident.brand;
    let english = language == MailLanguage::English;
    let mut lines = Vec::new();
    if let Some(trend) = trend {
        let (posts, negative) = (trend.posts_since_opening, trend.negative_since_opening);
        lines.push(if english {
            format!("{posts} {brand} mentions since opening, {negative} of them negative.")
        } else {
            format!("开启以来共有 {posts} 条 {brand} 提及，其中 {negative} 条为负面。")
        });
        if let (Some(now), Some(then)) = (trend.value_now, trend.value_at_opening) {
            let (now_text, then_text) = (format_metric(metric, now), format_metric(metric, then));
            let ordering = now.partial_cmp(&then).unwrap_or(std::cmp::Ordering::Equal);
            lines.push(if english {
                let direction = match ordering {
                    std::cmp::Ordering::Less => "down from",
                    std::cmp::Ordering::Greater => "up from",
                    std::cmp::Ordering::Equal => "unchanged from",
                };
                format!("{metric} is {now_text} now, {direction} {then_text} at opening.")
            } else {
                let direction = match ordering {
                    std::cmp::Ordering::Less => "下降",
                    std::cmp::Ordering::Greater => "上升",
                    std::cmp::Ordering::Equal => "持平",
                };
                format!("{metric} 当前为 {now_text}，开启时为 {then_text}（{direction}）。")
            });
        }
    }
    let peak = format_metric(metric, incident.peak_value);
    lines.push(if english {
        format!("Peak {metric} while open: {peak}.")
    } else {
        format!("开启以来 {metric} 的峰值：{peak}。")
    });
    lines
}

/// Columns a terminal or a monospace mail font gives `text`: two for CJK characters
/// and full-width punctuation, one for the rest.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            let wide = vigil_core::text::is_cjk(c)
                || matches!(c as u32, 0x3000..=0x303F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6);
            if wide { 2 } else { 1 }
        })
        .sum()
}

/// `label:` padded to 20 columns, for the text body's tables.
fn table_label(words: &Words, label: &str) -> String {
    let cell = format!("{label}{}", words.colon);
    let padding = 20usize.saturating_sub(display_width(&cell));
    format!("{cell}{}", " ".repeat(padding))
}

fn render_text(view: &View<'_>) -> String {
    let vars = view.vars;
    let words = view.t;
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    line(&view.heading);
    line("");
    for paragraph in &view.intro {
        line(paragraph);
    }
    line(&format!(
        "{}{}{}{}{}{}{}",
        words.respond_by,
        vars.deadline,
        words.respond_by_end,
        words.open_paren,
        vars.deadline_in,
        words.close_paren,
        words.full_stop
    ));
    line("");
    line(&words.what_fired.to_uppercase());
    line(&vars.explanation);
    for (label, value) in &view.numbers {
        line(&format!("  {}{value}", table_label(words, label)));
    }
    if !view.context.is_empty() {
        line("");
        line(&words.what_about.to_uppercase());
        for (label, entries) in &view.context {
            line(&format!(
                "  {}{}",
                table_label(words, label),
                entries.join(" · ")
            ));
        }
    }
    if let Some(trend) = &view.trend {
        line("");
        line(&words.trend.to_uppercase());
        for entry in trend {
            line(&format!("  {entry}"));
        }
    }
    line("");
    // `EVIDENCE (3 posts, …)`: only the heading word in capitals.
    line(
        &view
            .evidence_heading
            .replacen(words.evidence, &words.evidence.to_uppercase(), 1),
    );
    for (i, post) in view.posts.iter().enumerate() {
        let mut details = vec![post.source];
        details.extend(post.author);
        details.extend(post.reach.as_deref());
        details.push(post.published_at);
        line(&format!(
            "{:>3}. [{}] {}",
            i + 1,
            post.sentiment,
            details.join(" · ")
        ));
        line(&format!("     {}", one_line(post.text)));
        if let Some(url) = post.url {
            line(&format!("     {url}"));
        }
    }
    if let Some(script) = &view.script_text {
        line("");
        line(&format!(
            "{}{}{}{}",
            words.response_script.to_uppercase(),
            words.open_paren,
            view.script_name.unwrap_or("script"),
            words.close_paren
        ));
        line(script.trim_end());
    }
    line("");
    line(&words.how_to_acknowledge.to_uppercase());
    line(&format!("  {}", vars.ack_command));
    if let Some(url) = &vars.incident_url {
        line(&format!("  {} {url}", words.or_open));
    }
    line("");
    line(&format!(
        "-- Vigil · {} #{} · {} · {} {}",
        words.incident, vars.incident_id, view.kind_name, words.opened, vars.opened_at
    ));
    out
}

/// Variables with every field filled, for the strict start-up check.
fn sample_vars() -> TemplateVars {
    TemplateVars {
        incident_id: 1,
        rule: "sample-rule".into(),
        brand: "Sample".into(),
        language: String::new(),
        severity: "crisis",
        status: "open",
        metric: "negative_share".into(),
        value: 0.5,
        peak_value: 0.5,
        threshold: 0.4,
        baseline: Some(0.1),
        value_text: "50.0%".into(),
        threshold_text: "40.0%".into(),
        baseline_text: "10.0%".into(),
        peak_text: "50.0%".into(),
        window: "1h".into(),
        baseline_window: Some("7d".into()),
        mentions: 20,
        explanation: "50% of 20 Sample mentions in the last 1h were negative (threshold 40%)."
            .into(),
        opened_at: "2024-01-01T00:00:00Z".into(),
        deadline: "2024-01-02T00:00:00Z".into(),
        deadline_in: "in 24h".into(),
        evidence: vec![EvidenceVar {
            id: "sample".into(),
            url: Some("https://example.com/post".into()),
            link: Some("https://example.com/post".into()),
            source: "sample-source".into(),
            author: Some("someone".into()),
            published_at: "2024-01-01T00:00:00Z".into(),
            text: "sample text".into(),
            label: Some("negative"),
            score: Some(-0.5),
            sentiment: "negative -0.50".into(),
            reach: Some(1200),
        }],
        top_terms: vec![TermCount {
            term: "refund".into(),
            posts: 12,
        }],
        top_sources: vec![Contributor {
            name: "sample-source".into(),
            posts: 15,
            reach: 30_000,
        }],
        top_authors: vec![Contributor {
            name: "someone".into(),
            posts: 3,
            reach: 1200,
        }],
        ack_command: "vigil incidents ack 1 --by <your name>".into(),
        dashboard_url: Some("https://vigil.example.com".into()),
        incident_url: Some("https://vigil.example.com/#/incidents/1".into()),
        kind: "first",
        seq: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(name: &str, language: Option<&str>, body: &str) -> ScriptConfig {
        ScriptConfig {
            name: name.into(),
            subject: "{{ brand }}".into(),
            file: None,
            body: body.into(),
            language: language.map(str::to_string),
        }
    }

    #[test]
    fn message_ids_are_deterministic() {
        let opened = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(
            message_id(7, opened, NotificationKind::Reminder, 3),
            "<vigil.7.1700000000.reminder.3@vigil.invalid>"
        );
    }

    #[test]
    fn relative_deadlines() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let english = MailLanguage::English;
        assert_eq!(relative(now + TimeDelta::hours(24), now, english), "in 24h");
        assert_eq!(
            relative(now + TimeDelta::minutes(90), now, english),
            "in 1h30m"
        );
        assert_eq!(
            relative(now - TimeDelta::hours(2), now, english),
            "overdue by 2h"
        );
        assert_eq!(relative(now, now, english), "now");
        let chinese = MailLanguage::Chinese;
        assert_eq!(
            relative(now + TimeDelta::minutes(90), now, chinese),
            "还剩 1小时30分钟"
        );
        assert_eq!(
            relative(now - TimeDelta::minutes(45), now, chinese),
            "已逾期 45分钟"
        );
    }

    #[test]
    fn chinese_for_zh_tags_only() {
        assert_eq!(MailLanguage::of(Some("zh")), MailLanguage::Chinese);
        assert_eq!(MailLanguage::of(Some("zh-cn")), MailLanguage::Chinese);
        assert_eq!(MailLanguage::of(Some("ZH-TW")), MailLanguage::Chinese);
        // Zhuang is not Chinese, even though its tag starts with "zh".
        assert_eq!(MailLanguage::of(Some("zha")), MailLanguage::English);
        assert_eq!(MailLanguage::of(Some("en")), MailLanguage::English);
        assert_eq!(MailLanguage::of(None), MailLanguage::English);
    }

    #[test]
    fn text_tables_pad_by_display_width() {
        assert_eq!(
            table_label(&ENGLISH, "Metric"),
            format!("Metric:{}", " ".repeat(13))
        );
        // 指标： is six columns wide.
        assert_eq!(
            table_label(&CHINESE, "指标"),
            format!("指标：{}", " ".repeat(14))
        );
    }

    #[test]
    fn strict_check_names_the_script() {
        let err = Templates::new(&[script("holding", None, "Hello {{ brnad }}")])
            .err()
            .expect("misspelt variable");
        let message = err.to_string();
        assert!(
            message.contains("\"holding\"") && message.contains("body"),
            "{message}"
        );
    }

    #[test]
    fn strict_check_covers_every_language_version() {
        let scripts = [
            script("holding", None, "Hello {{ brand }}"),
            script("holding", Some("zh"), "您好 {{ brnad }}"),
        ];
        let message = Templates::new(&scripts)
            .err()
            .expect("misspelt variable in the Chinese version")
            .to_string();
        assert!(
            message.contains("\"holding (language zh)\"") && message.contains("body"),
            "{message}"
        );
    }

    #[test]
    fn new_variables_pass_the_strict_check() {
        let body = "{{ language }} {% for t in top_terms %}{{ t.term }} {{ t.posts }}{% endfor %}\
            {% for s in top_sources %}{{ s.name }} {{ s.posts }} {{ s.reach }}{% endfor %}\
            {% for a in top_authors %}{{ a.name }} {{ a.posts }} {{ a.reach }}{% endfor %}\
            {% for post in evidence %}{{ post.reach }}{% endfor %}";
        let templates = Templates::new(&[script("holding", None, body)]).expect("known variables");
        assert!(templates.has_script("holding"));
        assert!(!templates.has_script("other"));
    }

    #[test]
    fn language_versions_of_one_script_do_not_collide() {
        let scripts = [
            script("holding", Some("zh"), "中文"),
            script("holding", None, "english"),
            script("holding", Some("en"), "english (en)"),
        ];
        let templates = Templates::new(&scripts).expect("compiles");
        let sample = sample_vars();
        let body = |language: Option<&str>| {
            let version = templates.version("holding", language).expect("a version");
            templates.render_script(version, "body", &sample).unwrap()
        };
        assert_eq!(body(Some("zh")), "中文");
        assert_eq!(body(Some("en")), "english (en)");
        assert_eq!(body(None), "english");
        assert_eq!(body(Some("fr")), "english");
    }

    #[test]
    fn syntax_error_names_the_script() {
        let mut broken = script("broken", None, "ok");
        broken.subject = "{{ brand ".into();
        let message = Templates::new(&[broken])
            .err()
            .expect("syntax error")
            .to_string();
        assert!(
            message.contains("\"broken\"") && message.contains("subject"),
            "{message}"
        );
    }
}
