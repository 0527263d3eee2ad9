//! What the dashboard asks beyond the lists: who the caller is (`/api/whoami`), the
//! configured brands (`/api/brands`), and one incident in full (`/api/incidents/{id}`):
//! its notifications with delivery state, a timeline of what happened to it, and the
//! rendered response script.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use vigil_config::Role;
use vigil_core::{AlertStore as _, NotificationKind, NotificationStatus};

use crate::http::{ApiError, ApiPath, ApiResult, IncidentView, authorize};
use crate::openapi::schemas;
use crate::pipeline::Services;

/// The caller as the API sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    /// The token's name (`anonymous` when no tokens are configured).
    name: String,
    /// `viewer`, `responder` or `admin` (`admin` when no tokens are configured).
    #[schema(pattern = "^(viewer|responder|admin)$")]
    role: String,
    /// Whether the API asks for tokens at all.
    tokens_configured: bool,
}

/// Who the presented token belongs to and what it may do.
#[utoipa::path(
    get, path = "/api/whoami", tag = "meta",
    responses((status = 200, description = "The caller", body = WhoAmI))
)]
pub async fn whoami(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
) -> ApiResult<Json<WhoAmI>> {
    let (name, role) = authorize(&services, &headers, Role::Viewer)?;
    Ok(Json(WhoAmI {
        name,
        role: match role {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        }
        .to_string(),
        tokens_configured: !services.config.server.tokens.is_empty(),
    }))
}

/// A configured brand.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrandView {
    name: String,
    /// The query as written in the config.
    query: String,
    /// The language the PR team answers this brand in, when set.
    #[schema(required = true)]
    language: Option<String>,
}

/// The configured brands, in config order.
#[utoipa::path(
    get, path = "/api/brands", tag = "meta",
    responses((status = 200, description = "Brands", body = Vec<BrandView>))
)]
pub async fn brands(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<BrandView>>> {
    authorize(&services, &headers, Role::Viewer)?;
    Ok(Json(
        services
            .config
            .brands
            .iter()
            .map(|brand| BrandView {
                name: brand.name.clone(),
                query: brand.query_text.clone(),
                language: brand.language.clone(),
            })
            .collect(),
    ))
}

/// One notification of an incident, without its body.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    id: i64,
    /// `first`, `reminder`, `escalation` or `summary`.
    #[schema(value_type = String)]
    kind: NotificationKind,
    seq: u32,
    /// `email` or `webhook:<group>:<n>`.
    channel: String,
    recipients: Vec<String>,
    subject: String,
    /// `pending`, `sent`, `failed`, `cancelled`…
    #[schema(value_type = String)]
    status: NotificationStatus,
    attempts: u32,
    created_at: DateTime<Utc>,
    #[schema(required = true)]
    sent_at: Option<DateTime<Utc>>,
    /// The mail server's (or webhook's) last reply or error.
    #[schema(required = true)]
    last_reply: Option<String>,
}

/// Something that happened to an incident.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentEvent {
    at: DateTime<Utc>,
    /// `opened`, `acknowledged`, `resolved`, `snoozed`, `overdue`, `notified`.
    kind: String,
    #[schema(required = true)]
    by: Option<String>,
    #[schema(required = true)]
    note: Option<String>,
}

/// The response script as the first notification carries it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScriptView {
    name: String,
    /// The language of the version used (the brand's), when the script has versions.
    #[schema(required = true)]
    language: Option<String>,
    /// The first notification's subject.
    subject: String,
    /// The rendered script text.
    body: String,
}

/// One incident with its notifications, timeline and response script.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    view: IncidentView,
    notifications: Vec<NotificationView>,
    /// Oldest first.
    events: Vec<IncidentEvent>,
    /// `null` when the rule names no script.
    #[schema(required = true)]
    script: Option<ScriptView>,
}

/// One incident in full.
#[utoipa::path(
    get, path = "/api/incidents/{id}", tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    responses(
        (status = 200, description = "The incident", body = IncidentDetail),
        (status = 400, description = "The id is not a number", body = schemas::ErrorBody),
        (status = 404, description = "No such incident", body = schemas::ErrorBody),
    )
)]
pub async fn incident_detail(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<IncidentDetail>> {
    authorize(&services, &headers, Role::Viewer)?;
    let store = &services.store;
    let incident = store
        .incident(id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no incident {id}")))?;
    let now = services.clock.now();
    let notifications = store
        .notifications_for_incident(id)
        .map_err(ApiError::internal)?;
    let silences = store.all_silences().map_err(ApiError::internal)?;
    let silenced_until = silences
        .iter()
        .filter(|silence| silence.is_active(now) && silence.mutes(&incident, now))
        .map(|silence| silence.ends_at)
        .max();

    let event = |at, kind: &str, by: Option<&String>, note: Option<&String>| IncidentEvent {
        at,
        kind: kind.to_string(),
        by: by.cloned(),
        note: note.cloned(),
    };
    let mut events = vec![event(incident.opened_at, "opened", None, None)];
    for notification in notifications.iter().filter(|n| n.sent_at.is_some()) {
        if let Some(at) = notification.sent_at {
            let what = format!("notified:{}", notification.kind.as_str());
            events.push(event(at, &what, Some(&notification.channel), None));
        }
    }
    for snooze in silences.iter().filter(|s| s.incident_id == Some(id)) {
        events.push(event(
            snooze.starts_at,
            "snoozed",
            Some(&snooze.by),
            snooze.reason.as_ref(),
        ));
    }
    if let Some(at) = incident.acknowledged_at {
        let note = incident
            .resolved_at
            .is_none()
            .then_some(incident.note.as_ref())
            .flatten();
        events.push(event(
            at,
            "acknowledged",
            incident.acknowledged_by.as_ref(),
            note,
        ));
    }
    if let Some(at) = incident.resolved_at {
        events.push(event(
            at,
            "resolved",
            incident.resolved_by.as_ref(),
            incident.note.as_ref(),
        ));
    }
    if incident.overdue {
        events.push(event(incident.response_deadline, "overdue", None, None));
    }
    events.sort_by_key(|e| e.at);

    let script = services
        .engine
        .render(&incident, NotificationKind::First, 0, now)
        .map_err(ApiError::internal)?;
    let language = services
        .config
        .brand(&incident.brand)
        .and_then(|brand| brand.language.clone());
    let script = script.script.map(|(name, body)| ScriptView {
        language: language.filter(|language| {
            services
                .config
                .scripts
                .iter()
                .any(|s| s.name == name && s.language.as_deref() == Some(language.as_str()))
        }),
        name,
        subject: script.subject,
        body,
    });
    let notifications = notifications
        .into_iter()
        .map(|n| NotificationView {
            id: n.id,
            kind: n.kind,
            seq: n.seq,
            channel: n.channel,
            recipients: n.recipients,
            subject: n.subject,
            status: n.status,
            attempts: n.attempts,
            created_at: n.created_at,
            sent_at: n.sent_at,
            last_reply: n.smtp_reply.or(n.last_error),
        })
        .collect();
    Ok(Json(IncidentDetail {
        view: IncidentView {
            incident,
            silenced_until,
        },
        notifications,
        events,
        script,
    }))
}
