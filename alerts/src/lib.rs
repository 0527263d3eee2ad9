//! The alert engine and notifier: rules over time windows → incidents → the 24-hour
//! response clock → notifications in a durable outbox → SMTP.
//!
//! - [`AlertEngine::evaluate`] measures every rule at an instant and opens an incident
//!   per `(rule, brand)` on a new firing, or updates the open one (peak, trigger,
//!   evidence) — never a second first notification.
//! - [`AlertEngine::plan_notifications`] runs the response clock: it writes every
//!   notification that is due (first, reminders, escalation, summary) to the outbox
//!   through [`vigil_core::AlertStore`], keyed by `(incident, kind, seq)` so
//!   re-planning after a crash neither loses nor repeats anything.
//! - [`deliver_due`] drains the outbox through a [`Mailer`] (lettre), retrying with
//!   capped exponential backoff. A message keeps its Message-ID across retries, and
//!   follow-ups carry `In-Reply-To`/`References` to the first so mail clients thread
//!   the whole incident.
//!
//! Time is always passed in (`now`), so a 24-hour incident is tested in milliseconds.
//! Webhooks (`recipients.webhooks`) go through the same outbox, one row per webhook.
//!
//! # Rules
//! The window is `[start, now)` with `start = max(now − window, last resolution)`, so a
//! resolved incident's posts do not re-open it. A rule's `query`, when set, filters the
//! brand's posts for every kind.
//! - `negative_share`: share of *classified* window posts labelled negative ≥
//!   `threshold`, with at least `min_mentions` classified posts.
//! - `volume_spike`: window count `W` ≥ `min_mentions` and `W > mean + sigma·std` of
//!   the per-window counts over the `baseline` before the window (population std).
//! - `sentiment_drop`: mean score of the window posts < `mean − sigma·std` of the
//!   per-window mean scores over the baseline, with at least `min_mentions` scored
//!   posts. Its "peak" is the lowest mean reached.
//! - `keyword`: one post matching `query` fires; `min_mentions` does not apply.
//! - `influencer`: `min_mentions` (default 1) negative posts whose reach is at least
//!   `threshold`; the value is the largest reach.
//!
//! `volume_spike` compares with the baseline windows at the same time of day or week
//! when `seasonality` says so (`auto`: by the baseline's length), and with `confirm`
//! also against the same window yesterday / last week. A firing rule also reports what
//! its posts are about (`context.rs`): top terms, sources and authors by reach.
//!
//! # Response script variables
//! A script's `subject` and body are minijinja templates. The variables they get are
//! listed in the README ("Scripts"), the one reference; `render.rs`'s `TemplateVars`
//! and `sample_vars()` must stay in step with it.
//!
//! Scripts are rendered once against a sample incident at start with strict undefined
//! checks, so a misspelt variable is a config error naming the script. At run time a
//! failing script never blocks a crisis mail: the default subject is used and the body
//! says the script failed.

mod context;
mod engine;
mod error;
mod mailer;
mod render;
mod rules;
mod webhook;

pub use engine::{AlertEngine, DELIVERY_FAILURE_RULE, RuleOutcome, SOURCE_DOWN_RULE};
pub use error::{AlertsError, DeliveryError, Result};
pub use mailer::{
    DELIVERY_FAILURE_WINDOW, DeliveryReport, Mailer, deliver_due, deliver_webhooks_due, retry_delay,
};
pub use render::{RenderedMessage, message_id};
pub use webhook::{WebhookKind, Webhooks, dingtalk_sign, feishu_sign};
