//! Handwritten training data shared by the integration tests.

#![allow(dead_code)]

use vigil_core::Label;
use vigil_learned::Example;

fn example(text: &str, label: Label, lang: &str, polar_only: bool) -> Example {
    Example {
        text: text.to_owned(),
        lang: Some(lang.to_owned()),
        label,
        polar_only,
    }
}

/// Small, obvious English and Chinese examples of each class.
pub fn handwritten() -> Vec<Example> {
    let mut examples = Vec::new();
    let positive = [
        "I love this phone, it is great",
        "great service and a lovely shop",
        "absolutely wonderful, love it",
        "the support team was great and helpful",
        "love the new update, excellent work",
        "excellent quality, great value",
        "wonderful experience, thank you",
        "such a lovely and helpful team",
    ];
    let negative = [
        "I hate this phone, it is terrible",
        "terrible service and an awful shop",
        "absolutely awful, hate it",
        "the support team was terrible and rude",
        "hate the new update, broken again",
        "awful quality, broken on arrival",
        "terrible experience, never again",
        "such a rude and awful team",
    ];
    let neutral = [
        "the shop opens at nine on monday",
        "the update is version four point two",
        "the phone comes in blue and black",
        "the meeting is on thursday afternoon",
        "the store is on main street",
        "the package contains a cable and a charger",
        "the app lists opening hours",
        "the report covers the third quarter",
    ];
    for text in positive {
        examples.push(example(text, Label::Positive, "en", false));
    }
    for text in negative {
        examples.push(example(text, Label::Negative, "en", false));
    }
    for text in neutral {
        examples.push(example(text, Label::Neutral, "en", false));
    }
    let chinese_positive = [
        "很好吃，送餐很快",
        "味道很好，非常满意",
        "质量很好，很满意",
        "非常好，下次还买",
        "服务很好，好吃",
        "很满意，推荐",
    ];
    let chinese_negative = [
        "太难吃了，送餐太慢",
        "味道很差，非常失望",
        "质量太差，很失望",
        "非常差，再也不买",
        "服务太差，难吃",
        "很失望，差评",
    ];
    for text in chinese_positive {
        examples.push(example(text, Label::Positive, "zh", true));
    }
    for text in chinese_negative {
        examples.push(example(text, Label::Negative, "zh", true));
    }
    examples
}

/// Where the shared data lives, or `None` (after printing "skipped") when absent.
pub fn shared_data() -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if path.join("sentiment").exists() {
        Some(path)
    } else {
        println!("skipped: {} not present", path.display());
        None
    }
}
