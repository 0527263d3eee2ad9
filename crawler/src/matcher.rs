use vigil_config::{BrandConfig, SourceConfig};
use vigil_core::query::{MatchMeta, MatchText};
use vigil_core::{Post, Query};

/// Decides which brands a post belongs to. Shared by crawled and imported posts so
/// both paths assign brands identically.
#[derive(Debug, Clone)]
pub struct BrandMatcher {
    brands: Vec<(String, Query)>,
}

impl BrandMatcher {
    pub fn new(brands: &[BrandConfig]) -> Self {
        Self {
            brands: brands
                .iter()
                .map(|brand| (brand.name.clone(), brand.query.clone()))
                .collect(),
        }
    }

    /// The source's `brands` list when it has one (a source dedicated to a brand needs
    /// no matching), else every brand whose query matches the post.
    pub fn brands_for(&self, source: &SourceConfig, post: &Post) -> Vec<String> {
        self.brands_listed(&source.brands, post)
    }

    /// [`brands_for`](Self::brands_for) with the source's `brands` list given directly.
    pub fn brands_listed(&self, source_brands: &[String], post: &Post) -> Vec<String> {
        if !source_brands.is_empty() {
            return source_brands.to_vec();
        }
        self.matching(post)
    }

    /// Every brand whose query matches the post, in configuration order. Words match
    /// the title and text; field operators (`author:`, `source:`, `site:`, `url:`,
    /// `lang:`) see the post's metadata, as they do in search.
    pub fn matching(&self, post: &Post) -> Vec<String> {
        let combined;
        let text = match post.title.as_deref() {
            Some(title) if !title.is_empty() => {
                combined = format!("{title}\n{}", post.text);
                combined.as_str()
            }
            _ => post.text.as_str(),
        };
        let prepared = MatchText::with_meta(text, MatchMeta::of_post(post));
        self.brands
            .iter()
            .filter(|(_, query)| query.matches_prepared(&prepared))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use vigil_config::SourceKind;
    use vigil_core::Provenance;

    fn brand(name: &str, query: &str) -> BrandConfig {
        BrandConfig {
            name: name.into(),
            query_text: query.into(),
            query: Query::parse(query).expect("valid query"),
            language: None,
        }
    }

    fn source(brands: &[&str]) -> SourceConfig {
        SourceConfig {
            brands: brands.iter().map(|b| b.to_string()).collect(),
            ..SourceConfig::new("s", SourceKind::Rss, "http://example.com/feed")
        }
    }

    fn post(title: Option<&str>, text: &str) -> Post {
        Post {
            id: "id".into(),
            source: "s".into(),
            external_id: "e".into(),
            url: None,
            canonical_url: None,
            author: None,
            title: title.map(str::to_string),
            text: text.into(),
            lang: None,
            published_at: Utc::now(),
            brands: Vec::new(),
            provenance: Provenance {
                fetched_at: Utc::now(),
                fetch_url: "http://example.com/feed".into(),
                http_status: Some(200),
                content_hash: String::new(),
                extraction: "test".into(),
                raw_sha256: None,
            },
            sentiment: None,
            engagement: Default::default(),
            duplicate_of: None,
        }
    }

    #[test]
    fn matches_queries_on_title_and_text() {
        let matcher = BrandMatcher::new(&[
            brand("Acme", "acme OR 艾克米 NOT \"acme of skill\""),
            brand("Globex", "globex"),
        ]);
        let plain = source(&[]);
        let brands =
            |title: Option<&str>, text: &str| matcher.brands_for(&plain, &post(title, text));
        assert_eq!(brands(Some("Acme kettle"), "boils"), vec!["Acme"]);
        assert_eq!(brands(None, "我买了艾克米水壶"), vec!["Acme"]);
        assert_eq!(brands(Some("globex"), "and acme"), vec!["Acme", "Globex"]);
        assert!(brands(Some("the acme of skill"), "").is_empty());
        assert!(brands(None, "nothing here").is_empty());
    }

    #[test]
    fn field_operators_see_the_posts_metadata() {
        let matcher = BrandMatcher::new(&[
            brand("Acme", "acme AND NOT site:spam.example"),
            brand(
                "AcmeOfficial",
                "author:@acme_support OR url:acme.example/press*",
            ),
            brand("AcmeZh", "acme AND lang:zh AND source:s"),
        ]);
        let plain = source(&[]);
        let mut official = post(None, "we hear you, a fix ships Monday");
        official.author = Some("@Acme_Support".into());
        assert_eq!(matcher.brands_for(&plain, &official), vec!["AcmeOfficial"]);

        let mut press = post(Some("Acme recall"), "statement");
        press.url = Some("https://www.acme.example/press/2026/recall".into());
        assert_eq!(
            matcher.brands_for(&plain, &press),
            vec!["Acme", "AcmeOfficial"]
        );

        let mut spam = post(None, "cheap acme kettles here");
        spam.url = Some("https://deals.spam.example/acme".into());
        assert!(matcher.brands_for(&plain, &spam).is_empty());

        let mut chinese = post(None, "acme 水壶坏了");
        chinese.lang = Some("zh".into());
        assert_eq!(matcher.brands_for(&plain, &chinese), vec!["Acme", "AcmeZh"]);
        chinese.source = "other".into();
        assert_eq!(matcher.brands_for(&plain, &chinese), vec!["Acme"]);
    }

    #[test]
    fn source_brands_bypass_matching() {
        let matcher = BrandMatcher::new(&[brand("Acme", "acme")]);
        let dedicated = source(&["Acme"]);
        assert_eq!(
            matcher.brands_for(&dedicated, &post(None, "unrelated")),
            vec!["Acme"]
        );
    }
}
