//! "What is this about": the terms, sources and authors of the posts behind an alert,
//! and which of them a notification shows as evidence.
//!
//! Terms are counted by the number of posts that use them (a post repeating a word
//! counts once). Latin words are lower-cased; runs of Chinese are segmented by jieba
//! (its default dictionary, loaded on the first alert that fires). Stop words, numbers,
//! one-character words and the brand's own name and query terms are left out: every
//! post of the brand carries those.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use jieba_rs::Jieba;
use vigil_core::query::normalize;
use vigil_core::text::{is_cjk, truncate_chars};
use vigil_core::{Contributor, EvidencePost, Label, TermCount, TriggerContext};

pub(crate) const TOP_TERMS: usize = 8;
pub(crate) const TOP_CONTRIBUTORS: usize = 5;
/// At most this many posts in a notification's evidence.
pub(crate) const EVIDENCE_POSTS: usize = 10;
const EVIDENCE_TEXT_CHARS: usize = 280;
/// Two evidence posts whose normalised texts start with the same this many characters
/// are near-duplicates (a retweet with a prefix, a syndicated copy): the first stays.
const NEAR_DUPLICATE_PREFIX: usize = 80;

const ENGLISH_STOP_WORDS: &[&str] = &[
    "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "aren", "as", "at",
    "be", "because", "been", "before", "being", "but", "by", "can", "could", "did", "didn", "do",
    "does", "doesn", "don", "down", "each", "even", "ever", "every", "for", "from", "get", "got",
    "had", "has", "have", "he", "her", "here", "him", "his", "how", "http", "https", "if", "in",
    "into", "is", "isn", "it", "its", "just", "like", "ll", "me", "more", "most", "my", "no",
    "not", "now", "of", "off", "on", "one", "only", "or", "our", "out", "over", "re", "really",
    "same", "she", "should", "so", "some", "still", "such", "than", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "those", "through", "to", "too", "up", "us", "ve",
    "very", "via", "was", "wasn", "we", "were", "what", "when", "where", "which", "while", "who",
    "why", "will", "with", "won", "would", "www", "you", "your", "com", "amp", "rt",
];

const CHINESE_STOP_WORDS: &[&str] = &[
    "一个", "一些", "一下", "不是", "为了", "什么", "今天", "他们", "以后", "但是", "你们", "其实",
    "因为", "如果", "已经", "我们", "所以", "就是", "感觉", "时候", "没有", "然后", "现在", "真的",
    "知道", "还是", "这个", "这样", "那个", "而且", "自己", "可以", "觉得", "怎么", "这么", "那么",
    "大家", "还有", "一样", "非常", "有点", "有些", "之后", "以前", "不过", "虽然", "可能", "应该",
    "一直", "出来", "起来", "东西", "一次", "这次", "她们",
];

/// Words no alert context should list: stop words plus the brand's own terms.
#[derive(Debug, Default, Clone)]
pub(crate) struct Vocabulary {
    excluded: HashSet<String>,
}

impl Vocabulary {
    /// `brand_terms`: the brand's name and the positive terms of its query.
    pub fn for_brand<'a>(brand_terms: impl IntoIterator<Item = &'a str>) -> Vocabulary {
        let mut excluded = HashSet::new();
        for term in brand_terms {
            let normalized = normalize(term);
            for word in words(&normalized) {
                excluded.insert(word);
            }
            // Each word of a multi-word or CJK term too ("acme kettle", 艾克米 → 艾克).
            excluded.extend(normalized.split(' ').map(str::to_string));
        }
        Vocabulary { excluded }
    }

    fn keeps(&self, word: &str) -> bool {
        let chars = word.chars().count();
        if chars < 2 || self.excluded.contains(word) {
            return false;
        }
        if word.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
        let cjk = word.chars().next().is_some_and(is_cjk);
        if cjk {
            !CHINESE_STOP_WORDS.contains(&word)
        } else {
            chars >= 3 && !ENGLISH_STOP_WORDS.contains(&word)
        }
    }

    /// The posts' most used terms, their sources and their authors by reach.
    pub fn context(&self, posts: &[EvidencePost]) -> TriggerContext {
        let mut term_posts: HashMap<String, u64> = HashMap::new();
        for post in posts {
            let normalized = normalize(&post.text);
            let distinct: HashSet<String> = words(&normalized)
                .into_iter()
                .filter(|w| self.keeps(w))
                .collect();
            for word in distinct {
                *term_posts.entry(word).or_default() += 1;
            }
        }
        // A term used once says little when there are several posts.
        let floor = if posts.len() >= 3 { 2 } else { 1 };
        let mut top_terms: Vec<TermCount> = term_posts
            .into_iter()
            .filter(|(_, n)| *n >= floor)
            .map(|(term, posts)| TermCount { term, posts })
            .collect();
        top_terms.sort_by(|a, b| b.posts.cmp(&a.posts).then_with(|| a.term.cmp(&b.term)));
        top_terms.truncate(TOP_TERMS);
        TriggerContext {
            top_terms,
            top_sources: contributors(posts.iter().map(|p| (Some(p.source.as_str()), p))),
            top_authors: contributors(posts.iter().map(|p| (p.author.as_deref(), p))),
        }
    }
}

/// The words of a normalised text: Latin words as they are, CJK runs cut by jieba.
fn words(normalized: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    let flush_run = |run: &mut String, out: &mut Vec<String>| {
        if !run.is_empty() {
            out.extend(jieba().cut(run, true).into_iter().map(str::to_string));
            run.clear();
        }
    };
    let mut latin = String::new();
    for c in normalized.chars() {
        if is_cjk(c) {
            if !latin.is_empty() {
                out.push(std::mem::take(&mut latin));
            }
            run.push(c);
        } else if c == ' ' {
            flush_run(&mut run, &mut out);
            if !latin.is_empty() {
                out.push(std::mem::take(&mut latin));
            }
        } else {
            flush_run(&mut run, &mut out);
            latin.push(c);
        }
    }
    flush_run(&mut run, &mut out);
    if !latin.is_empty() {
        out.push(latin);
    }
    out
}

fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// Grouped by name (posts without one skipped): most reach first, then most posts.
fn contributors<'a>(
    posts: impl Iterator<Item = (Option<&'a str>, &'a EvidencePost)>,
) -> Vec<Contributor> {
    let mut by_name: HashMap<&str, (u64, i64)> = HashMap::new();
    for (name, post) in posts {
        let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
            continue;
        };
        let entry = by_name.entry(name).or_default();
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(post.reach.unwrap_or(0).max(0));
    }
    let mut out: Vec<Contributor> = by_name
        .into_iter()
        .map(|(name, (posts, reach))| Contributor {
            name: name.to_string(),
            posts,
            reach,
        })
        .collect();
    out.sort_by(|a, b| {
        b.reach
            .cmp(&a.reach)
            .then(b.posts.cmp(&a.posts))
            .then_with(|| a.name.cmp(&b.name))
    });
    out.truncate(TOP_CONTRIBUTORS);
    out
}

/// The posts a notification shows: negative posts first, by reach (most first), then
/// the most negative, then the newest; then the rest the same way. Near-duplicates
/// collapse into the first; at most [`EVIDENCE_POSTS`], text cut for a mail.
pub(crate) fn evidence(mut posts: Vec<EvidencePost>) -> Vec<EvidencePost> {
    posts.sort_by(|a, b| {
        let negative = |p: &EvidencePost| p.label == Some(Label::Negative);
        let score = |p: &EvidencePost| p.score.unwrap_or(f32::INFINITY);
        negative(b)
            .cmp(&negative(a))
            .then(b.reach.unwrap_or(0).cmp(&a.reach.unwrap_or(0)))
            .then(score(a).total_cmp(&score(b)))
            .then(b.published_at.cmp(&a.published_at))
    });
    let mut seen = HashSet::new();
    let mut picked = Vec::with_capacity(EVIDENCE_POSTS.min(posts.len()));
    for mut post in posts {
        if picked.len() == EVIDENCE_POSTS {
            break;
        }
        let key: String = normalize(&post.text)
            .chars()
            .take(NEAR_DUPLICATE_PREFIX)
            .collect();
        if !key.is_empty() && !seen.insert(key) {
            continue;
        }
        post.text = truncate_chars(&post.text, EVIDENCE_TEXT_CHARS);
        picked.push(post);
    }
    picked
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn post(
        id: &str,
        text: &str,
        source: &str,
        author: Option<&str>,
        reach: Option<i64>,
    ) -> EvidencePost {
        EvidencePost {
            id: id.into(),
            url: None,
            source: source.into(),
            author: author.map(str::to_string),
            published_at: DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
            text: text.into(),
            label: Some(Label::Negative),
            score: Some(-0.5),
            reach,
            lang: None,
        }
    }

    #[test]
    fn terms_by_posts_without_stop_words_or_brand_terms() {
        let vocabulary = Vocabulary::for_brand(["Acme", "\"acme kettle\"", "艾克米"]);
        let posts = vec![
            post(
                "1",
                "The Acme kettle exploded, recall now! recall recall",
                "reddit",
                Some("ann"),
                Some(500),
            ),
            post(
                "2",
                "Another acme kettle exploded in my kitchen",
                "reddit",
                Some("bob"),
                Some(20),
            ),
            post(
                "3",
                "Is there a recall? Acme please answer",
                "news",
                None,
                None,
            ),
            post(
                "4",
                "艾克米水壶爆炸了，要求召回",
                "weibo",
                Some("小王"),
                Some(3000),
            ),
            post(
                "5",
                "艾克米又爆炸了 召回吧",
                "weibo",
                Some("小李"),
                Some(10),
            ),
        ];
        let context = vocabulary.context(&posts);
        let terms: Vec<(&str, u64)> = context
            .top_terms
            .iter()
            .map(|t| (t.term.as_str(), t.posts))
            .collect();
        assert_eq!(terms[..2], [("exploded", 2), ("recall", 2)], "{terms:?}");
        assert!(
            terms.contains(&("爆炸", 2)) && terms.contains(&("召回", 2)),
            "{terms:?}"
        );
        for excluded in ["acme", "kettle", "the", "艾克米", "艾克", "now"] {
            assert!(
                !terms.iter().any(|(t, _)| *t == excluded),
                "{excluded}: {terms:?}"
            );
        }
        let sources: Vec<(&str, u64, i64)> = context
            .top_sources
            .iter()
            .map(|c| (c.name.as_str(), c.posts, c.reach))
            .collect();
        assert_eq!(
            sources,
            [("weibo", 2, 3010), ("reddit", 2, 520), ("news", 1, 0)]
        );
        let authors: Vec<&str> = context
            .top_authors
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(authors, ["小王", "ann", "bob", "小李"]);
    }

    #[test]
    fn evidence_negative_by_reach_then_score_without_near_duplicates() {
        let mut quiet = post("quiet-worst", "worst kettle ever", "a", None, None);
        quiet.score = Some(-0.9);
        let loud = post("loud", "it burnt my hand", "a", None, Some(900));
        let copy = post("copy", "It burnt my hand!!", "b", None, Some(5000));
        let mut happy = post("happy", "love it", "a", None, Some(100_000));
        happy.label = Some(Label::Positive);
        happy.score = Some(0.9);
        let mut long = post("long", &"x".repeat(400), "a", None, Some(1));
        long.score = Some(-0.1);
        let picked = evidence(vec![happy, quiet, loud, copy, long]);
        let ids: Vec<&str> = picked.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["copy", "long", "quiet-worst", "happy"]);
        assert_eq!(picked[1].text.chars().count(), EVIDENCE_TEXT_CHARS + 1);
    }

    #[test]
    fn evidence_is_capped() {
        let posts = (0..30)
            .map(|i| {
                post(
                    &i.to_string(),
                    &format!("complaint number {i}"),
                    "a",
                    None,
                    Some(i),
                )
            })
            .collect();
        let picked = evidence(posts);
        assert_eq!(picked.len(), EVIDENCE_POSTS);
        assert_eq!(picked[0].id, "29");
    }
}
