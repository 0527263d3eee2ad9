//! HTTP API (axum): `/healthz`, `/metrics`, `/api/search`, `/api/incidents`,
//! `/api/incidents/{id}/ack|resolve`, `/api/posts/{id}/label`, `/api/sources`, and a
//! small index page at `/`.
//!
//! When `[[server.tokens]]` are configured every route except `/healthz` needs
//! `Authorization: Bearer TOKEN`; acknowledging and resolving need the responder or admin
//! role, and so does labelling a post. Without tokens the API is open, which is why it binds loopback by default.

use std::sync::Arc;

use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use tracing::error;

use vigil_config::Role;
use vigil_core::{AlertStore as _, IncidentStatus};

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
        if let Ok(secret) = vigil_config::secret_from_env(&token.token_env)
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

async fn list_incidents(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    QueryParams(params): QueryParams<IncidentParams>,
) -> ApiResult<Json<Vec<vigil_core::Incident>>> {
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
    Ok(Json(incidents))
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
