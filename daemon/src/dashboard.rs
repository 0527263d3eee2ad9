//! The web dashboard: a static single-page app (plain HTML, CSS and ES modules, plus the
//! vendored uPlot charting library) built into the binary from `daemon/assets/`, served
//! at `/` and `/assets/…`. The pages call the JSON API with the token the user typed at
//! login, so serving them needs no token: they hold no data.
//!
//! Files are not hash-named; each answer carries a strong `ETag` (SHA-256 of the file)
//! and `Cache-Control: no-cache`, so a browser revalidates with `If-None-Match` and gets
//! a 304 until the binary changes, and never runs a stale script against a newer API.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest as _, Sha256};

/// One file built into the binary.
struct Asset {
    /// Path under `/assets/` (the app shell is `index.html`, served at `/`).
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../assets/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the dashboard. A file added to `daemon/assets/` must be listed here;
/// the tests check that everything `index.html` and the modules import is.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("i18n.js", JS),
    asset!("util.js", JS),
    asset!("search.js", JS),
    asset!("overview.js", JS),
    asset!("incidents.js", JS),
    asset!("sources.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("vendor/uPlot.iife.min.js", JS),
    asset!("vendor/uPlot.min.css", "text/css; charset=utf-8"),
    asset!("vendor/uPlot.LICENSE", "text/plain; charset=utf-8"),
];

/// What the pages may load: only this origin's scripts and API. uPlot sizes its canvas
/// with inline styles, hence `'unsafe-inline'` for styles (never for scripts).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// `ETag`s of [`ASSETS`], computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let digest = Sha256::digest(asset.body);
                format!("\"{}\"", hex::encode(&digest[..12]))
            })
            .collect()
    })
}

/// The dashboard's routes: `/` (the app shell) and `/assets/{path}`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(app_shell))
        .route("/assets/{*path}", get(asset_file))
}

async fn app_shell(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, request_headers: &HeaderMap) -> Response {
    let Some(position) = ASSETS.iter().position(|asset| asset.path == path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such dashboard file\n",
        )
            .into_response();
    };
    let asset = &ASSETS[position];
    let etag = &etags()[position];
    let fresh = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.path == "index.html" {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    async fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        routes::<()>()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header_of(response: &Response, name: header::HeaderName) -> &str {
        response.headers()[name].to_str().unwrap()
    }

    #[tokio::test]
    async fn the_shell_is_html_with_a_csp_and_an_etag() {
        let response = get("/", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header_of(&response, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert!(
            header_of(&response, header::CONTENT_SECURITY_POLICY).contains("script-src 'self'")
        );
        assert_eq!(header_of(&response, header::CACHE_CONTROL), "no-cache");
        assert!(header_of(&response, header::ETAG).starts_with('"'));
    }

    #[tokio::test]
    async fn assets_have_their_content_type() {
        for (path, content_type) in [
            ("/assets/app.js", JS),
            ("/assets/style.css", "text/css; charset=utf-8"),
            ("/assets/vendor/uPlot.iife.min.js", JS),
            ("/assets/favicon.svg", "image/svg+xml"),
        ] {
            let response = get(path, None).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&response, header::CONTENT_TYPE), content_type);
            assert_eq!(
                header_of(&response, header::X_CONTENT_TYPE_OPTIONS),
                "nosniff"
            );
        }
    }

    #[tokio::test]
    async fn unknown_files_are_404() {
        for path in [
            "/assets/nope.js",
            "/assets/../Cargo.toml",
            "/assets/vendor/",
            "/assets/uPlot.LICENSE",
            "/assets/vendor/README.md",
        ] {
            assert_eq!(
                get(path, None).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn a_matching_etag_is_304_and_a_stale_one_is_200() {
        let first = get("/assets/app.js", None).await;
        let etag = header_of(&first, header::ETAG).to_owned();
        let again = get("/assets/app.js", Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header_of(&again, header::ETAG), etag);
        let stale = get("/assets/app.js", Some("\"0123\", W/\"x\"")).await;
        assert_eq!(stale.status(), StatusCode::OK);
    }

    /// Every `/assets/…` file the shell links and every module a module imports is built
    /// in, so a file added to the folder but not to [`ASSETS`] fails here, not in a
    /// browser.
    #[test]
    fn every_referenced_file_is_served() {
        let served: Vec<&str> = ASSETS.iter().map(|asset| asset.path).collect();
        for asset in ASSETS {
            let Ok(text) = std::str::from_utf8(asset.body) else {
                continue;
            };
            if asset.path.starts_with("vendor/") {
                continue;
            }
            for (marker, end) in [("/assets/", '"'), ("from './", '\'')] {
                for (at, _) in text.match_indices(marker) {
                    let rest = &text[at + marker.len()..];
                    let name = &rest[..rest.find(end).unwrap_or(rest.len())];
                    assert!(
                        served.contains(&name),
                        "{} refers to {name}, which is not in ASSETS",
                        asset.path
                    );
                }
            }
        }
    }
}
