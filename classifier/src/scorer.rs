//! Per-language backends and per-brand models (`[classifier.languages]`,
//! `[classifier.brand_models]`): a [`Scorer`] holds the default classifier, one per
//! configured language and one per brand, and scores each post with its language's
//! backend if that has one, else the model of the first of its brands (in `[[brands]]`
//! order) that has one, else the default.

use vigil_core::{Classifier, Sentiment};

/// The default classifier plus the languages' and the brands' own.
pub struct Scorer {
    default: Box<dyn Classifier>,
    brands: Vec<(String, Box<dyn Classifier>)>,
    languages: Vec<(String, Box<dyn Classifier>)>,
}

impl std::fmt::Debug for Scorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer")
            .field("default", &self.default.version())
            .field(
                "brands",
                &self
                    .brands
                    .iter()
                    .map(|(brand, model)| (brand, model.version()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Scorer {
    /// One classifier for every post.
    pub fn single(default: Box<dyn Classifier>) -> Self {
        Scorer {
            default,
            brands: Vec::new(),
            languages: Vec::new(),
        }
    }

    /// `brands` in priority order (the first of a post's brands found here wins).
    pub fn new(default: Box<dyn Classifier>, brands: Vec<(String, Box<dyn Classifier>)>) -> Self {
        Scorer {
            default,
            brands,
            languages: Vec::new(),
        }
    }

    /// Posts in these languages (`en`, `zh`, `und`: the hint's first part, else
    /// detection) go to their backend, before any brand model.
    pub fn with_languages(mut self, languages: Vec<(String, Box<dyn Classifier>)>) -> Self {
        self.languages = languages;
        self
    }

    /// Whether a post's model depends on its language (a re-scoring pass must then
    /// look at every post).
    pub fn routes_languages(&self) -> bool {
        !self.languages.is_empty()
    }

    /// The model for posts of no brand with a model of its own.
    pub fn default_model(&self) -> &dyn Classifier {
        self.default.as_ref()
    }

    /// The brands with a model of their own, and their models, in priority order.
    pub fn brand_models(&self) -> impl Iterator<Item = (&str, &dyn Classifier)> {
        self.brands
            .iter()
            .map(|(brand, model)| (brand.as_str(), model.as_ref()))
    }

    /// The model that scores a post of `text` (language hint `lang`) and `brands`.
    pub fn model_for<S: AsRef<str>>(
        &self,
        text: &str,
        lang: Option<&str>,
        brands: &[S],
    ) -> &dyn Classifier {
        self.model(self.group(text, lang, brands))
    }

    /// 0 for the default, then the brands, then the languages.
    fn group<S: AsRef<str>>(&self, text: &str, lang: Option<&str>, brands: &[S]) -> usize {
        if !self.languages.is_empty() {
            let lang = crate::lexicon::resolve_lang(text, lang);
            if let Some(at) = self.languages.iter().position(|(l, _)| l == lang) {
                return 1 + self.brands.len() + at;
            }
        }
        if brands.is_empty() {
            return 0;
        }
        self.brands
            .iter()
            .position(|(brand, _)| brands.iter().any(|b| b.as_ref() == brand))
            .map_or(0, |at| at + 1)
    }

    fn model(&self, group: usize) -> &dyn Classifier {
        if group == 0 {
            self.default.as_ref()
        } else if group <= self.brands.len() {
            self.brands[group - 1].1.as_ref()
        } else {
            self.languages[group - 1 - self.brands.len()].1.as_ref()
        }
    }

    /// Scores `(text, language hint, brands)` items, each with its model (see
    /// [`Scorer::model_for`]); one batch per model, results in the order of `items`.
    pub fn classify_batch(&self, items: &[(&str, Option<&str>, &[String])]) -> Vec<Sentiment> {
        let mut groups: Vec<Vec<usize>> =
            vec![Vec::new(); 1 + self.brands.len() + self.languages.len()];
        for (at, (text, lang, brands)) in items.iter().enumerate() {
            groups[self.group(text, *lang, brands)].push(at);
        }
        let mut out: Vec<Option<Sentiment>> = vec![None; items.len()];
        for (group, members) in groups.iter().enumerate() {
            if members.is_empty() {
                continue;
            }
            let inputs: Vec<(&str, Option<&str>)> = members
                .iter()
                .map(|&at| (items[at].0, items[at].1))
                .collect();
            for (&at, sentiment) in members
                .iter()
                .zip(self.model(group).classify_batch(&inputs))
            {
                out[at] = Some(sentiment);
            }
        }
        out.into_iter()
            .map(|sentiment| sentiment.expect("every item is in one group"))
            .collect()
    }

    /// Every `(backend, version)` this scorer records, default first.
    pub fn versions(&self) -> Vec<(String, String)> {
        std::iter::once(self.default.as_ref())
            .chain(self.brands.iter().map(|(_, model)| model.as_ref()))
            .chain(self.languages.iter().map(|(_, model)| model.as_ref()))
            .map(|model| (model.backend().to_owned(), model.version().to_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::Label;

    /// Says `label` for everything, with `version`.
    struct Fixed {
        label: Label,
        version: &'static str,
    }

    impl Classifier for Fixed {
        fn backend(&self) -> &str {
            "fixed"
        }
        fn version(&self) -> &str {
            self.version
        }
        fn classify(&self, _text: &str, _lang: Option<&str>) -> Sentiment {
            Sentiment {
                label: self.label,
                score: 0.0,
                confidence: 1.0,
                lang: "en".into(),
                backend: "fixed".into(),
                version: self.version.into(),
            }
        }
    }

    fn fixed(label: Label, version: &'static str) -> Box<dyn Classifier> {
        Box::new(Fixed { label, version })
    }

    fn scorer() -> Scorer {
        Scorer::new(
            fixed(Label::Neutral, "default"),
            vec![
                ("Acme".into(), fixed(Label::Negative, "acme")),
                ("Globex".into(), fixed(Label::Positive, "globex")),
            ],
        )
    }

    #[test]
    fn each_post_gets_its_brands_model_in_order() {
        let scorer = scorer();
        let none: Vec<String> = vec![];
        let acme = vec!["Acme".to_string()];
        let globex = vec!["Globex".to_string()];
        let both = vec!["Globex".to_string(), "Acme".to_string()];
        let other = vec!["Initech".to_string()];
        let items: Vec<(&str, Option<&str>, &[String])> = vec![
            ("a", None, &none),
            ("b", None, &globex),
            ("c", None, &acme),
            ("d", None, &both),
            ("e", None, &other),
            ("f", None, &acme),
        ];
        let versions: Vec<String> = scorer
            .classify_batch(&items)
            .into_iter()
            .map(|s| s.version)
            .collect();
        // A post of Globex and Acme takes Acme's model: Acme comes first in priority.
        assert_eq!(
            versions,
            ["default", "globex", "acme", "acme", "default", "acme"]
        );
        assert_eq!(scorer.model_for("d", None, &both).version(), "acme");
        assert_eq!(scorer.model_for("a", None, &none).version(), "default");
        assert_eq!(
            scorer.model_for("c", None, &["acme"]).version(),
            "default",
            "exact names"
        );
        assert!(scorer.classify_batch(&[]).is_empty());
        assert!(!scorer.routes_languages());
    }

    #[test]
    fn a_language_backend_comes_before_brand_models() {
        let scorer = scorer().with_languages(vec![("zh".into(), fixed(Label::Positive, "zh"))]);
        let acme = vec!["Acme".to_string()];
        let none: Vec<String> = vec![];
        let items: Vec<(&str, Option<&str>, &[String])> = vec![
            ("这个水壶很好用", None, &acme),
            ("works great", None, &acme),
            ("works great", Some("zh-CN"), &none),
            ("这个水壶很好用", Some("en"), &none),
            ("这个水壶很好用", None, &none),
        ];
        let versions: Vec<String> = scorer
            .classify_batch(&items)
            .into_iter()
            .map(|s| s.version)
            .collect();
        // Detected Chinese, or hinted; a hint wins over detection.
        assert_eq!(versions, ["zh", "acme", "zh", "default", "zh"]);
        assert!(scorer.routes_languages());
        assert_eq!(scorer.versions().len(), 4);
        assert_eq!(scorer.model_for("很好", None, &acme).version(), "zh");
    }

    #[test]
    fn versions_lists_every_model() {
        assert_eq!(
            scorer().versions(),
            [
                ("fixed".to_string(), "default".to_string()),
                ("fixed".into(), "acme".into()),
                ("fixed".into(), "globex".into()),
            ]
        );
        let single = Scorer::single(fixed(Label::Neutral, "only"));
        assert_eq!(single.versions().len(), 1);
        assert_eq!(single.brand_models().count(), 0);
    }
}
