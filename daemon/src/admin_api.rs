//! The admin role's API: `GET /api/audit/export` streams the same export as `vigil
//! audit export` (attributed to the token's name in the `audit_export` entry).

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;
use tracing::warn;
use vigil_config::Role;

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
        let result =
            crate::audit_export::write_export(&store, from, to, &kinds, format, &actor, &mut out);
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
