//! Notification content: the response-script templates (minijinja), the plain-text body
//! and the HTML body (a built-in minijinja template with HTML auto-escaping, so post
//! text can never inject markup), and the deterministic Message-IDs that thread them.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;
use vigil_config::ScriptConfig;
use vigil_core::time::format_duration;
use vigil_core::{
    EvidencePost, Incident, IncidentStatus, Label, NotificationKind, Severity, Trigger,
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
/// crate docs; keep the two in step.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TemplateVars {
    pub incident_id: i64,
    pub rule: String,
    pub brand: String,
    pub severity: &'static str,
    pub status: &'static str,
    pub metric: String,
    pub value: f64,
    pub peak_value: f64,
    pub threshold: f64,
    pub baseline: Option<f64>,
    pub window: String,
    pub baseline_window: Option<String>,
    pub mentions: u64,
    pub explanation: String,
    pub opened_at: String,
    pub deadline: String,
    pub deadline_in: String,
    pub evidence: Vec<EvidenceVar>,
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
}

/// How the metric moved between the opening and the summary (summary only).
#[derive(Debug, Clone, Default)]
pub(crate) struct Trend {
    pub posts_since_opening: u64,
    pub negative_since_opening: u64,
    pub value_at_opening: Option<f64>,
    pub value_now: Option<f64>,
}

/// Everything the built-in layouts show besides the script variables.
#[derive(Debug, Serialize)]
struct View<'a> {
    #[serde(flatten)]
    vars: &'a TemplateVars,
    subject: &'a str,
    heading: String,
    intro: Vec<String>,
    numbers: Vec<(&'static str, String)>,
    trend: Option<Vec<String>>,
    script_name: Option<&'a str>,
    script_text: Option<String>,
}

pub(crate) struct RenderRequest<'a> {
    pub incident: &'a Incident,
    pub kind: NotificationKind,
    pub seq: u32,
    pub now: DateTime<Utc>,
    pub script: Option<&'a str>,
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

/// The compiled templates: every script's subject and body, plus the HTML layout.
pub(crate) struct Templates {
    env: Environment<'static>,
    scripts: HashSet<String>,
}

impl Templates {
    /// Compiles every script, then renders each once against a sample incident with
    /// strict undefined checks, so a misspelt variable is a start-up error naming the
    /// script instead of a blank in a 3 a.m. crisis mail.
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
        let mut names = HashSet::new();
        for script in scripts {
            for (part, source_text) in [("subject", &script.subject), ("body", &script.body)] {
                env.add_template_owned(template_name(&script.name, part), source_text.clone())
                    .map_err(|source| AlertsError::Template {
                        script: script.name.clone(),
                        part,
                        source,
                    })?;
            }
            names.insert(script.name.clone());
        }
        let templates = Templates {
            env,
            scripts: names,
        };
        templates.check_strict(scripts)?;
        Ok(templates)
    }

    fn check_strict(&self, scripts: &[ScriptConfig]) -> Result<()> {
        let mut strict = self.env.clone();
        strict.set_undefined_behavior(UndefinedBehavior::Strict);
        let sample = sample_vars();
        let context = Value::from(Serde(&sample));
        for script in scripts {
            for part in ["subject", "body"] {
                let name = template_name(&script.name, part);
                strict
                    .get_template(&name)
                    .and_then(|template| template.render(&context))
                    .map_err(|source| AlertsError::Template {
                        script: script.name.clone(),
                        part,
                        source,
                    })?;
            }
        }
        Ok(())
    }

    pub fn has_script(&self, name: &str) -> bool {
        self.scripts.contains(name)
    }

    fn render_script(
        &self,
        script: &str,
        part: &str,
        vars: &TemplateVars,
    ) -> Result<String, minijinja::Error> {
        self.env
            .get_template(&template_name(script, part))?
            .render(Value::from(Serde(vars)))
    }

    /// The subject of the first notification: the script's subject template, or
    /// `[severity] brand: rule`.
    pub fn first_subject(&self, script: Option<&str>, vars: &TemplateVars) -> String {
        let default = || format!("[{}] {}: {}", vars.severity, vars.brand, vars.rule);
        let Some(script) = script.filter(|s| self.has_script(s)) else {
            return default();
        };
        match self.render_script(script, "subject", vars) {
            Ok(subject) => {
                let line = one_line(&subject);
                if line.is_empty() { default() } else { line }
            }
            Err(error) => {
                tracing::error!(%error, script, incident = vars.incident_id, "subject template failed; using the default subject");
                default()
            }
        }
    }

    pub fn render(&self, request: RenderRequest<'_>) -> Result<RenderedMessage> {
        let vars = template_vars(&request);
        let incident = request.incident;
        let first_subject = match request.first_subject {
            Some(subject) => subject.to_string(),
            None => self.first_subject(
                request.script,
                &TemplateVars {
                    kind: NotificationKind::First.as_str(),
                    seq: 0,
                    ..vars.clone()
                },
            ),
        };
        let subject = match request.kind {
            NotificationKind::First => first_subject,
            _ => format!("Re: {first_subject}"),
        };
        let script = request.script.filter(|s| self.has_script(s));
        let script_text = script.map(|name| match self.render_script(name, "body", &vars) {
            Ok(text) => text,
            Err(error) => {
                tracing::error!(%error, script = name, incident = incident.id, "response script failed to render");
                format!("(The response script {name:?} failed to render: {error}. Fix the template; the alert itself is complete.)")
            }
        });
        let view = View {
            vars: &vars,
            subject: &subject,
            heading: heading(&request),
            intro: intro(&request, &vars),
            numbers: numbers(&incident.trigger, incident.peak_value),
            trend: (request.kind == NotificationKind::Summary)
                .then(|| trend_lines(incident, request.trend.as_ref())),
            script_name: script,
            script_text,
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
        })
    }
}

fn template_name(script: &str, part: &str) -> String {
    // The suffix is not html/xml, so script output is never auto-escaped: it is text,
    // escaped by the HTML layout where it is embedded.
    format!("{script}.{part}")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn dashboard_link(dashboard_url: Option<&str>, incident_id: i64) -> Option<String> {
    dashboard_url.map(|base| format!("{}/#/incidents/{incident_id}", base.trim_end_matches('/')))
}

fn template_vars(request: &RenderRequest<'_>) -> TemplateVars {
    let incident = request.incident;
    let trigger = &incident.trigger;
    TemplateVars {
        incident_id: incident.id,
        rule: incident.rule.clone(),
        brand: incident.brand.clone(),
        severity: incident.severity.as_str(),
        status: incident.status.as_str(),
        metric: trigger.metric.clone(),
        value: trigger.value,
        peak_value: incident.peak_value,
        threshold: trigger.threshold,
        baseline: trigger.baseline,
        window: format_duration(std::time::Duration::from_secs(trigger.window_secs)),
        baseline_window: trigger
            .baseline_secs
            .map(|s| format_duration(std::time::Duration::from_secs(s))),
        mentions: trigger.mentions,
        explanation: trigger.explanation.clone(),
        opened_at: rfc3339(incident.opened_at),
        deadline: rfc3339(incident.response_deadline),
        deadline_in: relative(incident.response_deadline, request.now),
        evidence: incident.evidence.iter().map(evidence_var).collect(),
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
        sentiment: match (post.label, post.score) {
            (Some(label), Some(score)) => format!("{label} {score:+.2}"),
            (Some(label), None) => label.to_string(),
            (None, Some(score)) => format!("{score:+.2}"),
            (None, None) => "unscored".to_string(),
        },
    }
}

/// "in 23h59m" / "overdue by 2h", to the minute.
fn relative(deadline: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (deadline - now).num_minutes();
    if minutes > 0 {
        format!("in {}", hours_minutes(minutes))
    } else if minutes == 0 {
        "now".to_string()
    } else {
        format!("overdue by {}", hours_minutes(minutes))
    }
}

/// Response clocks read in hours ("24h", "4h30m"), never days.
fn hours_minutes(minutes: i64) -> String {
    let minutes = minutes.unsigned_abs();
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

fn span(delta: TimeDelta) -> String {
    hours_minutes(delta.num_minutes())
}

fn heading(request: &RenderRequest<'_>) -> String {
    let incident = request.incident;
    match request.kind {
        NotificationKind::First => format!(
            "{} alert: {} — {}",
            severity_title(incident.severity),
            incident.brand,
            incident.rule
        ),
        NotificationKind::Reminder => format!(
            "Reminder {}: incident #{} is not acknowledged yet",
            request.seq, incident.id
        ),
        NotificationKind::Escalation => {
            format!(
                "Escalation: incident #{} has not been acknowledged",
                incident.id
            )
        }
        NotificationKind::Summary => format!(
            "Response window ended: incident #{} is {}",
            incident.id,
            status_text(incident.status)
        ),
    }
}

fn severity_title(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "Info",
        Severity::Warning => "Warning",
        Severity::Crisis => "Crisis",
    }
}

fn status_text(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Open => "open (not acknowledged)",
        IncidentStatus::Acknowledged => "acknowledged, not resolved",
        IncidentStatus::Resolved => "resolved",
    }
}

fn intro(request: &RenderRequest<'_>, vars: &TemplateVars) -> Vec<String> {
    let incident = request.incident;
    let mut lines = Vec::new();
    match request.kind {
        NotificationKind::First => {
            lines.push(format!(
                "Rule {:?} fired for {} at {}. A response is due within {}.",
                incident.rule,
                incident.brand,
                vars.opened_at,
                span(request.response_window)
            ));
        }
        NotificationKind::Reminder => {
            let elapsed = request.remind_every * request.seq as i32;
            lines.push(format!(
                "Incident #{} ({} / {}) opened {} ago and nobody has acknowledged it yet.",
                incident.id,
                incident.brand,
                incident.rule,
                span(elapsed)
            ));
        }
        NotificationKind::Escalation => {
            lines.push(format!(
                "Incident #{} ({} / {}) has not been acknowledged {} after it opened. You are receiving this as an escalation contact.",
                incident.id,
                incident.brand,
                incident.rule,
                span(request.escalate_after)
            ));
        }
        NotificationKind::Summary => {
            let mut line = format!(
                "The {} response window of incident #{} ({} / {}) ended at {}. Status: {}.",
                span(request.response_window),
                incident.id,
                incident.brand,
                incident.rule,
                vars.deadline,
                status_text(incident.status)
            );
            if let (Some(by), Some(at)) = (&incident.acknowledged_by, incident.acknowledged_at) {
                line.push_str(&format!(" Acknowledged by {by} at {}.", rfc3339(at)));
            }
            if incident.status != IncidentStatus::Resolved {
                line.push_str(" It is now marked overdue.");
            }
            lines.push(line);
        }
    }
    lines
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

fn numbers(trigger: &Trigger, peak: f64) -> Vec<(&'static str, String)> {
    let metric = trigger.metric.as_str();
    let mut rows = vec![
        ("Metric", metric.to_string()),
        ("Value", format_metric(metric, trigger.value)),
        ("Peak while open", format_metric(metric, peak)),
        ("Threshold", format_metric(metric, trigger.threshold)),
    ];
    if let Some(baseline) = trigger.baseline {
        let over = trigger
            .baseline_secs
            .map(|s| {
                format!(
                    " (over {})",
                    format_duration(std::time::Duration::from_secs(s))
                )
            })
            .unwrap_or_default();
        rows.push((
            "Baseline",
            format!("{}{over}", format_metric(metric, baseline)),
        ));
    }
    rows.push((
        "Window",
        format_duration(std::time::Duration::from_secs(trigger.window_secs)),
    ));
    rows.push(("Mentions in window", trigger.mentions.to_string()));
    rows
}

fn trend_lines(incident: &Incident, trend: Option<&Trend>) -> Vec<String> {
    let metric = incident.trigger.metric.as_str();
    let mut lines = Vec::new();
    if let Some(trend) = trend {
        lines.push(format!(
            "{} {} mentions since opening, {} of them negative.",
            trend.posts_since_opening, incident.brand, trend.negative_since_opening
        ));
        if let (Some(now), Some(then)) = (trend.value_now, trend.value_at_opening) {
            let direction = if now < then {
                "down from"
            } else if now > then {
                "up from"
            } else {
                "unchanged from"
            };
            lines.push(format!(
                "{metric} is {} now, {direction} {} at opening.",
                format_metric(metric, now),
                format_metric(metric, then)
            ));
        }
    }
    lines.push(format!(
        "Peak {metric} while open: {}.",
        format_metric(metric, incident.peak_value)
    ));
    lines
}

fn render_text(view: &View<'_>) -> String {
    let vars = view.vars;
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
        "Respond by {} ({}).",
        vars.deadline, vars.deadline_in
    ));
    line("");
    line("WHAT FIRED");
    line(&vars.explanation);
    for (label, value) in &view.numbers {
        line(&format!("  {:<20}{value}", format!("{label}:")));
    }
    if let Some(trend) = &view.trend {
        line("");
        line("TREND SINCE OPENING");
        for entry in trend {
            line(&format!("  {entry}"));
        }
    }
    line("");
    line(&format!(
        "EVIDENCE ({} post{}, most negative first)",
        vars.evidence.len(),
        if vars.evidence.len() == 1 { "" } else { "s" }
    ));
    for (i, post) in vars.evidence.iter().enumerate() {
        let sentiment = &post.sentiment;
        let author = post
            .author
            .as_deref()
            .map(|a| format!(" · {a}"))
            .unwrap_or_default();
        line(&format!(
            "{:>3}. [{sentiment}] {}{author} · {}",
            i + 1,
            post.source,
            post.published_at
        ));
        line(&format!("     {}", one_line(&post.text)));
        if let Some(url) = &post.url {
            line(&format!("     {url}"));
        }
    }
    if let Some(script) = &view.script_text {
        line("");
        line(&format!(
            "RESPONSE SCRIPT ({})",
            view.script_name.unwrap_or("script")
        ));
        line(script.trim_end());
    }
    line("");
    line("HOW TO ACKNOWLEDGE");
    line(&format!("  {}", vars.ack_command));
    if let Some(url) = &vars.incident_url {
        line(&format!("  or open {url}"));
    }
    line("");
    line(&format!(
        "-- Vigil · incident #{} · {} · opened {}",
        vars.incident_id, vars.kind, vars.opened_at
    ));
    out
}

/// Variables with every field filled, for the strict start-up check.
fn sample_vars() -> TemplateVars {
    TemplateVars {
        incident_id: 1,
        rule: "sample-rule".into(),
        brand: "Sample".into(),
        severity: "crisis",
        status: "open",
        metric: "negative_share".into(),
        value: 0.5,
        peak_value: 0.5,
        threshold: 0.4,
        baseline: Some(0.1),
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
        assert_eq!(relative(now + TimeDelta::hours(24), now), "in 24h");
        assert_eq!(relative(now + TimeDelta::minutes(90), now), "in 1h30m");
        assert_eq!(relative(now - TimeDelta::hours(2), now), "overdue by 2h");
    }

    #[test]
    fn strict_check_names_the_script() {
        let script = ScriptConfig {
            name: "holding".into(),
            subject: "{{ brand }}".into(),
            file: None,
            body: "Hello {{ brnad }}".into(),
            language: None,
        };
        let err = Templates::new(&[script]).err().expect("misspelt variable");
        let message = err.to_string();
        assert!(
            message.contains("\"holding\"") && message.contains("body"),
            "{message}"
        );
    }

    #[test]
    fn syntax_error_names_the_script() {
        let script = ScriptConfig {
            name: "broken".into(),
            subject: "{{ brand ".into(),
            file: None,
            body: "ok".into(),
            language: None,
        };
        let message = Templates::new(&[script])
            .err()
            .expect("syntax error")
            .to_string();
        assert!(
            message.contains("\"broken\"") && message.contains("subject"),
            "{message}"
        );
    }
}
