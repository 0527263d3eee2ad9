//! Mapping a checkpoint's own labels (`id2label` in `config.json`) to Vigil's three.

use std::collections::BTreeMap;

use vigil_core::Label;

/// Vigil's label for each of a checkpoint's classes, in class-id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMap {
    labels: Vec<Label>,
    /// The checkpoint's names, for messages and the version string.
    names: Vec<String>,
}

impl LabelMap {
    /// Maps `id2label` (class id → name) to Vigil labels:
    ///
    /// - a name containing `neg`, `neu` or `pos` (any case) is negative, neutral or
    ///   positive (`NEGATIVE`, `Neutral`, `positive`, `LABEL_NEG` …);
    /// - star ratings (`1 star` … `5 stars`, as multilingual review models use): 1–2
    ///   negative, 3 neutral, 4–5 positive;
    /// - when every name is generic (`LABEL_0`, `LABEL_1`, … or bare numbers), the
    ///   order is the usual one for sentiment checkpoints: two classes are negative,
    ///   positive (SST-2); three are negative, neutral, positive (TweetEval, cardiffnlp's
    ///   twitter models). Other counts of generic labels are refused.
    ///
    /// Every class must map, ids must be 0..n without gaps, and both negative and
    /// positive must occur. `Err` explains what did not fit.
    pub fn from_id2label(id2label: &BTreeMap<usize, String>) -> Result<LabelMap, String> {
        if id2label.is_empty() {
            return Err("id2label is empty".into());
        }
        if let Some((position, (&id, _))) = id2label
            .iter()
            .enumerate()
            .find(|(position, (id, _))| *position != **id)
        {
            return Err(format!(
                "class ids must run 0..{} without gaps; found id {id} at position {position}",
                id2label.len()
            ));
        }
        let names: Vec<String> = id2label.values().cloned().collect();
        let labels = if names.iter().all(|name| is_generic(name)) {
            match names.len() {
                2 => vec![Label::Negative, Label::Positive],
                3 => vec![Label::Negative, Label::Neutral, Label::Positive],
                count => {
                    return Err(format!(
                        "{count} generic labels ({}); only 2 (negative, positive) or 3 \
                         (negative, neutral, positive) generic labels have a known order",
                        names.join(", ")
                    ));
                }
            }
        } else {
            let mut labels = Vec::with_capacity(names.len());
            for name in &names {
                match label_of_name(name) {
                    Some(label) => labels.push(label),
                    None => {
                        return Err(format!(
                            "label {name:?} is not negative, neutral or positive (names \
                             containing neg/neu/pos, star ratings, or LABEL_0.. are understood)"
                        ));
                    }
                }
            }
            labels
        };
        for needed in [Label::Negative, Label::Positive] {
            if !labels.contains(&needed) {
                return Err(format!(
                    "no class maps to {needed} (labels: {})",
                    names.join(", ")
                ));
            }
        }
        Ok(LabelMap { labels, names })
    }

    /// Vigil's label of each class, in class-id order.
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    /// The checkpoint's names, in class-id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Sums the checkpoint's class probabilities into negative, neutral, positive.
    pub fn fold(&self, class_probabilities: &[f32]) -> [f32; 3] {
        debug_assert_eq!(class_probabilities.len(), self.labels.len());
        let mut folded = [0f32; 3];
        for (label, probability) in self.labels.iter().zip(class_probabilities) {
            folded[label_index(*label)] += probability;
        }
        folded
    }
}

pub(crate) fn label_index(label: Label) -> usize {
    match label {
        Label::Negative => 0,
        Label::Neutral => 1,
        Label::Positive => 2,
    }
}

fn is_generic(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    let digits = lower.strip_prefix("label_").unwrap_or(&lower);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn label_of_name(name: &str) -> Option<Label> {
    let lower = name.trim().to_lowercase();
    let has_neg = lower.contains("neg");
    let has_neu = lower.contains("neu");
    let has_pos = lower.contains("pos");
    match (has_neg, has_neu, has_pos) {
        (true, false, false) => return Some(Label::Negative),
        (false, true, false) => return Some(Label::Neutral),
        (false, false, true) => return Some(Label::Positive),
        (false, false, false) => {}
        // "very negative / positive" style mixes are ambiguous.
        _ => return None,
    }
    let stars = lower
        .strip_suffix("stars")
        .or_else(|| lower.strip_suffix("star"))?
        .trim();
    match stars {
        "1" | "2" => Some(Label::Negative),
        "3" => Some(Label::Neutral),
        "4" | "5" => Some(Label::Positive),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(names: &[&str]) -> Result<Vec<Label>, String> {
        let id2label = names
            .iter()
            .enumerate()
            .map(|(id, name)| (id, (*name).to_owned()))
            .collect();
        LabelMap::from_id2label(&id2label).map(|map| map.labels().to_vec())
    }

    #[test]
    fn names_with_polarity() {
        use Label::*;
        assert_eq!(
            map(&["negative", "neutral", "positive"]),
            Ok(vec![Negative, Neutral, Positive])
        );
        assert_eq!(map(&["POSITIVE", "NEGATIVE"]), Ok(vec![Positive, Negative]));
        assert_eq!(
            map(&["Negative", "Neutral", "Positive"]),
            Ok(vec![Negative, Neutral, Positive])
        );
        assert_eq!(
            map(&["1 star", "2 stars", "3 stars", "4 stars", "5 stars"]),
            Ok(vec![Negative, Negative, Neutral, Positive, Positive])
        );
    }

    #[test]
    fn generic_names_have_a_documented_order() {
        use Label::*;
        assert_eq!(
            map(&["LABEL_0", "LABEL_1", "LABEL_2"]),
            Ok(vec![Negative, Neutral, Positive])
        );
        assert_eq!(map(&["LABEL_0", "LABEL_1"]), Ok(vec![Negative, Positive]));
        assert_eq!(map(&["0", "1"]), Ok(vec![Negative, Positive]));
        assert!(map(&["LABEL_0", "LABEL_1", "LABEL_2", "LABEL_3"]).is_err());
    }

    #[test]
    fn refuses_what_does_not_fit() {
        assert!(map(&["joy", "anger"]).unwrap_err().contains("\"joy\""));
        assert!(
            map(&["neutral", "positive"])
                .unwrap_err()
                .contains("negative")
        );
        assert!(map(&[]).is_err());
        assert!(map(&["LABEL_0", "positive"]).is_err());
        let gap = [(0, "negative".to_owned()), (2, "positive".to_owned())]
            .into_iter()
            .collect();
        assert!(
            LabelMap::from_id2label(&gap)
                .unwrap_err()
                .contains("without gaps")
        );
    }

    #[test]
    fn folds_probabilities() {
        let map = LabelMap::from_id2label(
            &["1 star", "2 stars", "3 stars", "4 stars", "5 stars"]
                .iter()
                .enumerate()
                .map(|(id, name)| (id, (*name).to_owned()))
                .collect(),
        )
        .unwrap();
        let folded = map.fold(&[0.1, 0.2, 0.3, 0.25, 0.15]);
        assert!((folded[0] - 0.3).abs() < 1e-6);
        assert!((folded[1] - 0.3).abs() < 1e-6);
        assert!((folded[2] - 0.4).abs() < 1e-6);
    }
}
