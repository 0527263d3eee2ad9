//! robots.txt rules per origin (RFC 9309), parsed with texting_robots.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use texting_robots::Robot;

/// How much of a robots.txt is read; RFC 9309 asks crawlers to parse at least 500 KiB.
pub const MAX_ROBOTS_BYTES: usize = 512 * 1024;

/// A `Crawl-delay` above this is treated as this: one line in someone's robots.txt
/// should slow a source down, not stop it for hours.
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(60);

/// What robots.txt lets our user agent do on one origin.
#[derive(Debug)]
pub enum RobotsRules {
    /// No robots.txt (4xx), or one we could not parse: everything is allowed.
    AllowAll,
    Parsed(Robot),
}

impl RobotsRules {
    /// Parses a robots.txt body for `agent` (the product token, e.g. `VigilBot`).
    /// Bodies longer than [`MAX_ROBOTS_BYTES`] are cut at the last full line before it.
    pub fn parse(agent: &str, body: &[u8]) -> (RobotsRules, Option<String>) {
        let body = if body.len() > MAX_ROBOTS_BYTES {
            let head = &body[..MAX_ROBOTS_BYTES];
            match head.iter().rposition(|b| *b == b'\n') {
                Some(end) => &head[..=end],
                None => head,
            }
        } else {
            body
        };
        // RFC 9309 robots.txt is UTF-8, but a BOM (UTF-8 or UTF-16) turns up in the wild.
        let (text, _, _) = encoding_rs::UTF_8.decode(body);
        match catch_unwind(AssertUnwindSafe(|| Robot::new(agent, text.as_bytes()))) {
            Ok(Ok(robot)) => (RobotsRules::Parsed(robot), None),
            Ok(Err(error)) => (
                RobotsRules::AllowAll,
                Some(format!(
                    "unparseable robots.txt treated as allow-all: {error:#}"
                )),
            ),
            Err(_) => (
                RobotsRules::AllowAll,
                Some("robots.txt parser panicked; treated as allow-all".to_string()),
            ),
        }
    }

    pub fn allowed(&self, url: &str) -> bool {
        match self {
            RobotsRules::AllowAll => true,
            RobotsRules::Parsed(robot) => {
                catch_unwind(AssertUnwindSafe(|| robot.allowed(url))).unwrap_or(true)
            }
        }
    }

    /// `Crawl-delay` for our group, capped at [`MAX_CRAWL_DELAY`].
    pub fn crawl_delay(&self) -> Option<Duration> {
        let RobotsRules::Parsed(robot) = self else {
            return None;
        };
        let seconds = robot.delay?;
        if !seconds.is_finite() || seconds <= 0.0 {
            return None;
        }
        Some(
            Duration::try_from_secs_f32(seconds)
                .map_or(MAX_CRAWL_DELAY, |d| d.min(MAX_CRAWL_DELAY)),
        )
    }
}

/// The robots.txt product token: what comes before the first `/` or space of the
/// user agent (`VigilBot/0.1 (+https://…)` → `VigilBot`).
pub fn product_token(user_agent: &str) -> String {
    let token: String = user_agent
        .trim()
        .chars()
        .take_while(|c| *c != '/' && !c.is_whitespace())
        .collect();
    if token.is_empty() {
        "*".to_string()
    } else {
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_from_user_agent() {
        assert_eq!(
            product_token("VigilBot/0.1 (+https://example.com/bot)"),
            "VigilBot"
        );
        assert_eq!(product_token("Vigil"), "Vigil");
        assert_eq!(product_token(""), "*");
    }

    #[test]
    fn honours_our_group_and_crawl_delay() {
        let body = b"User-agent: *\nDisallow: /\n\nUser-agent: VigilBot\nDisallow: /private\nCrawl-delay: 5\n";
        let (rules, warning) = RobotsRules::parse("VigilBot", body);
        assert!(warning.is_none());
        assert!(rules.allowed("http://example.com/feed.xml"));
        assert!(!rules.allowed("http://example.com/private/feed.xml"));
        assert_eq!(rules.crawl_delay(), Some(Duration::from_secs(5)));

        let (other, _) = RobotsRules::parse("OtherBot", body);
        assert!(!other.allowed("http://example.com/feed.xml"));
    }

    #[test]
    fn huge_crawl_delay_is_capped_and_bom_is_ignored() {
        let (rules, _) = RobotsRules::parse(
            "VigilBot",
            "\u{feff}User-agent: *\nCrawl-delay: 86400\nDisallow: /x\n".as_bytes(),
        );
        assert_eq!(rules.crawl_delay(), Some(MAX_CRAWL_DELAY));
        assert!(!rules.allowed("/x"));
    }

    #[test]
    fn long_bodies_are_cut_on_a_line() {
        let mut body = b"User-agent: *\nDisallow: /early\n".to_vec();
        while body.len() < MAX_ROBOTS_BYTES + 10 {
            body.extend_from_slice(b"# padding padding padding\n");
        }
        body.extend_from_slice(b"Disallow: /late\n");
        let (rules, _) = RobotsRules::parse("VigilBot", &body);
        assert!(!rules.allowed("/early"));
        assert!(rules.allowed("/late"));
    }
}
