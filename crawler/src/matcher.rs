use vigil_config::{BrandConfig, SourceConfig};
use vigil_core::Query;
use vigil_core::query::MatchText;

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
    /// no matching), else every brand whose query matches the title and text.
    pub fn brands_for(
        &self,
        source: &SourceConfig,
        title: Option<&str>,
        text: &str,
    ) -> Vec<String> {
        self.brands_listed(&source.brands, title, text)
    }

    /// [`brands_for`](Self::brands_for) with the source's `brands` list given directly.
    pub fn brands_listed(
        &self,
        source_brands: &[String],
        title: Option<&str>,
        text: &str,
    ) -> Vec<String> {
        if !source_brands.is_empty() {
            return source_brands.to_vec();
        }
        self.matching(title, text)
    }

    /// Every brand whose query matches `title` + `text`, in configuration order.
    pub fn matching(&self, title: Option<&str>, text: &str) -> Vec<String> {
        let combined = match title {
            Some(title) if !title.is_empty() => format!("{title}\n{text}"),
            _ => text.to_string(),
        };
        let prepared = MatchText::new(&combined);
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
    use vigil_config::SourceKind;

    fn brand(name: &str, query: &str) -> BrandConfig {
        BrandConfig {
            name: name.into(),
            query_text: query.into(),
            query: Query::parse(query).expect("valid query"),
        }
    }

    fn source(brands: &[&str]) -> SourceConfig {
        SourceConfig {
            brands: brands.iter().map(|b| b.to_string()).collect(),
            ..SourceConfig::new("s", SourceKind::Rss, "http://example.com/feed")
        }
    }

    #[test]
    fn matches_queries_on_title_and_text() {
        let matcher = BrandMatcher::new(&[
            brand("Acme", "acme OR 艾克米 NOT \"acme of skill\""),
            brand("Globex", "globex"),
        ]);
        let plain = source(&[]);
        assert_eq!(
            matcher.brands_for(&plain, Some("Acme kettle"), "boils"),
            vec!["Acme"]
        );
        assert_eq!(
            matcher.brands_for(&plain, None, "我买了艾克米水壶"),
            vec!["Acme"]
        );
        assert_eq!(
            matcher.brands_for(&plain, Some("globex"), "and acme"),
            vec!["Acme", "Globex"]
        );
        assert!(
            matcher
                .brands_for(&plain, Some("the acme of skill"), "")
                .is_empty()
        );
        assert!(matcher.brands_for(&plain, None, "nothing here").is_empty());
    }

    #[test]
    fn source_brands_bypass_matching() {
        let matcher = BrandMatcher::new(&[brand("Acme", "acme")]);
        let dedicated = source(&["Acme"]);
        assert_eq!(
            matcher.brands_for(&dedicated, None, "unrelated"),
            vec!["Acme"]
        );
    }
}
