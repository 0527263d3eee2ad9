//! `RobotsRules::parse` over arbitrary robots.txt bodies, then `allowed` on a few
//! URLs and `crawl_delay`; `product_token` over the same bytes as a user agent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_crawler::{RobotsRules, product_token};
use vigil_crawler_fuzz::{check, pick};

const AGENTS: &[&str] = &["VigilBot", "*", "googlebot-news"];

const URLS: &[&str] = &[
    "https://example.com/",
    "https://example.com/feed.xml",
    "https://example.com/private/page?x=1&y=%2F",
    "https://example.com/%E4%B8%AD%E6%96%87/index.html",
    "/relative/path$",
    "",
];

fuzz_target!(|data: &[u8]| {
    let agent = *pick(data, AGENTS);
    check("RobotsRules", || {
        let (rules, _warning) = RobotsRules::parse(agent, data);
        for url in URLS {
            let _ = rules.allowed(url);
        }
        let _ = rules.crawl_delay();
    });
    check("product_token", || {
        let _ = product_token(&String::from_utf8_lossy(data));
    });
});
