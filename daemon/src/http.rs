//! HTTP API (axum): `/healthz`, `/metrics`, `/api/search`, `/api/incidents`,
//! `/api/incidents/{id}/ack|resolve|snooze`, `/api/silences` (list, add, `DELETE
//! /api/silences/{id}` to end one early), `/api/posts/{id}/label`, `/api/sources`, and a
//! small index page at `/`.
//!
//! When `[[server.tokens]]` are configured every route except `/healthz` needs
//! `Authorization: Bearer TOKEN`; acknowledging, resolving, snoozing and silencing need
//! the responder or admin role, and so does labelling a post. Without tokens the API is
//! open, which is why it binds loopback by default.

use std::sync::Arc;

use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::error;

use vigil_config::Role;
use vigil_core::{AlertStore as _, Incident, IncidentStatus, NewSilence, Silence};

use crate::pipeline::Services;

pub fn router(services: Arc<Services>) -> Router {
    Router::new()
        .route("/", get(index_page))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/search", get(search))
        .route("/api/timeline", get(crate::insights::timeline))
        .route("/api/share_of_voice", get(crate::insights::share_of_voice))
        .route("/api/top/sources", get(crate::insights::top_sources))
        .route("/api/top/authors", get(crate::insights::top_authors))
        .route("/api/top/terms", get(crate::insights::top_terms))
        .route("/api/incidents", get(list_incidents))
        .route("/api/incidents/{id}/ack", post(ack_incident))
        .route("/api/incidents/{id}/resolve", post(resolve_incident))
        .route("/api/incidents/{id}/snooze", post(snooze_incident))
        .route("/api/silences", get(list_silences).post(add_silence))
        .route("/api/silences/{id}", delete(expire_silence))
        .route("/api/sources", get(sources))
        .route("/api/posts/{id}/label", post(label_post))
        .with_state(services)
}

/// An API error: the status and a message for the caller; details go to the log.
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        error!(%error, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error (see the daemon's log)",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Constant-time comparison, so response timing does not reveal a token's prefix.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut difference = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        difference |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    difference == 0
}

/// Who is calling: `(token name, role)`; `("anonymous", Admin)` when no tokens are configured.
pub(crate) fn authorize(
    services: &Services,
    headers: &HeaderMap,
    needed: Role,
) -> ApiResult<(String, Role)> {
    let tokens = &services.config.server.tokens;
    if tokens.is_empty() {
        return Ok(("anonymous".into(), Role::Admin));
    }
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing bearer token (Authorization: Bearer TOKEN)",
            )
        })?;
    let mut matched = None;
    for token in tokens {
        if let Ok(secret) = token.token.resolve()
            && same_secret(&secret, presented)
        {
            matched = Some((token.name.clone(), token.role));
        }
    }
    let (name, role) =
        matched.ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unknown token"))?;
    if role < needed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("token {name:?} may not do this (needs the {needed:?} role)"),
        ));
    }
    Ok((name, role))
}

async fn index_page() -> Html<&'static str> {
    Html(
        "<!doctype html><meta charset=utf-8><title>Vigil</title>\
         <h1>Vigil</h1><ul>\
         <li><a href=\"/api/search?q=*\">/api/search?q=*</a> — search captured mentions</li>\
         <li><a href=\"/api/incidents\">/api/incidents</a> — incidents and their response deadlines</li>\
         <li><a href=\"/api/silences\">/api/silences</a> — silences and snoozes in force</li>\
         <li><a href=\"/api/sources\">/api/sources</a> — source health</li>\
         <li><a href=\"/metrics\">/metrics</a> — Prometheus metrics</li></ul>",
    )
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Hits per page through the API are capped here; exports go through the CLI.
const API_MAX_LIMIT: usize = 1_000;

async fn search(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    QueryParams(params): QueryParams<crate::search::SearchParams>,
) -> ApiResult<Json<vigil_index::SearchResults>> {
    authorize(&services, &headers, Role::Viewer)?;
    let mut request = params
        .to_request(Utc::now(), 20)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    request.limit = request.limit.min(API_MAX_LIMIT);
    let index = services.index.clone();
    let results = tokio::task::spawn_blocking(move || index.search(&request))
        .await
        .map_err(ApiError::internal)?
        .map_err(index_error)?;
    Ok(Json(results))
}

/// A search error: 400 with the reason when the request was at fault, else 500.
fn index_error(error: vigil_index::IndexError) -> ApiError {
    if error.is_bad_request() {
        ApiError::new(StatusCode::BAD_REQUEST, error.to_string())
    } else {
        ApiError::internal(error)
    }
}

#[derive(Debug, Deserialize)]
pub struct IncidentParams {
    status: Option<String>,
}

/// An incident as the API lists it: the incident plus `silenced_until`, the end of the
/// latest active silence or snooze that mutes it (`null` when none does).
#[derive(Debug, Serialize)]
pub struct IncidentView {
    #[serde(flatten)]
    incident: Incident,
    silenced_until: Option<DateTime<Utc>>,
}

async fn list_incidents(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    QueryParams(params): QueryParams<IncidentParams>,
) -> ApiResult<Json<Vec<IncidentView>>> {
    authorize(&services, &headers, Role::Viewer)?;
    let status = params
        .status
        .as_deref()
        .map(|s| {
            s.parse::<IncidentStatus>()
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))
        })
        .transpose()?;
    let mut incidents = services
        .store
        .incidents(status)
        .map_err(ApiError::internal)?;
    incidents.sort_by_key(|i| std::cmp::Reverse(i.opened_at));
    let now = services.clock.now();
    let silences = services
        .store
        .active_silences(now)
        .map_err(ApiError::internal)?;
    let views = incidents
        .into_iter()
        .map(|incident| IncidentView {
            silenced_until: silences
                .iter()
                .filter(|silence| silence.mutes(&incident, now))
                .map(|silence| silence.ends_at)
                .max(),
            incident,
        })
        .collect();
    Ok(Json(views))
}

#[derive(Debug, Default, Deserialize)]
pub struct ActionBody {
    by: Option<String>,
    note: Option<String>,
}

async fn incident_action(
    services: Arc<Services>,
    headers: HeaderMap,
    id: i64,
    body: Option<Json<ActionBody>>,
    resolve: bool,
) -> ApiResult<Json<vigil_core::Incident>> {
    let (token_name, _) = authorize(&services, &headers, Role::Responder)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let by = body.by.unwrap_or(token_name);
    let now = Utc::now();
    let result = if resolve {
        services
            .store
            .resolve_incident(id, &by, body.note.as_deref(), now)
    } else {
        services
            .store
            .acknowledge_incident(id, &by, body.note.as_deref(), now)
    };
    result.map(Json).map_err(|error| match error {
        vigil_store::StoreError::NotFound(_) => {
            ApiError::new(StatusCode::NOT_FOUND, format!("no incident #{id}"))
        }
        vigil_store::StoreError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, message),
        other => ApiError::internal(other),
    })
}

async fn ack_incident(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Option<Json<ActionBody>>,
) -> ApiResult<Json<vigil_core::Incident>> {
    incident_action(services, headers, id, body, false).await
}

async fn resolve_incident(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Option<Json<ActionBody>>,
) -> ApiResult<Json<vigil_core::Incident>> {
    incident_action(services, headers, id, body, true).await
}

#[derive(Debug, Deserialize)]
pub struct SilenceListParams {
    /// Include silences that have ended.
    #[serde(default)]
    all: bool,
}

/// Silences and snoozes that have not ended (with `?all=true`, ended ones too), by end
/// time; the same records as `vigil incidents silences --format json`.
async fn list_silences(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    params: Result<QueryParams<SilenceListParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<Silence>>> {
    authorize(&services, &headers, Role::Viewer)?;
    let QueryParams(params) = params.map_err(|rejection| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("expected ?all=true|false: {}", rejection.body_text()),
        )
    })?;
    let silences = if params.all {
        services.store.all_silences()
    } else {
        services.store.current_silences(services.clock.now())
    };
    silences.map(Json).map_err(ApiError::internal)
}

const SILENCE_FIELDS: &[&str] = &["brand", "rule", "duration", "ends_at", "comment"];
const SNOOZE_FIELDS: &[&str] = &["duration", "until", "comment"];

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// The fields of a JSON object body whose fields are all optional strings (`null` counts
/// as absent). Unknown fields are refused, so a misspelt matcher cannot silently widen a
/// silence to every incident; every 400 names the field at fault.
fn string_fields(
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
    allowed: &[&str],
) -> ApiResult<std::collections::HashMap<String, String>> {
    let expected = allowed.join(", ");
    let Json(value) = body.map_err(|rejection| {
        bad_request(format!(
            "expected a JSON object with {expected}: {}",
            rejection.body_text()
        ))
    })?;
    let serde_json::Value::Object(object) = value else {
        return Err(bad_request(format!(
            "expected a JSON object with {expected}, not {value}"
        )));
    };
    let mut fields = std::collections::HashMap::new();
    for (name, value) in object {
        if !allowed.contains(&name.as_str()) {
            return Err(bad_request(format!(
                "unknown field {name:?} (expected {expected})"
            )));
        }
        match value {
            serde_json::Value::Null => {}
            serde_json::Value::String(text) => {
                fields.insert(name, text);
            }
            other => {
                return Err(bad_request(format!("{name} must be a string, not {other}")));
            }
        }
    }
    Ok(fields)
}

/// When a silence or snooze given `duration` (from `now`) or an end time ends; it must
/// be in the future. `end_field` is the end time's field name, for messages.
fn silence_end(
    duration: Option<&str>,
    end: Option<&str>,
    end_field: &str,
    now: DateTime<Utc>,
) -> ApiResult<DateTime<Utc>> {
    let ends_at = match (duration, end) {
        (Some(_), Some(_)) => {
            return Err(bad_request(format!(
                "give either duration or {end_field}, not both"
            )));
        }
        (None, None) => {
            return Err(bad_request(format!(
                "duration (like \"2h\") or {end_field} (RFC 3339) is required"
            )));
        }
        (Some(text), None) => {
            let duration = vigil_core::time::parse_duration(text)
                .map_err(|error| bad_request(format!("duration {text:?}: {error}")))?;
            let delta = chrono::TimeDelta::from_std(duration)
                .map_err(|_| bad_request(format!("duration {text:?} is too long")))?;
            now.checked_add_signed(delta)
                .ok_or_else(|| bad_request(format!("duration {text:?} is too long")))?
        }
        (None, Some(text)) => DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|error| {
                bad_request(format!(
                    "{end_field} {text:?} is not an RFC 3339 time like \"2024-05-01T18:00:00Z\": {error}"
                ))
            })?,
    };
    if ends_at <= now {
        return Err(bad_request(format!(
            "{end_field} {} is not in the future",
            ends_at.format("%Y-%m-%d %H:%M:%S UTC")
        )));
    }
    Ok(ends_at)
}

/// A matcher field: absent, or a non-empty name (an empty one would match nothing, or
/// read as "every", depending on who reads it).
fn matcher(field: &str, value: Option<String>) -> ApiResult<Option<String>> {
    match value {
        Some(name) if name.trim().is_empty() => {
            Err(bad_request(format!("{field} must not be empty")))
        }
        other => Ok(other),
    }
}

/// Silences every incident matching `brand` and/or `rule` (responder role), like
/// `vigil incidents silence`, recorded and audited as the token's name.
async fn add_silence(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Silence>)> {
    let (token_name, _) = authorize(&services, &headers, Role::Responder)?;
    let mut body = string_fields(body, SILENCE_FIELDS)?;
    let brand = matcher("brand", body.remove("brand"))?;
    let rule = matcher("rule", body.remove("rule"))?;
    if brand.is_none() && rule.is_none() {
        return Err(bad_request(
            "a silence needs brand and/or rule (to snooze one incident: \
             POST /api/incidents/{id}/snooze)",
        ));
    }
    let now = services.clock.now();
    let ends_at = silence_end(
        body.get("duration").map(String::as_str),
        body.get("ends_at").map(String::as_str),
        "ends_at",
        now,
    )?;
    let silence = services
        .store
        .add_silence(NewSilence {
            brand,
            rule,
            incident_id: None,
            starts_at: now,
            ends_at,
            by: token_name,
            reason: body.remove("comment"),
        })
        .map_err(|error| match error {
            vigil_store::StoreError::Invalid(message) => bad_request(message),
            other => ApiError::internal(other),
        })?;
    Ok((StatusCode::CREATED, Json(silence)))
}

/// Snoozes one incident (responder role), like `vigil incidents snooze`: it sends
/// nothing until the snooze ends. Returns the snooze (a silence naming the incident).
async fn snooze_incident(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Silence>)> {
    let (token_name, _) = authorize(&services, &headers, Role::Responder)?;
    let mut body = string_fields(body, SNOOZE_FIELDS)?;
    let now = services.clock.now();
    let ends_at = silence_end(
        body.get("duration").map(String::as_str),
        body.get("until").map(String::as_str),
        "until",
        now,
    )?;
    let silence = services
        .store
        .add_silence(NewSilence {
            brand: None,
            rule: None,
            incident_id: Some(id),
            starts_at: now,
            ends_at,
            by: token_name,
            reason: body.remove("comment"),
        })
        .map_err(|error| match error {
            vigil_store::StoreError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, format!("no incident #{id}"))
            }
            vigil_store::StoreError::Invalid(message) => bad_request(message),
            other => ApiError::internal(other),
        })?;
    Ok((StatusCode::CREATED, Json(silence)))
}

/// Ends a silence or snooze now (responder role); audited as the token's name. The
/// record stays, listed with `?all=true`.
async fn expire_silence(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> ApiResult<Json<Silence>> {
    let (token_name, _) = authorize(&services, &headers, Role::Responder)?;
    services
        .store
        .expire_silence(id, &token_name, services.clock.now())
        .map(Json)
        .map_err(|error| match error {
            vigil_store::StoreError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, format!("no silence {id}"))
            }
            vigil_store::StoreError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, message)
            }
            other => ApiError::internal(other),
        })
}

#[derive(Debug, Deserialize)]
struct LabelBody {
    label: String,
    /// Who is correcting (default: the token's name).
    by: Option<String>,
}

/// An analyst's correction (responder role): stored and audited with who/when, and the
/// index stage is woken to re-add the post so search shows the label at once.
async fn label_post(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<LabelBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<vigil_store::Correction>> {
    let (token_name, _) = authorize(&services, &headers, Role::Responder)?;
    let Json(body) = body.map_err(|rejection| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "expected a JSON body {{\"label\": \"negative|neutral|positive\", \"by\"?: NAME}}: {}",
                rejection.body_text()
            ),
        )
    })?;
    let label: vigil_core::Label = body.label.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "label must be negative, neutral or positive, not {:?}",
                body.label
            ),
        )
    })?;
    let by = body.by.unwrap_or_else(|| token_name.clone());
    let via = format!("api:{token_name}");
    let correction = services
        .store
        .correct_sentiment(&id, label, &by, &via)
        .map_err(|error| match error {
            vigil_store::StoreError::NotFound(_) => ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no stored post has id {id:?}"),
            ),
            vigil_store::StoreError::Invalid(message) => {
                ApiError::new(StatusCode::BAD_REQUEST, message)
            }
            other => ApiError::internal(other),
        })?;
    services.refresh_wakeup.notify_one();
    Ok(Json(correction))
}

async fn sources(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    authorize(&services, &headers, Role::Viewer)?;
    let checkpoints = services.store.checkpoints().map_err(ApiError::internal)?;
    let rows = crate::health::source_health(&services.config, &checkpoints, services.clock.now());
    Ok(Json(serde_json::json!({ "sources": rows })))
}

async fn metrics(State(services): State<Arc<Services>>, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&services, &headers, Role::Viewer)?;
    let posts = services.store.post_count().map_err(ApiError::internal)?;
    let indexed = services.index.doc_count().map_err(ApiError::internal)?;
    let incidents = services.store.incidents(None).map_err(ApiError::internal)?;
    let count = |status: IncidentStatus| incidents.iter().filter(|i| i.status == status).count();
    let pending = services
        .store
        .due_notifications(Utc::now() + chrono::Duration::days(3650), 100_000)
        .map_err(ApiError::internal)?
        .len();
    let mut body = String::new();
    body.push_str(
        "# HELP vigil_posts_stored Posts in the store.\n# TYPE vigil_posts_stored gauge\n",
    );
    body.push_str(&format!("vigil_posts_stored {posts}\n"));
    body.push_str("# HELP vigil_posts_indexed Documents in the search index.\n# TYPE vigil_posts_indexed gauge\n");
    body.push_str(&format!("vigil_posts_indexed {indexed}\n"));
    body.push_str("# HELP vigil_incidents Incidents by status.\n# TYPE vigil_incidents gauge\n");
    for status in [
        IncidentStatus::Open,
        IncidentStatus::Acknowledged,
        IncidentStatus::Resolved,
    ] {
        body.push_str(&format!(
            "vigil_incidents{{status=\"{status}\"}} {}\n",
            count(status)
        ));
    }
    body.push_str("# HELP vigil_outbox_pending Notifications not yet delivered.\n# TYPE vigil_outbox_pending gauge\n");
    body.push_str(&format!("vigil_outbox_pending {pending}\n"));
    let checkpoints = services.store.checkpoints().map_err(ApiError::internal)?;
    crate::health::metrics(
        &crate::health::source_health(&services.config, &checkpoints, services.clock.now()),
        &mut body,
    );
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_comparison() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "a"));
    }
}
