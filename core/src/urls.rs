use url::Url;

/// Query parameters that only track the click, never change the content.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "yclid",
    "_hsenc",
    "_hsmi",
    "ref_src",
    "spm",
    "from",
    "share_source",
    "share_medium",
    "share_plat",
    "vd_source",
];

/// Canonical form of a URL for deduplication: lower-case scheme and host, no fragment,
/// no default port, tracking parameters (`utm_*`, `fbclid`, …) removed, remaining
/// parameters sorted. Returns `None` for strings that are not absolute http(s) URLs.
pub fn canonical_url(raw: &str) -> Option<String> {
    let mut url = Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    let path = url.path().to_string();
    if path.len() > 1 && path.ends_with('/') {
        url.set_path(path.trim_end_matches('/'));
    }
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| {
            let key = key.to_ascii_lowercase();
            !key.starts_with("utm_") && !TRACKING_PARAMS.contains(&key.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    if params.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(params);
    }
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tracking_and_fragment() {
        assert_eq!(
            canonical_url("HTTPS://Example.COM:443/a/b/?utm_source=x&b=2&a=1&fbclid=z#top")
                .unwrap(),
            "https://example.com/a/b?a=1&b=2"
        );
        assert_eq!(
            canonical_url("https://example.com/").unwrap(),
            "https://example.com/"
        );
        assert_eq!(
            canonical_url("http://example.com/x?utm_medium=rss").unwrap(),
            "http://example.com/x"
        );
    }

    #[test]
    fn rejects_non_http() {
        assert_eq!(canonical_url("mailto:a@b.c"), None);
        assert_eq!(canonical_url("not a url"), None);
        assert_eq!(canonical_url("/relative/path"), None);
    }
}
