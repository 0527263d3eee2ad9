//! The OpenAPI 3.1 description of the HTTP API, served at `GET /api/openapi.json`.
//!
//! Operations are described where they are implemented, by `#[utoipa::path]` on each
//! handler in `http.rs` and `insights.rs`, and collected by utoipa-axum's `routes!`
//! when `http::api_routes` builds the router: a route cannot be served without being
//! described. This module adds what is common to all of them:
//!
//! - the `bearer` security scheme, required by every operation unless the operation
//!   says `security(())` (public: `/healthz` and this document). An operation that needs
//!   more than the viewer role names it as the requirement's scope
//!   (`security(("bearer" = ["responder"]))`), as OpenAPI 3.1 allows for non-OAuth
//!   schemes;
//! - the 401 (every protected operation), 403 (operations needing more than a viewer)
//!   and 500 (every protected operation) responses, added by [`add_common_responses`]
//!   from the security requirement, so a new route cannot forget them;
//! - schemas of the types the handlers return that live in other crates (which do not
//!   depend on utoipa), mirrored in [`schemas`] field for field. The `openapi` test
//!   validates real responses of the running daemon against them, and schemathesis
//!   (`scripts/schemathesis.sh`) does the same for generated requests.

use std::sync::LazyLock;

use serde_json::{Value, json};
use utoipa::OpenApi;

/// The document's fixed part; `http::api_routes` adds the paths.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigil API",
        description = "Brand mentions, their sentiment and the incidents they open. \
            When `[[server.tokens]]` are configured every operation except `/healthz` and \
            `/api/openapi.json` needs `Authorization: Bearer TOKEN`; an operation whose \
            security requirement names a role (`responder`, `admin`) needs a token of at \
            least that role (viewer < responder < admin). Without tokens the API is open. \
            Errors are JSON objects `{\"error\": \"...\"}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    security(("bearer" = [])),
    tags(
        (name = "meta", description = "Health, metrics and this document"),
        (name = "search", description = "Captured mentions and aggregations over them"),
        (name = "incidents", description = "Incidents, their response clock, silences and snoozes"),
        (name = "sources", description = "Source health"),
        (name = "posts", description = "Analysts' corrections"),
    )
)]
pub struct ApiDoc;

/// The document as served, built once.
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| document().to_string());

/// The whole document: [`ApiDoc`], the paths of `http::api_routes`, the security scheme
/// and the common responses.
pub fn document() -> Value {
    let openapi = crate::http::api_routes().into_openapi();
    let mut document = serde_json::to_value(openapi).expect("an OpenAPI document serializes");
    add_common_responses(&mut document);
    document
}

/// Adds the bearer scheme and, to every operation that needs a token, the 401 and 500
/// responses (and 403 when it needs more than the viewer role).
fn add_common_responses(document: &mut Value) {
    let error = json!({"$ref": "#/components/schemas/ErrorBody"});
    let response = |description: &str| json!({"description": description, "content": {"application/json": {"schema": error}}});
    document["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A token of `[[server.tokens]]` (read from its `token_env` or \
                `token_file`); its `role` decides what it may do."
        }
    });
    document["components"]["responses"] = json!({
        "Unauthorized": response("No `Authorization: Bearer TOKEN` header, or an unknown token."),
        "Forbidden": response("The token's role is below the one this operation needs."),
        "InternalError": response("The store or the index failed; details are in the daemon's log."),
    });
    let global = document["security"].clone();
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if !is_method(method) {
                continue;
            }
            let security = operation.get("security").unwrap_or(&global).clone();
            let requirements = security.as_array().cloned().unwrap_or_default();
            // `[{}]` (or no requirement at all): anonymous callers are welcome.
            let public = requirements.is_empty()
                || requirements
                    .iter()
                    .any(|r| r.as_object().is_some_and(|r| r.is_empty()));
            if public {
                continue;
            }
            let needs_role = requirements.iter().all(|requirement| {
                requirement.as_object().is_some_and(|r| {
                    r.values()
                        .any(|scopes| scopes.as_array().is_some_and(|s| !s.is_empty()))
                })
            });
            let responses = &mut operation["responses"];
            responses["401"] = json!({"$ref": "#/components/responses/Unauthorized"});
            if needs_role {
                responses["403"] = json!({"$ref": "#/components/responses/Forbidden"});
            }
            responses["500"] = json!({"$ref": "#/components/responses/InternalError"});
        }
    }
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
    )
}

/// Schemas of the API's bodies. Types of other crates are mirrored here field for field
/// (same names, same serde shape); the daemon's own request and response types derive
/// `ToSchema` where they are defined.
#[allow(dead_code)] // Only their schemas are used.
pub mod schemas {
    use chrono::{DateTime, Utc};
    use serde::Serialize;
    use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
    use utoipa::{IntoParams, ToSchema};

    /// Every error answer.
    #[derive(Serialize, ToSchema)]
    pub struct ErrorBody {
        /// What went wrong, for a person.
        pub error: String,
    }

    /// `GET /healthz`.
    #[derive(Serialize, ToSchema)]
    pub struct Health {
        pub status: HealthStatus,
    }

    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum HealthStatus {
        Ok,
    }

    // Mirrors `vigil_core::Label`.
    /// A sentiment label.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum Label {
        Negative,
        Neutral,
        Positive,
    }

    // Mirrors `vigil_index::Interval`.
    /// Width of a timeline bucket, aligned to UTC hours or midnights.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum Interval {
        Hour,
        Day,
    }

    // Mirrors `vigil_core::Severity`.
    /// How serious an incident is.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum Severity {
        Info,
        Warning,
        Crisis,
    }

    // Mirrors `vigil_core::IncidentStatus`.
    /// Where an incident is in its response.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum IncidentStatus {
        Open,
        Acknowledged,
        Resolved,
    }

    // Mirrors `search::SearchParams`, less paging.
    /// The search filters every search and aggregation endpoint takes. Empty `brand`,
    /// `source`, `sentiment` and `lang` count as absent.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct Filters {
        /// The query (see docs/query-language.md): terms, "phrases", AND/OR/NOT,
        /// parentheses, `*` wildcards, field operators; `*` (the default) matches
        /// every post.
        #[param(example = "acme AND recall")]
        pub q: Option<String>,
        /// Only posts mentioning this brand.
        pub brand: Option<String>,
        /// Only posts of this source.
        pub source: Option<String>,
        /// Only posts with this label (empty: any).
        #[param(schema_with = sentiment_filter)]
        pub sentiment: Option<String>,
        /// Only posts in this language (`en`, `zh`, …).
        pub lang: Option<String>,
        /// Published at or after: RFC 3339, a date (`2024-05-01`, midnight UTC), `now`,
        /// or a duration meaning that long ago (`24h`, `7d`).
        #[param(example = "7d", min_length = 1)]
        pub from: Option<String>,
        /// Published before; same forms as `from`.
        #[param(min_length = 1)]
        pub to: Option<String>,
        /// Lowest sentiment score.
        #[param(minimum = -1, maximum = 1)]
        pub min_score: Option<f64>,
        /// Highest sentiment score.
        #[param(minimum = -1, maximum = 1)]
        pub max_score: Option<f64>,
        /// Least reach (likes + reposts + replies + score, as the source reported them).
        #[param(format = "uint64")]
        pub min_reach: Option<u64>,
    }

    /// A `Label` as a filter: empty means no filter, as HTML forms send it.
    fn sentiment_filter() -> Object {
        optional_enum(&["negative", "neutral", "positive"])
    }

    fn sort_order() -> Object {
        optional_enum(&["relevance", "time", "newest", "oldest"])
    }

    /// A string that is one of `values`, or empty (treated as absent).
    fn optional_enum(values: &[&str]) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values.iter().copied().chain([""])))
            .build()
    }

    /// Paging and presentation of `/api/search`.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct SearchPaging {
        /// Order of the hits; `time` is `newest`. Default (or empty): `newest` for
        /// `q=*`, else `relevance`.
        #[param(schema_with = sort_order)]
        pub sort: Option<String>,
        /// Hits per page (default 20, at most 1000: larger values are capped).
        #[param(format = "uint64")]
        pub limit: Option<u64>,
        /// Hits to skip (relevance order).
        #[param(format = "uint64")]
        pub offset: Option<u64>,
        /// `next_cursor` of the previous page.
        pub cursor: Option<String>,
        /// Highlighted snippets (default true).
        pub highlight: Option<bool>,
    }

    // Mirrors `vigil_index::SearchResults`.
    /// One page of search hits.
    #[derive(Serialize, ToSchema)]
    pub struct SearchResults {
        /// Every matching post, not just this page.
        pub total: u64,
        pub hits: Vec<Hit>,
        /// Pass as `cursor` to get the next page; absent on the last page.
        #[schema(nullable = false)]
        pub next_cursor: Option<String>,
    }

    // Mirrors `vigil_index::Hit`.
    /// One post as search returns it.
    #[derive(Serialize, ToSchema)]
    pub struct Hit {
        pub id: String,
        #[schema(required = true)]
        pub url: Option<String>,
        pub source: String,
        #[schema(required = true)]
        pub author: Option<String>,
        pub published_at: DateTime<Utc>,
        #[schema(required = true)]
        pub title: Option<String>,
        pub text: String,
        pub brands: Vec<String>,
        #[schema(required = true)]
        pub lang: Option<String>,
        /// `null` until the post is classified.
        #[schema(required = true)]
        pub sentiment: Option<HitSentiment>,
        /// BM25 score; 1.0 for every hit of `*`, which is ordered by time instead.
        pub relevance: f32,
        /// The original's id when this post is a (near) copy of another; `null` for
        /// originals.
        #[schema(required = true)]
        pub duplicate_of: Option<String>,
        /// Reach and rating as the source reported them; absent when it reported none.
        #[schema(nullable = false)]
        pub engagement: Option<Engagement>,
        /// The best passage with the matched terms marked; only when asked for.
        #[schema(nullable = false)]
        pub highlight: Option<Highlight>,
    }

    // Mirrors `vigil_index::HitSentiment`.
    /// A hit's sentiment.
    #[derive(Serialize, ToSchema)]
    pub struct HitSentiment {
        pub label: Label,
        /// -1 (most negative) ..= 1 (most positive).
        pub score: f32,
    }

    // Mirrors `vigil_core::Engagement`.
    /// Each count only when the source reports it.
    #[derive(Serialize, ToSchema)]
    pub struct Engagement {
        #[schema(nullable = false)]
        pub score: Option<i64>,
        #[schema(nullable = false)]
        pub likes: Option<i64>,
        #[schema(nullable = false)]
        pub reposts: Option<i64>,
        #[schema(nullable = false)]
        pub replies: Option<i64>,
        /// A review's star rating as given.
        #[schema(nullable = false)]
        pub rating: Option<f64>,
    }

    // Mirrors `vigil_index::Highlight`.
    /// A passage of a hit's text (or title) with the query's terms marked.
    #[derive(Serialize, ToSchema)]
    pub struct Highlight {
        /// The passage, plain text.
        pub fragment: String,
        /// Byte ranges `[start, end)` of `fragment` that matched, in order.
        pub ranges: Vec<[u64; 2]>,
        /// `fragment` HTML-escaped with each range wrapped in `<mark>`.
        pub html: String,
    }

    // Mirrors `vigil_index::Timeline`.
    /// Mentions over time.
    #[derive(Serialize, ToSchema)]
    pub struct Timeline {
        pub interval: Interval,
        /// The counted range `[from, to)`.
        pub from: DateTime<Utc>,
        pub to: DateTime<Utc>,
        /// True when copies were left out.
        pub originals_only: bool,
        pub total: u64,
        /// Every bucket from the one holding `from` to the one holding the last instant
        /// before `to`, oldest first, empty ones included.
        pub buckets: Vec<TimelineBucket>,
    }

    // Mirrors `vigil_index::TimelineBucket`.
    /// One hour or day of a timeline.
    #[derive(Serialize, ToSchema)]
    pub struct TimelineBucket {
        pub start: DateTime<Utc>,
        pub count: u64,
        #[serde(flatten)]
        pub labels: LabelCounts,
        /// Mean score of the scored posts; `null` when none is scored.
        #[schema(required = true)]
        pub mean_score: Option<f64>,
    }

    // Mirrors `vigil_index::LabelCounts`.
    /// Posts per label; `unscored` ones are not classified yet.
    #[derive(Serialize, ToSchema)]
    pub struct LabelCounts {
        pub negative: u64,
        pub neutral: u64,
        pub positive: u64,
        pub unscored: u64,
    }

    // Mirrors `vigil_index::BrandShare`.
    /// One brand's part of the conversation.
    #[derive(Serialize, ToSchema)]
    pub struct BrandShare {
        pub brand: String,
        pub mentions: u64,
        /// `mentions` over the mentions of all the brands asked about (0..1).
        pub share: f64,
        #[serde(flatten)]
        pub labels: LabelCounts,
        #[schema(required = true)]
        pub mean_score: Option<f64>,
    }

    // Mirrors `vigil_index::SourceStats`.
    /// A source and its matching posts.
    #[derive(Serialize, ToSchema)]
    pub struct SourceStats {
        pub source: String,
        pub count: u64,
        #[serde(flatten)]
        pub labels: LabelCounts,
        #[schema(required = true)]
        pub mean_score: Option<f64>,
    }

    // Mirrors `vigil_index::AuthorStats`.
    /// An author, their posts and reach (likes + reposts + replies + score).
    #[derive(Serialize, ToSchema)]
    pub struct AuthorStats {
        pub author: String,
        pub posts: u64,
        pub total_reach: u64,
        pub max_reach: u64,
        #[schema(required = true)]
        pub mean_score: Option<f64>,
    }

    // Mirrors `vigil_index::TopTerms`.
    /// Terms over-represented in a period against a baseline.
    #[derive(Serialize, ToSchema)]
    pub struct TopTerms {
        pub period: WindowSample,
        pub baseline: WindowSample,
        /// Most over-represented first; terms of the filter's brand after all others.
        pub terms: Vec<TermStats>,
    }

    // Mirrors `vigil_index::WindowSample`.
    /// A window and how many of its posts were read for terms.
    #[derive(Serialize, ToSchema)]
    pub struct WindowSample {
        pub from: DateTime<Utc>,
        pub to: DateTime<Utc>,
        pub matched: u64,
        pub sampled: u64,
    }

    // Mirrors `vigil_index::TermStats`.
    /// A term; counts are posts of the samples containing it.
    #[derive(Serialize, ToSchema)]
    pub struct TermStats {
        pub term: String,
        pub stem: String,
        pub count: u64,
        pub baseline_count: u64,
        pub rate: f64,
        pub baseline_rate: f64,
        /// Dunning's G²; above 3.84 significant at p < 0.05.
        pub score: f64,
        pub is_brand: bool,
    }

    // Mirrors `vigil_core::Incident`.
    /// An incident: a rule fired for a brand; the PR team has until `response_deadline`.
    #[derive(Serialize, ToSchema)]
    pub struct Incident {
        pub id: i64,
        pub rule: String,
        pub brand: String,
        pub severity: Severity,
        pub status: IncidentStatus,
        pub opened_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        /// When the PR team must have responded.
        pub response_deadline: DateTime<Utc>,
        #[schema(required = true)]
        pub acknowledged_at: Option<DateTime<Utc>>,
        #[schema(required = true)]
        pub acknowledged_by: Option<String>,
        #[schema(required = true)]
        pub resolved_at: Option<DateTime<Utc>>,
        #[schema(required = true)]
        pub resolved_by: Option<String>,
        #[schema(required = true)]
        pub note: Option<String>,
        /// Unresolved at the end of its response window.
        pub overdue: bool,
        pub trigger: Trigger,
        /// Highest value the metric reached while open.
        pub peak_value: f64,
        pub evidence: Vec<EvidencePost>,
    }

    // Mirrors `vigil_core::Trigger`.
    /// What made the rule fire.
    #[derive(Serialize, ToSchema)]
    pub struct Trigger {
        pub metric: String,
        pub value: f64,
        pub threshold: f64,
        #[schema(required = true)]
        pub baseline: Option<f64>,
        pub window_secs: u64,
        #[schema(required = true)]
        pub baseline_secs: Option<u64>,
        pub mentions: u64,
        pub explanation: String,
        /// What the window's posts are about; absent when empty.
        #[schema(nullable = false)]
        pub context: Option<TriggerContext>,
    }

    // Mirrors `vigil_core::TriggerContext`.
    /// What the window's posts are about: top terms, and the sources and authors that carried it.
    #[derive(Serialize, ToSchema)]
    pub struct TriggerContext {
        pub top_terms: Vec<TermCount>,
        pub top_sources: Vec<Contributor>,
        pub top_authors: Vec<Contributor>,
    }

    // Mirrors `vigil_core::TermCount`.
    /// A term and the number of the window's posts that use it.
    #[derive(Serialize, ToSchema)]
    pub struct TermCount {
        pub term: String,
        pub posts: u64,
    }

    // Mirrors `vigil_core::Contributor`.
    /// A source or author: posts in the window and their summed reach.
    #[derive(Serialize, ToSchema)]
    pub struct Contributor {
        pub name: String,
        pub posts: u64,
        pub reach: i64,
    }

    // Mirrors `vigil_core::EvidencePost`.
    /// A post quoted as evidence.
    #[derive(Serialize, ToSchema)]
    pub struct EvidencePost {
        pub id: String,
        #[schema(required = true)]
        pub url: Option<String>,
        pub source: String,
        #[schema(required = true)]
        pub author: Option<String>,
        pub published_at: DateTime<Utc>,
        pub text: String,
        #[schema(required = true)]
        pub label: Option<Label>,
        #[schema(required = true)]
        pub score: Option<f32>,
        #[schema(nullable = false)]
        pub reach: Option<i64>,
        #[schema(nullable = false)]
        pub lang: Option<String>,
    }

    // Mirrors `vigil_core::Silence`.
    /// A silence: while it lasts, matching incidents send nothing. Every matcher that is
    /// set must match; `incident_id` set: a snooze of that incident.
    #[derive(Serialize, ToSchema)]
    pub struct Silence {
        pub id: i64,
        #[schema(required = true)]
        pub brand: Option<String>,
        #[schema(required = true)]
        pub rule: Option<String>,
        #[schema(required = true)]
        pub incident_id: Option<i64>,
        pub starts_at: DateTime<Utc>,
        pub ends_at: DateTime<Utc>,
        /// Who added it (the token's name).
        pub by: String,
        #[schema(required = true)]
        pub reason: Option<String>,
    }

    // Mirrors `vigil_store::Correction`.
    /// An analyst's correction of a post's sentiment.
    #[derive(Serialize, ToSchema)]
    pub struct Correction {
        pub id: i64,
        pub post_id: String,
        pub label: Label,
        /// Who corrected it.
        pub by: String,
        /// How: `cli`, or `api:TOKEN_NAME`.
        pub via: String,
        pub at: DateTime<Utc>,
        /// What the model had said before the first correction.
        #[schema(required = true)]
        pub model: Option<Sentiment>,
        /// The audit entry that records it.
        pub audit_seq: i64,
    }

    // Mirrors `vigil_core::Sentiment`.
    /// A classifier's verdict, with the model that produced it.
    #[derive(Serialize, ToSchema)]
    pub struct Sentiment {
        pub label: Label,
        pub score: f32,
        pub confidence: f32,
        pub lang: String,
        pub backend: String,
        pub version: String,
    }

    /// `GET /api/sources`.
    #[derive(Serialize, ToSchema)]
    pub struct SourceList {
        pub sources: Vec<SourceHealth>,
    }

    // Mirrors `health::SourceHealth`.
    /// Health of one configured source.
    #[derive(Serialize, ToSchema)]
    pub struct SourceHealth {
        pub name: String,
        /// `rss`, `html`, `json`, `reddit`, `hackernews`, `mastodon`, `bluesky`, `appstore`.
        pub kind: String,
        pub url: String,
        pub interval_secs: u64,
        pub status: SourceStatus,
        #[schema(required = true)]
        pub last_attempt_at: Option<DateTime<Utc>>,
        #[schema(required = true)]
        pub last_success_at: Option<DateTime<Utc>>,
        #[schema(required = true)]
        pub last_error_at: Option<DateTime<Utc>>,
        #[schema(required = true)]
        pub last_error: Option<String>,
        pub consecutive_failures: u32,
        #[schema(required = true)]
        pub failing_since: Option<DateTime<Utc>>,
        pub items_last_run: u64,
        pub posts_stored: u64,
        #[schema(required = true)]
        pub high_water: Option<DateTime<Utc>>,
        pub backfill_pending: bool,
    }

    /// `ok`, `failing` (recent failures, not yet down), `down`, or `pending` (never
    /// attempted).
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum SourceStatus {
        Ok,
        Failing,
        Down,
        Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations(document: &Value) -> Vec<(String, String, Value)> {
        let mut found = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if is_method(method) {
                    found.push((path.clone(), method.clone(), operation.clone()));
                }
            }
        }
        found
    }

    #[test]
    fn document_is_openapi_3_1_and_every_reference_resolves() {
        let document = document();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = &reference[..reference.find('"').unwrap()];
            let pointer = target.strip_prefix('#').expect("a local reference");
            assert!(
                document.pointer(pointer).is_some(),
                "{target} does not resolve"
            );
        }
    }

    #[test]
    fn only_healthz_and_the_document_are_public_and_protected_ones_answer_401() {
        let document = document();
        let mut public = Vec::new();
        for (path, method, operation) in operations(&document) {
            let responses = &operation["responses"];
            if operation["security"] == json!([{}]) {
                assert!(responses.get("401").is_none(), "{method} {path}");
                public.push(path);
                continue;
            }
            assert!(responses.get("401").is_some(), "{method} {path}: 401");
            assert!(responses.get("500").is_some(), "{method} {path}: 500");
            let needs_role = operation.get("security").is_some();
            assert_eq!(
                responses.get("403").is_some(),
                needs_role,
                "{method} {path}: 403 exactly when a role is named"
            );
        }
        public.sort();
        assert_eq!(public, ["/api/openapi.json", "/healthz"]);
    }
}
