//! The admin role's API: `GET /api/audit/export` streams the same export as `vigil
//! audit export` (attributed to the token's name in the `audit_export` entry), and
//! `POST /api/erasures` erases by author or URL like `vigil erase` — while the daemon
//! runs, which the CLI cannot (the daemon holds the index).

use std::io::Write;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::warn;
use utoipa::ToSchema;
use vigil_config::Role;
use vigil_store::ErasureTarget;

use crate::cli::{ExportFormat, ExportKind};
use crate::http::{ApiError, ApiQuery, ApiResult, authorize};
use crate::openapi::schemas;
use crate::pipeline::Services;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Start of the period: RFC 3339, or relative (`24h`, `7d` ago).
    #[param(min_length = 1)]
    from: Option<String>,
    /// End of the period (exclusive): RFC 3339 or relative.
    #[param(min_length = 1)]
    to: Option<String>,
    /// `jsonl` (default) or `csv`.
    #[param(value_type = Option<String>, pattern = "^(jsonl|csv)$")]
    format: Option<String>,
    /// Comma-separated kinds of record: `audit`, `posts`, `incidents`, `notifications`
    /// (default all).
    only: Option<String>,
}

/// The records of a period with their hashes (audit entries, posts, incidents,
/// notifications), streamed: one JSON object per line (or a CSV row), then a `summary`
/// with the counts and the SHA-256 of all lines before it. The export is recorded in
/// the audit log under the token's name.
#[utoipa::path(
    get, path = "/api/audit/export", tag = "audit",
    params(ExportParams),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "JSON Lines (or CSV with format=csv), ending in a summary record",
            content(
                (String = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        (status = 400, description = "A bad time, format or kind", body = schemas::ErrorBody),
    )
)]
pub async fn audit_export(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    let (actor, _) = authorize(&services, &headers, Role::Admin)?;
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, message);
    let now = services.clock.now();
    let from =
        crate::context::parse_time(&params.from, now).map_err(|e| bad(format!("from: {e:#}")))?;
    let to = crate::context::parse_time(&params.to, now).map_err(|e| bad(format!("to: {e:#}")))?;
    let format = match params.format.as_deref() {
        None | Some("jsonl") => ExportFormat::Jsonl,
        Some("csv") => ExportFormat::Csv,
        Some(other) => return Err(bad(format!("format {other:?}: expected jsonl or csv"))),
    };
    let mut kinds = Vec::new();
    for kind in params
        .only
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
    {
        kinds.push(match kind {
            "" => continue,
            "audit" => ExportKind::Audit,
            "posts" => ExportKind::Posts,
            "incidents" => ExportKind::Incidents,
            "notifications" => ExportKind::Notifications,
            other => {
                return Err(bad(format!(
                    "only: unknown kind {other:?} (audit, posts, incidents, notifications)"
                )));
            }
        });
    }
    let (tx, rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(8);
    // The export gets its own connection: it reads row by row at the client's pace,
    // and the daemon's shared connection must not wait for a slow download.
    let store = vigil_store::Store::open_with_clock(
        &services.config.storage.data_dir,
        services.clock.clone(),
    )
    .map_err(ApiError::internal)?;
    // A blocking thread writes into the channel the response body reads from. A client
    // that goes away closes the channel, the next write fails and the export stops
    // (and is not recorded as done).
    tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, ChannelWriter(tx.clone()));
        let result = crate::audit_export::write_export(
            &store,
            from,
            to,
            &kinds,
            format,
            &actor,
            &mut out,
            &mut |_| {},
        );
        if let Err(error) = result.and_then(|_| out.flush().map_err(anyhow::Error::from)) {
            warn!(
                error = format!("{error:#}"),
                "audit export over the API stopped"
            );
            let _ = tx.blocking_send(Err(std::io::Error::other(error.to_string())));
        }
    });
    let stream = tokio_stream_from(rx);
    let content_type = match format {
        ExportFormat::Jsonl => "application/x-ndjson; charset=utf-8",
        ExportFormat::Csv => "text/csv; charset=utf-8",
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The receiving half as a stream of body chunks.
fn tokio_stream_from(
    mut rx: mpsc::Receiver<std::io::Result<Vec<u8>>>,
) -> impl futures::Stream<Item = std::io::Result<Vec<u8>>> {
    futures::stream::poll_fn(move |context| rx.poll_recv(context))
}

/// A `Write` that hands each buffer to the response body.
struct ChannelWriter(mpsc::Sender<std::io::Result<Vec<u8>>>);

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(bytes.to_vec()))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An erasure request: exactly one of `author` and `url`, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// Erase every post by this handle (and its pseudonyms, when authors are
    /// pseudonymized).
    author: Option<String>,
    /// Erase the posts at this URL (as given and in canonical form).
    url: Option<String>,
    /// Why (recorded in the tombstones and the audit log).
    #[schema(min_length = 1)]
    reason: String,
}

/// What an erasure removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureDone {
    /// Posts removed from the store, raw captures and the index.
    erased: usize,
    /// Their ids (the tombstones keep only these and content hashes).
    ids: Vec<String>,
    /// The audit entries recording the erasure (one per name erased).
    audit_seqs: Vec<i64>,
}

/// Erases posts by author or URL, like `vigil erase`, attributed to the token's name:
/// content leaves the store, raw captures and (at once, through the running daemon's
/// index stage) the index; tombstones with hashes and an `erasure` audit entry stay.
#[utoipa::path(
    post, path = "/api/erasures", tag = "audit",
    request_body = ErasureRequest,
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "Erased (possibly nothing)", body = ErasureDone),
        (status = 400, description = "Not exactly one of author and url, or no reason", body = schemas::ErrorBody),
    )
)]
pub async fn erase(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    body: Result<Json<ErasureRequest>, JsonRejection>,
) -> ApiResult<Json<ErasureDone>> {
    let (actor, _) = authorize(&services, &headers, Role::Admin)?;
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, message);
    let Json(request) = body.map_err(|rejection| {
        bad(format!(
            "expected {{\"author\" | \"url\", \"reason\"}}: {}",
            rejection.body_text()
        ))
    })?;
    if request.reason.trim().is_empty() {
        return Err(bad("reason must say why (it is recorded)".into()));
    }
    let store = services.store.clone();
    let targets = match (request.author, request.url) {
        (Some(author), None) if !author.trim().is_empty() => {
            tokio::task::block_in_place(|| crate::commands::author_names(&store, &author))
                .map_err(ApiError::internal)?
                .into_iter()
                .map(ErasureTarget::Author)
                .collect::<Vec<_>>()
        }
        (None, Some(url)) if !url.trim().is_empty() => vec![ErasureTarget::Url(url)],
        _ => return Err(bad("give exactly one of author or url".into())),
    };
    let mut done = ErasureDone {
        erased: 0,
        ids: Vec::new(),
        audit_seqs: Vec::new(),
    };
    for target in &targets {
        let report =
            tokio::task::block_in_place(|| store.erase_posts(target, &request.reason, &actor))
                .map_err(ApiError::internal)?;
        done.erased += report.ids.len();
        done.ids.extend(report.ids.iter().cloned());
        done.audit_seqs.extend(report.audit_seq);
        if !report.ids.is_empty() {
            // The index stage removes them from the index (start-up repair does if the
            // daemon stops first).
            let _ = services.erased.send(report);
        }
    }
    Ok(Json(done))
}
