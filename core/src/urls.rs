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

/// The values a post's URL is indexed under for `site:`: its host in lower case
/// without a leading `www.`, and every parent domain of at least two labels, so
/// `site:example.com` finds `https://news.example.com/…`. Empty for a missing or
/// unparsable URL, or one without a host.
pub fn site_keys(raw: &str) -> Vec<String> {
    let Ok(url) = Url::parse(raw.trim()) else {
        return Vec::new();
    };
    let Some(host) = url.host_str() else {
        return Vec::new();
    };
    site_keys_of_host(host)
}

/// [`site_keys`] for a bare host or a `site:` operand (`Example.COM.` → `example.com`).
pub fn site_keys_of_host(host: &str) -> Vec<String> {
    let host = site_key(host);
    if host.is_empty() {
        return Vec::new();
    }
    let mut keys = vec![host.clone()];
    let labels: Vec<&str> = host.split('.').collect();
    // An IP address has no parent domains.
    if host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('[') {
        for start in 1..labels.len().saturating_sub(1) {
            keys.push(labels[start..].join("."));
        }
    }
    keys
}

/// One host normalized the way `site:` compares them: trimmed, lower case, no trailing
/// dot, no leading `www.`.
pub fn site_key(host: &str) -> String {
    let host = host.trim().trim_end_matches('.').to_lowercase();
    host.strip_prefix("www.").unwrap_or(&host).to_string()
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

    #[test]
    fn site_keys_cover_host_and_parent_domains() {
        assert_eq!(
            site_keys("https://WWW.News.Example.co.uk/a?b=1"),
            vec!["news.example.co.uk", "example.co.uk", "co.uk"]
        );
        assert_eq!(site_keys("http://example.com/"), vec!["example.com"]);
        assert_eq!(site_keys("http://127.0.0.1:8080/x"), vec!["127.0.0.1"]);
        assert!(site_keys("not a url").is_empty());
        assert_eq!(site_key(" WWW.Example.COM. "), "example.com");
    }
}
