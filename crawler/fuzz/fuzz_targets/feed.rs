//! `parse_feed` (and so `decode_body`) over arbitrary bytes: RSS, Atom, JSON Feed,
//! any encoding, any damage. Must return `Ok` or `Err`, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_crawler::{decode_body, parse_feed};
use vigil_crawler_fuzz::{check, fetched_at, pick};

/// Content-Type headers a server may send: none, a matching or a wrong charset.
const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/rss+xml; charset=utf-8"),
    Some("text/xml; charset=gb2312"),
    Some("application/atom+xml; charset=\"Shift_JIS\""),
    Some("application/xml; charset=bogus-charset"),
];

fuzz_target!(|data: &[u8]| {
    let content_type = *pick(data, CONTENT_TYPES);
    check("decode_body", || {
        let _ = decode_body(data, content_type);
    });
    check("parse_feed", || {
        let _ = parse_feed(
            data,
            content_type,
            "fuzz-feed",
            "https://feeds.example.com/a/feed.xml",
            Some(200),
            fetched_at(),
        );
    });
});
