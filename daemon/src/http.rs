//! HTTP API (axum): `/healthz`, `/metrics`, `/api/search`, `/api/incidents`,
//! `/api/incidents/{id}/ack|resolve|snooze`, `/api/silences` (list, add, `DELETE
//! /api/silences/{id}` to end one early), `/api/posts/{id}/label`, `/api/sources`, the
//! aggregations of `insights.rs`, the OpenAPI 3.1 description of all of them at
//! `/api/openapi.json`, and the web dashboard at `/` (`dashboard.rs`).
//!
//! When `[[server.tokens]]` are configured every route except `/healthz`,
//! `/api/openapi.json` and the dashboard's files (which hold no data: its pages call
//! the API with the user's token) needs `Authorization: Bearer TOKEN` (checked
//! by [`require_token`] before anything else, so a route added to the protected table
//! cannot skip it); acknowledging, resolving, snoozing and silencing need the
//! responder or admin role, and so does labelling a post. Without tokens the API is
//! open, which is why it binds loopback by default.
//!
//! Adding a route: write the handler with a `#[utoipa::path(...)]` attribute (method,
//! path, `tag`, `params`, `request_body`, every response it can return, and
//! `security(("bearer" = ["responder"]))` / `["admin"]` when a viewer may not call it;
//! 401/403/500 are added by `openapi.rs`), call [`authorize`] with the role it needs,
//! take path and query parameters through [`ApiPath`] / [`ApiQuery`] (their rejections
//! are JSON 400s like every other error), and add `.routes(routes!(handler))` to
//! [`api_routes`]. `cargo test -p vigil --test openapi` then checks it answers 401
//! without a token, and `scripts/schemathesis.sh` fuzzes it against its description.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query as QueryParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, Datelike as _, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::error;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use vigil_config::Role;
use vigil_core::{AlertStore as _, Incident, IncidentStatus, NewSilence, Silence};

use crate::openapi::schemas;
use crate::pipeline::Services;

pub fn router(services: Arc<Services>) -> Router {
    let (public, _) = public_routes().split_for_parts();
    let (protected, _) = protected_routes().split_for_parts();
    public
        .merge(protected.route_layer(axum::middleware::from_fn_with_state(
            services.clone(),
            require_token,
        )))
        .merge(crate::dashboard::routes())
        .with_state(services)
}

/// Every route of the API with its OpenAPI description (`openapi.rs` adds the parts
/// common to all operations).
pub(crate) fn api_routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::with_openapi(<crate::openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .merge(public_routes())
        .merge(protected_routes())
}

/// Routes anyone may call.
fn public_routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(openapi_json))
}

/// Routes that need a token when tokens are configured; [`router`] puts
/// [`require_token`] in front of all of them.
fn protected_routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(search))
        .routes(routes!(crate::insights::timeline))
        .routes(routes!(crate::insights::share_of_voice))
        .routes(routes!(crate::insights::top_sources))
        .routes(routes!(crate::insights::top_authors))
        .routes(routes!(crate::insights::top_terms))
        .routes(routes!(list_incidents))
        .routes(routes!(ack_incident))
        .routes(routes!(resolve_incident))
        .routes(routes!(snooze_incident))
        .routes(routes!(list_silences, add_silence))
        .routes(routes!(expire_silence))
        .routes(routes!(sources))
        .routes(routes!(label_post))
        .routes(routes!(crate::admin_api::audit_export))
        .routes(routes!(crate::admin_api::erase))
        .routes(routes!(crate::detail_api::whoami))
        .routes(routes!(crate::detail_api::brands))
        .routes(routes!(crate::detail_api::incident_detail))
}

/// Refuses a request without a valid token (401) before its parameters are even read;
/// the handler then checks the role it needs with [`authorize`].
async fn require_token(
    State(services): State<Arc<Services>>,
    request: Request,
    next: Next,
) -> Response {
    match authorize(&services, request.headers(), Role::Viewer) {
        Ok(_) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// `Path` whose rejection is a JSON 400 naming the problem.
pub(crate) struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection| bad_request(rejection.body_text()))
    }
}

/// `Query` whose rejection is a JSON 400 naming the parameter.
pub(crate) struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        QueryParams::<T>::from_request_parts(parts, state)
            .await
            .map(|QueryParams(value)| ApiQuery(value))
            .map_err(|rejection: QueryRejection| bad_request(rejection.body_text()))
    }
}

/// `min_score` and `max_score` as given, checked before `SearchParams` narrows them to
/// `f32`, where 1.0000000000000002 rounds to 1 and would pass.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ScoreBounds {
    min_score: Option<f64>,
    max_score: Option<f64>,
}

impl ScoreBounds {
    pub(crate) fn check(&self) -> ApiResult<()> {
        for (name, bound) in [("min_score", self.min_score), ("max_score", self.max_score)] {
            if let Some(score) = bound
                && !(-1.0..=1.0).contains(&score)
            {
                return Err(bad_request(format!(
                    "{name} {score} is outside the scores' range -1..1"
                )));
            }
        }
        Ok(())
    }
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

/// Liveness: answers while the daemon runs. Needs no token.
#[utoipa::path(
    get, path = "/healthz", tag = "meta", security(()),
    responses((status = 200, description = "The daemon is up", body = schemas::Health))
)]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// This document: the OpenAPI 3.1 description of the API. Needs no token.
#[utoipa::path(
    get, path = "/api/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI document", body = Object,
        content_type = "application/json"))
)]
async fn openapi_json() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT.as_str(),
    )
        .into_response()
}

/// Hits per page through the API are capped here; exports go through the CLI.
const API_MAX_LIMIT: usize = 1_000;

/// Searches captured mentions, a page at a time (newest first for `q=*`, else by
/// relevance); `next_cursor` continues after the last hit.
#[utoipa::path(
    get, path = "/api/search", tag = "search",
    params(schemas::Filters, schemas::SearchPaging),
    responses(
        (status = 200, description = "One page of hits", body = schemas::SearchResults),
        (status = 400, description = "A bad parameter (the message names it) or query",
            body = schemas::ErrorBody),
    )
)]
async fn search(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<crate::search::SearchParams>,
    ApiQuery(scores): ApiQuery<ScoreBounds>,
) -> ApiResult<Json<vigil_index::SearchResults>> {
    authorize(&services, &headers, Role::Viewer)?;
    scores.check()?;
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentParams {
    /// Only incidents in this state (default: all).
    #[param(value_type = Option<schemas::IncidentStatus>, inline)]
    status: Option<String>,
}

/// An incident as the API lists it: the incident plus `silenced_until`, the end of the
/// latest active silence or snooze that mutes it (`null` when none does).
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentView {
    #[serde(flatten)]
    #[schema(value_type = schemas::Incident)]
    pub(crate) incident: Incident,
    #[schema(required = true)]
    pub(crate) silenced_until: Option<DateTime<Utc>>,
}

/// Incidents, newest first, with their response deadlines and whether a silence or
/// snooze mutes them.
#[utoipa::path(
    get, path = "/api/incidents", tag = "incidents",
    params(IncidentParams),
    responses(
        (status = 200, description = "Incidents, newest first", body = Vec<IncidentView>),
        (status = 400, description = "Unknown status", body = schemas::ErrorBody),
    )
)]
async fn list_incidents(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<IncidentParams>,
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

/// The optional body of acknowledging or resolving an incident.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ActionBody {
    /// Who is acting (default: the token's name).
    by: Option<String>,
    /// Recorded with the incident.
    note: Option<String>,
}

/// An optional JSON body: absent when the request has no `Content-Type`, or is `null`.
type OptionalJson<T> = Result<Option<Json<Option<T>>>, JsonRejection>;

async fn incident_action(
    services: Arc<Services>,
    headers: HeaderMap,
    id: i64,
    body: OptionalJson<ActionBody>,
    resolve: bool,
) -> ApiResult<Json<vigil_core::Incident>> {
    let (token_name, _) = authorize(&services, &headers, Role::Responder)?;
    let body = body
        .map_err(|rejection| {
            bad_request(format!(
                "expected no body or a JSON object {{\"by\"?: NAME, \"note\"?: TEXT}}: {}",
                rejection.body_text()
            ))
        })?
        .and_then(|Json(b)| b)
        .unwrap_or_default();
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

/// Acknowledges an incident (responder role): stops its reminders and escalation.
#[utoipa::path(
    post, path = "/api/incidents/{id}/ack", tag = "incidents",
    security(("bearer" = ["responder"])),
    params(("id" = i64, Path, description = "The incident's id")),
    request_body(content = Option<ActionBody>, description = "Who and why (optional)"),
    responses(
        (status = 200, description = "The acknowledged incident", body = schemas::Incident),
        (status = 400, description = "A bad id or body", body = schemas::ErrorBody),
        (status = 404, description = "No such incident", body = schemas::ErrorBody),
        (status = 409, description = "The incident is already resolved", body = schemas::ErrorBody),
    )
)]
async fn ack_incident(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: OptionalJson<ActionBody>,
) -> ApiResult<Json<vigil_core::Incident>> {
    incident_action(services, headers, id, body, false).await
}

/// Resolves an incident (responder role): cancels what it had still to send.
/// Resolving a resolved incident returns it unchanged.
#[utoipa::path(
    post, path = "/api/incidents/{id}/resolve", tag = "incidents",
    security(("bearer" = ["responder"])),
    params(("id" = i64, Path, description = "The incident's id")),
    request_body(content = Option<ActionBody>, description = "Who and why (optional)"),
    responses(
        (status = 200, description = "The resolved incident", body = schemas::Incident),
        (status = 400, description = "A bad id or body", body = schemas::ErrorBody),
        (status = 404, description = "No such incident", body = schemas::ErrorBody),
    )
)]
async fn resolve_incident(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: OptionalJson<ActionBody>,
) -> ApiResult<Json<vigil_core::Incident>> {
    incident_action(services, headers, id, body, true).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SilenceListParams {
    /// Include silences that have ended.
    #[serde(default)]
    #[param(required = false)]
    all: bool,
}

/// Silences and snoozes that have not ended (with `?all=true`, ended ones too), by end
/// time; the same records as `vigil incidents silences --format json`.
#[utoipa::path(
    get, path = "/api/silences", tag = "incidents",
    params(SilenceListParams),
    responses(
        (status = 200, description = "Silences and snoozes by end time", body = Vec<schemas::Silence>),
        (status = 400, description = "`all` is not true or false", body = schemas::ErrorBody),
    )
)]
async fn list_silences(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    params: Result<QueryParams<SilenceListParams>, QueryRejection>,
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

// The handler reads the body field by field (`string_fields` with `SILENCE_FIELDS`) so
// that every 400 names the field; this is its description.
/// A silence: which incidents (`brand` and/or `rule`) and until when (`duration` or
/// `ends_at`). `null` counts as absent; other fields are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Only its schema is used.
struct NewSilenceBody {
    /// Silence this brand's incidents (with `rule`: that rule's on this brand).
    #[schema(min_length = 1)]
    brand: Option<String>,
    /// Silence this rule's incidents.
    #[schema(min_length = 1)]
    rule: Option<String>,
    /// How long from now, like `2h` or `1h30m` (or give `ends_at`).
    #[schema(example = "2h", pattern = r"^([0-9][0-9_]*(ms|s|m|h|d|w))+$")]
    duration: Option<String>,
    /// When it ends, RFC 3339, in the future and before the year 10000 (or give
    /// `duration`).
    ends_at: Option<DateTime<Utc>>,
    /// Why; recorded as the silence's `reason`.
    comment: Option<String>,
}

// Read like `NewSilenceBody`, with `SNOOZE_FIELDS`.
/// A snooze: until when (`duration` or `until`). `null` counts as absent; other fields
/// are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Only its schema is used.
struct SnoozeBody {
    /// How long from now, like `30m` (or give `until`).
    #[schema(example = "30m", pattern = r"^([0-9][0-9_]*(ms|s|m|h|d|w))+$")]
    duration: Option<String>,
    /// When it ends, RFC 3339, in the future and before the year 10000 (or give
    /// `duration`).
    until: Option<DateTime<Utc>>,
    /// Why; recorded as the snooze's `reason`.
    comment: Option<String>,
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// The fields of a JSON object body whose fields are all optional strings (`null` counts
/// as absent). Unknown fields are refused, so a misspelt matcher cannot silently widen a
/// silence to every incident; every 400 names the field at fault.
fn string_fields(
    body: Result<Json<serde_json::Value>, JsonRejection>,
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
    // The store writes times as RFC 3339, which has four-digit years: a silence ending
    // in the year 10000 could be written but never read back, and every later listing
    // (and the alert engine's check for silences) would fail.
    if ends_at.year() > 9999 {
        return Err(bad_request(format!(
            "{end_field}: a silence must end before the year 10000"
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
#[utoipa::path(
    post, path = "/api/silences", tag = "incidents",
    security(("bearer" = ["responder"])),
    request_body(content = NewSilenceBody, description = "`brand` and/or `rule`, and \
        `duration` or `ends_at`; `null` counts as absent"),
    responses(
        (status = 201, description = "The silence", body = schemas::Silence),
        (status = 400, description = "A bad body; the message names the field",
            body = schemas::ErrorBody),
    )
)]
async fn add_silence(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    body: Result<Json<serde_json::Value>, JsonRejection>,
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
#[utoipa::path(
    post, path = "/api/incidents/{id}/snooze", tag = "incidents",
    security(("bearer" = ["responder"])),
    params(("id" = i64, Path, description = "The incident's id")),
    request_body(content = SnoozeBody, description = "`duration` or `until`; `null` \
        counts as absent"),
    responses(
        (status = 201, description = "The snooze: a silence naming the incident",
            body = schemas::Silence),
        (status = 400, description = "A bad id or body; the message names the field",
            body = schemas::ErrorBody),
        (status = 404, description = "No such incident", body = schemas::ErrorBody),
    )
)]
async fn snooze_incident(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
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
#[utoipa::path(
    delete, path = "/api/silences/{id}", tag = "incidents",
    security(("bearer" = ["responder"])),
    params(("id" = i64, Path, description = "The silence's id")),
    responses(
        (status = 200, description = "The silence, ending now", body = schemas::Silence),
        (status = 400, description = "A bad id", body = schemas::ErrorBody),
        (status = 404, description = "No such silence", body = schemas::ErrorBody),
        (status = 409, description = "The silence has already ended", body = schemas::ErrorBody),
    )
)]
async fn expire_silence(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
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

#[derive(Debug, Deserialize, ToSchema)]
struct LabelBody {
    #[schema(value_type = schemas::Label)]
    label: String,
    /// Who is correcting (default: the token's name).
    #[schema(min_length = 1, pattern = r"\S")]
    by: Option<String>,
}

/// An analyst's correction (responder role): stored and audited with who/when, and the
/// index stage is woken to re-add the post so search shows the label at once.
#[utoipa::path(
    post, path = "/api/posts/{id}/label", tag = "posts",
    security(("bearer" = ["responder"])),
    params(("id" = String, Path, description = "The post's id (`id` of a search hit)")),
    request_body(content = LabelBody),
    responses(
        (status = 200, description = "The stored correction", body = schemas::Correction),
        (status = 400, description = "A bad body", body = schemas::ErrorBody),
        (status = 404, description = "No stored post has this id", body = schemas::ErrorBody),
    )
)]
async fn label_post(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    body: Result<Json<LabelBody>, JsonRejection>,
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

/// Health of every configured source: when it last ran, failed and succeeded.
#[utoipa::path(
    get, path = "/api/sources", tag = "sources",
    responses((status = 200, description = "Every configured source", body = schemas::SourceList))
)]
async fn sources(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    authorize(&services, &headers, Role::Viewer)?;
    let checkpoints = services.store.checkpoints().map_err(ApiError::internal)?;
    let rows = crate::health::source_health(&services.config, &checkpoints, services.clock.now());
    Ok(Json(serde_json::json!({ "sources": rows })))
}

/// Prometheus metrics: posts stored and indexed, incidents by status, the outbox, and
/// per-source health.
#[utoipa::path(
    get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String,
        content_type = "text/plain"))
)]
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

    /// The documented bodies of silences and snoozes name exactly the fields the
    /// handlers read.
    #[test]
    fn documented_silence_bodies_match_the_fields_read() {
        fn properties<T: utoipa::PartialSchema>() -> Vec<String> {
            let schema = serde_json::to_value(T::schema()).unwrap();
            let mut names: Vec<String> = schema["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            names.sort();
            names
        }
        let sorted = |fields: &[&str]| {
            let mut names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            names.sort();
            names
        };
        assert_eq!(properties::<NewSilenceBody>(), sorted(SILENCE_FIELDS));
        assert_eq!(properties::<SnoozeBody>(), sorted(SNOOZE_FIELDS));
    }

    #[test]
    fn secret_comparison() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "a"));
    }
}
