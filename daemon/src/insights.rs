//! The aggregation endpoints for dashboards: mentions over time, share of voice, top
//! sources, top authors and "what is this spike about" (top terms against a baseline).
//! Every one takes the search filters of `/api/search` (`q`, `brand`, `source`,
//! `sentiment`, `lang`, `from`, `to`, …) plus its own parameters.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use vigil_config::Role;
use vigil_index::{
    AggregateError, AuthorStats, BrandShare, Interval, SearchIndex, SearchRequest, SourceStats,
    Timeline, TimelineOptions, TopTerms,
};

use crate::http::{ApiError, ApiQuery, ApiResult, ScoreBounds, authorize};
use crate::openapi::schemas;
use crate::pipeline::Services;
use crate::search::SearchParams;

/// Rows returned by the top-N endpoints unless `limit` says otherwise, and the most
/// they return.
const DEFAULT_TOP: usize = 10;
const MAX_TOP: usize = 1_000;

/// Parameters of the aggregation endpoints beyond the search filters.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AggregateParams {
    /// `hour` or `day` (timeline; default `day`).
    interval: Option<String>,
    /// Leave near-duplicate copies out (timeline; default false: count every post).
    originals_only: Option<bool>,
    /// Comma-separated brands (share of voice; default every configured brand).
    brands: Option<String>,
    /// Rows (top sources, authors, terms).
    limit: Option<usize>,
    /// The window the period is compared with (top terms; default the 7 days before
    /// `from`).
    baseline_from: Option<String>,
    baseline_to: Option<String>,
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

fn aggregate_error(error: AggregateError) -> ApiError {
    if error.is_bad_request() {
        bad_request(error.to_string())
    } else {
        ApiError::internal(error)
    }
}

/// The filter of a request and its `[from, to)` range, `to` defaulting to now and
/// `from` to `default_span` before `to`.
fn filter_and_range(
    params: &SearchParams,
    now: DateTime<Utc>,
    default_span: Duration,
) -> ApiResult<(SearchRequest, DateTime<Utc>, DateTime<Utc>)> {
    let mut filter = params.to_request(now, 0).map_err(bad_request)?;
    filter.highlight = false;
    let to = filter.to.unwrap_or(now);
    let from = match filter.from {
        Some(from) => from,
        None => earlier(to, default_span, "to")?,
    };
    if from > to {
        return Err(bad_request(format!("from ({from}) is after to ({to})")));
    }
    Ok((filter, from, to))
}

/// `time - span`, or a 400 naming `field` when that is before the earliest time there is.
fn earlier(time: DateTime<Utc>, span: Duration, field: &str) -> ApiResult<DateTime<Utc>> {
    time.checked_sub_signed(span)
        .ok_or_else(|| bad_request(format!("{field} ({time}) is too early")))
}

/// Runs an aggregation on the blocking pool: they read many documents.
async fn blocking<T: Send + 'static>(
    services: &Arc<Services>,
    work: impl FnOnce(&SearchIndex) -> Result<T, AggregateError> + Send + 'static,
) -> ApiResult<T> {
    let index = services.index.clone();
    tokio::task::spawn_blocking(move || work(&index))
        .await
        .map_err(ApiError::internal)?
        .map_err(aggregate_error)
}

/// The parameters of each endpoint, as documented: the handlers read them all from
/// [`AggregateParams`].
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Only its description is used.
struct TimelineParams {
    /// Bucket width (default `day`).
    #[param(inline)]
    interval: Option<schemas::Interval>,
    /// Leave near-duplicate copies out (default false: count every post).
    originals_only: Option<bool>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Only its description is used.
struct ShareParams {
    /// Comma-separated brands (default: every configured brand).
    #[param(example = "Acme,Globex")]
    brands: Option<String>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Only its description is used.
struct TopParams {
    /// Rows (default 10; at most 1000, larger values are capped).
    #[param(minimum = 1, format = "uint64")]
    limit: Option<u64>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Only its description is used.
struct TopTermsParams {
    /// Terms (default 20; at most 1000, larger values are capped).
    #[param(minimum = 1, format = "uint64")]
    limit: Option<u64>,
    /// Start of the window the period is compared with (default 7 days before
    /// `baseline_to`); same forms as `from`.
    #[param(min_length = 1)]
    baseline_from: Option<String>,
    /// End of the baseline window (default `from`).
    #[param(min_length = 1)]
    baseline_to: Option<String>,
}

/// `GET /api/timeline`: mentions per hour or day per sentiment label with the mean
/// score; default the last 30 days by day, or the last 48 hours by hour.
#[utoipa::path(
    get, path = "/api/timeline", tag = "search",
    params(schemas::Filters, TimelineParams),
    responses(
        (status = 200, description = "Buckets, oldest first", body = schemas::Timeline),
        (status = 400, description = "A bad parameter, or too many buckets", body = schemas::ErrorBody),
    )
)]
pub async fn timeline(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiQuery(filters): ApiQuery<SearchParams>,
    ApiQuery(scores): ApiQuery<ScoreBounds>,
    ApiQuery(params): ApiQuery<AggregateParams>,
) -> ApiResult<Json<Timeline>> {
    authorize(&services, &headers, Role::Viewer)?;
    scores.check()?;
    let interval: Interval = params
        .interval
        .as_deref()
        .unwrap_or("day")
        .parse()
        .map_err(|e: AggregateError| bad_request(e.to_string()))?;
    let span = match interval {
        Interval::Hour => Duration::hours(48),
        Interval::Day => Duration::days(30),
    };
    let (filter, from, to) = filter_and_range(&filters, Utc::now(), span)?;
    let options = TimelineOptions {
        originals_only: params.originals_only.unwrap_or(false),
    };
    let timeline = blocking(&services, move |index| {
        index.timeline_with(&filter, interval, from, to, options)
    })
    .await?;
    Ok(Json(timeline))
}

/// `GET /api/share_of_voice`: each brand's mentions and share in the range (default
/// the last 30 days).
#[utoipa::path(
    get, path = "/api/share_of_voice", tag = "search",
    params(schemas::Filters, ShareParams),
    responses(
        (status = 200, description = "One row per brand asked about", body = Vec<schemas::BrandShare>),
        (status = 400, description = "A bad parameter", body = schemas::ErrorBody),
    )
)]
pub async fn share_of_voice(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiQuery(filters): ApiQuery<SearchParams>,
    ApiQuery(scores): ApiQuery<ScoreBounds>,
    ApiQuery(params): ApiQuery<AggregateParams>,
) -> ApiResult<Json<Vec<BrandShare>>> {
    authorize(&services, &headers, Role::Viewer)?;
    scores.check()?;
    let (mut filter, from, to) = filter_and_range(&filters, Utc::now(), Duration::days(30))?;
    (filter.from, filter.to) = (Some(from), Some(to));
    let brands: Vec<String> = match params.brands.as_deref().filter(|b| !b.trim().is_empty()) {
        Some(list) => list.split(',').map(|b| b.trim().to_string()).collect(),
        None => services
            .config
            .brands
            .iter()
            .map(|b| b.name.clone())
            .collect(),
    };
    let shares = blocking(&services, move |index| {
        index.share_of_voice(&filter, &brands)
    })
    .await?;
    Ok(Json(shares))
}

fn top_limit(params: &AggregateParams) -> ApiResult<usize> {
    match params.limit {
        Some(0) => Err(bad_request("limit must be at least 1")),
        Some(limit) => Ok(limit.min(MAX_TOP)),
        None => Ok(DEFAULT_TOP),
    }
}

/// `GET /api/top/sources`: the sources with the most matching posts in the range
/// (default the last 30 days).
#[utoipa::path(
    get, path = "/api/top/sources", tag = "search",
    params(schemas::Filters, TopParams),
    responses(
        (status = 200, description = "Sources, most posts first", body = Vec<schemas::SourceStats>),
        (status = 400, description = "A bad parameter", body = schemas::ErrorBody),
    )
)]
pub async fn top_sources(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiQuery(filters): ApiQuery<SearchParams>,
    ApiQuery(scores): ApiQuery<ScoreBounds>,
    ApiQuery(params): ApiQuery<AggregateParams>,
) -> ApiResult<Json<Vec<SourceStats>>> {
    authorize(&services, &headers, Role::Viewer)?;
    scores.check()?;
    let limit = top_limit(&params)?;
    let (mut filter, from, to) = filter_and_range(&filters, Utc::now(), Duration::days(30))?;
    (filter.from, filter.to) = (Some(from), Some(to));
    let rows = blocking(&services, move |index| index.top_sources(&filter, limit)).await?;
    Ok(Json(rows))
}

/// `GET /api/top/authors`: the authors with the most reach in the range (default the
/// last 30 days).
#[utoipa::path(
    get, path = "/api/top/authors", tag = "search",
    params(schemas::Filters, TopParams),
    responses(
        (status = 200, description = "Authors, most reach first", body = Vec<schemas::AuthorStats>),
        (status = 400, description = "A bad parameter", body = schemas::ErrorBody),
    )
)]
pub async fn top_authors(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiQuery(filters): ApiQuery<SearchParams>,
    ApiQuery(scores): ApiQuery<ScoreBounds>,
    ApiQuery(params): ApiQuery<AggregateParams>,
) -> ApiResult<Json<Vec<AuthorStats>>> {
    authorize(&services, &headers, Role::Viewer)?;
    scores.check()?;
    let limit = top_limit(&params)?;
    let (mut filter, from, to) = filter_and_range(&filters, Utc::now(), Duration::days(30))?;
    (filter.from, filter.to) = (Some(from), Some(to));
    let rows = blocking(&services, move |index| index.top_authors(&filter, limit)).await?;
    Ok(Json(rows))
}

/// `GET /api/top/terms`: terms over-represented in `[from, to)` (default the last 24
/// hours) against `[baseline_from, baseline_to)` (default the 7 days before `from`).
#[utoipa::path(
    get, path = "/api/top/terms", tag = "search",
    params(schemas::Filters, TopTermsParams),
    responses(
        (status = 200, description = "The windows and their terms", body = schemas::TopTerms),
        (status = 400, description = "A bad parameter", body = schemas::ErrorBody),
    )
)]
pub async fn top_terms(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    ApiQuery(filters): ApiQuery<SearchParams>,
    ApiQuery(scores): ApiQuery<ScoreBounds>,
    ApiQuery(params): ApiQuery<AggregateParams>,
) -> ApiResult<Json<TopTerms>> {
    authorize(&services, &headers, Role::Viewer)?;
    scores.check()?;
    let limit = match params.limit {
        None => 20,
        Some(_) => top_limit(&params)?,
    };
    let now = Utc::now();
    let (mut filter, from, to) = filter_and_range(&filters, now, Duration::hours(24))?;
    // The windows replace the filter's own time range.
    (filter.from, filter.to) = (None, None);
    let time = |value: &Option<String>, name: &str| {
        value
            .as_deref()
            .map(|t| {
                vigil_core::time::parse_time_arg(t, now)
                    .map_err(|e| bad_request(format!("{name}: {e}")))
            })
            .transpose()
    };
    let baseline_to = time(&params.baseline_to, "baseline_to")?.unwrap_or(from);
    let baseline_from = match time(&params.baseline_from, "baseline_from")? {
        Some(baseline_from) => baseline_from,
        None => earlier(baseline_to, Duration::days(7), "baseline_to")?,
    };
    let terms = blocking(&services, move |index| {
        index.top_terms(&filter, from, to, baseline_from, baseline_to, limit)
    })
    .await?;
    Ok(Json(terms))
}
