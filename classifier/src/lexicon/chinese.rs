//! Chinese lexicon scoring: forward maximum matching over a hand-written lexicon, with
//! negators, degree adverbs and adversatives applied in the spirit of VADER.

use std::collections::HashMap;

use super::{normalize, punctuation_emphasis};

/// The bundled lexicon; see the header of the file for its format.
const BUILTIN_LEXICON: &str = include_str!("zh_lexicon.txt");

/// Same damping VADER applies to a negated word ("不好" is weaker than "差").
const NEGATION_SCALAR: f64 = -0.74;
/// A negator in front of a degree adverb ("不太好", "不是很满意") negates the
/// intensified phrase, which in Chinese reads as a mild negative, weaker than a plain
/// negation.
const NEGATED_DEGREE_SCALAR: f64 = 0.6;
/// Modifiers further than this many characters before the word (or before the next
/// modifier) do not apply to it. Enough for "不是特别好" and "不觉得好吃".
const MAX_MODIFIER_GAP: usize = 3;
/// At most this many modifiers are chained in front of one word.
const MAX_MODIFIERS: usize = 3;
/// Stacked degree adverbs ("真的非常超级好") stop adding up here.
const MAX_DEGREE: f64 = 2.5;
/// Weights of the clause before and after the first adversative, as VADER's "but".
const BEFORE_ADVERSATIVE: f64 = 0.5;
const AFTER_ADVERSATIVE: f64 = 1.5;
/// "好" directly in front of another sentiment word is an adverb ("好慢", "好开心").
const HAO_AS_DEGREE: f64 = 1.4;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Entry {
    /// Valence on VADER's scale; 0 for blockers.
    Sentiment(f64),
    Negator,
    Degree(f64),
    Adversative,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TokenKind {
    Entry(Entry),
    /// Punctuation or whitespace: modifiers never reach across it.
    Boundary,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: TokenKind,
    /// Char offsets, end exclusive.
    start: usize,
    end: usize,
}

/// The outcome for one text: the normalised score and how many sentiment-bearing
/// entries were found (0 means "nothing to go on", not "balanced").
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ChineseScore {
    pub(crate) score: f64,
    pub(crate) hits: usize,
}

#[derive(Debug)]
pub(crate) struct ChineseLexicon {
    entries: HashMap<String, Entry>,
    emoji: HashMap<char, f64>,
    /// Longest entry in chars: bounds the matcher's look-ahead.
    longest: usize,
}

impl ChineseLexicon {
    pub(crate) fn builtin() -> Self {
        let (lexicon, problems) = Self::parse(BUILTIN_LEXICON);
        // The bundled file is checked by a unit test; a bad line is skipped, never fatal.
        debug_assert!(problems.is_empty(), "bundled lexicon: {problems:?}");
        for problem in &problems {
            tracing::warn!(%problem, "bad line in the bundled Chinese lexicon");
        }
        lexicon
    }

    /// Parses the lexicon format, returning the problems found (bad lines are skipped).
    fn parse(raw: &str) -> (Self, Vec<String>) {
        #[derive(Clone, Copy)]
        enum Section {
            Sentiment,
            Emoji,
            Negator,
            Degree,
            Adversative,
        }
        let mut entries = HashMap::new();
        let mut emoji = HashMap::new();
        let mut problems = Vec::new();
        let mut section = None;
        for (index, line) in raw.lines().enumerate() {
            let line_number = index + 1;
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('@') {
                section = match name {
                    "sentiment" => Some(Section::Sentiment),
                    "emoji" => Some(Section::Emoji),
                    "negator" => Some(Section::Negator),
                    "degree" => Some(Section::Degree),
                    "adversative" => Some(Section::Adversative),
                    other => {
                        problems.push(format!("line {line_number}: unknown section @{other}"));
                        None
                    }
                };
                continue;
            }
            let mut fields = line.split_whitespace();
            let (Some(word), Some(value), None) = (fields.next(), fields.next(), fields.next())
            else {
                problems.push(format!("line {line_number}: expected `word value`"));
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                problems.push(format!("line {line_number}: bad value {value:?}"));
                continue;
            };
            let word = word.to_lowercase();
            let entry = match section {
                None => {
                    problems.push(format!("line {line_number}: entry outside a section"));
                    continue;
                }
                Some(Section::Sentiment) => Entry::Sentiment(value),
                Some(Section::Emoji) => {
                    let mut chars = word.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => {
                            emoji.insert(c, value);
                        }
                        _ => {
                            problems.push(format!("line {line_number}: emoji must be one char"));
                            continue;
                        }
                    }
                    Entry::Sentiment(value)
                }
                Some(Section::Negator) => Entry::Negator,
                Some(Section::Degree) => Entry::Degree(value),
                Some(Section::Adversative) => Entry::Adversative,
            };
            if entries.insert(word.clone(), entry).is_some() {
                problems.push(format!("line {line_number}: duplicate entry {word:?}"));
            }
        }
        let longest = entries.keys().map(|k| k.chars().count()).max().unwrap_or(1);
        (
            ChineseLexicon {
                entries,
                emoji,
                longest,
            },
            problems,
        )
    }

    /// Valence of a single emoji character, shared with the English scorer.
    pub(crate) fn emoji_valence(&self, c: char) -> Option<f64> {
        self.emoji.get(&c).copied()
    }

    pub(crate) fn score(&self, text: &str) -> ChineseScore {
        let chars: Vec<char> = text.chars().collect();
        let tokens = self.tokenize(&chars);
        let first_adversative = tokens
            .iter()
            .position(|t| t.kind == TokenKind::Entry(Entry::Adversative));
        let mut total = 0.0;
        let mut hits = 0;
        for (index, token) in tokens.iter().enumerate() {
            let TokenKind::Entry(Entry::Sentiment(valence)) = token.kind else {
                continue;
            };
            if valence == 0.0 {
                continue;
            }
            hits += 1;
            let mut value = apply_modifiers(valence, &tokens, index);
            if let Some(adversative) = first_adversative {
                value *= if index < adversative {
                    BEFORE_ADVERSATIVE
                } else {
                    AFTER_ADVERSATIVE
                };
            }
            total += value;
        }
        if total != 0.0 {
            let emphasis = punctuation_emphasis(text);
            total += emphasis.copysign(total);
        }
        ChineseScore {
            score: normalize(total),
            hits,
        }
    }

    /// Forward maximum matching: at each position take the longest lexicon entry,
    /// else skip one char. Punctuation and whitespace become boundary tokens.
    fn tokenize(&self, chars: &[char]) -> Vec<Token> {
        let mut tokens = Vec::new();
        let mut candidate = String::new();
        let mut position = 0;
        while position < chars.len() {
            if is_boundary(chars[position]) {
                tokens.push(Token {
                    kind: TokenKind::Boundary,
                    start: position,
                    end: position + 1,
                });
                position += 1;
                continue;
            }
            candidate.clear();
            let mut best = None;
            for (offset, &c) in chars[position..].iter().take(self.longest).enumerate() {
                if is_boundary(c) {
                    break;
                }
                candidate.push(c.to_ascii_lowercase());
                if let Some(entry) = self.entries.get(candidate.as_str()) {
                    best = Some((offset + 1, *entry));
                }
            }
            match best {
                Some((length, entry)) => {
                    tokens.push(Token {
                        kind: TokenKind::Entry(entry),
                        start: position,
                        end: position + length,
                    });
                    position += length;
                }
                None => position += 1,
            }
        }
        reinterpret_by_context(chars, &mut tokens);
        tokens
    }
}

/// Single characters whose sense depends on their neighbour: "好" glued to a
/// following sentiment word is an intensifier ("好慢" = very slow), not praise; "快"
/// before a number means "almost" ("快两个小时了"), not "fast".
fn reinterpret_by_context(chars: &[char], tokens: &mut [Token]) {
    for index in 0..tokens.len() {
        let token = tokens[index];
        if token.end != token.start + 1
            || !matches!(token.kind, TokenKind::Entry(Entry::Sentiment(_)))
        {
            continue;
        }
        match chars.get(token.start) {
            Some('好') => {
                let Some(next) = tokens.get(index + 1) else {
                    continue;
                };
                let next_is_sentiment =
                    matches!(next.kind, TokenKind::Entry(Entry::Sentiment(v)) if v != 0.0);
                if next_is_sentiment && next.start == token.end {
                    tokens[index].kind = TokenKind::Entry(Entry::Degree(HAO_AS_DEGREE));
                }
            }
            Some('快') if chars.get(token.end).is_some_and(|&c| is_numeral(c)) => {
                tokens[index].kind = TokenKind::Entry(Entry::Sentiment(0.0));
            }
            _ => {}
        }
    }
}

fn is_numeral(c: char) -> bool {
    c.is_ascii_digit() || "一二两三四五六七八九十半几百".contains(c)
}

/// Applies the negators and degree adverbs just before `tokens[index]` to its valence.
fn apply_modifiers(valence: f64, tokens: &[Token], index: usize) -> f64 {
    let mut value = valence;
    let mut cursor = tokens[index].start;
    // Degree adverbs between the word and the nearest negator ("不太好": 太).
    let mut inner_degree = 1.0_f64;
    let mut negated = false;
    for token in tokens[..index].iter().rev().take(MAX_MODIFIERS) {
        if cursor.saturating_sub(token.end) > MAX_MODIFIER_GAP {
            break;
        }
        match token.kind {
            TokenKind::Entry(Entry::Negator) => {
                if !negated && inner_degree > 1.0 {
                    value *= NEGATION_SCALAR * NEGATED_DEGREE_SCALAR;
                } else {
                    value *= NEGATION_SCALAR;
                }
                negated = true;
            }
            TokenKind::Entry(Entry::Degree(degree)) => {
                if negated {
                    // "很不满意": the adverb intensifies the negated phrase.
                    value *= degree;
                } else {
                    inner_degree = (inner_degree * degree).min(MAX_DEGREE);
                }
            }
            TokenKind::Entry(Entry::Sentiment(_) | Entry::Adversative) | TokenKind::Boundary => {
                break;
            }
        }
        cursor = token.start;
    }
    if !negated {
        value *= inner_degree;
    }
    value.clamp(-4.0 * MAX_DEGREE, 4.0 * MAX_DEGREE)
}

fn is_boundary(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '，' | '。'
                | '！'
                | '？'
                | '!'
                | '?'
                | ','
                | '.'
                | ';'
                | '；'
                | ':'
                | '：'
                | '、'
                | '…'
                | '~'
                | '～'
                | '('
                | ')'
                | '（'
                | '）'
                | '"'
                | '“'
                | '”'
                | '「'
                | '」'
                | '《'
                | '》'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str) -> f64 {
        ChineseLexicon::builtin().score(text).score
    }

    #[test]
    fn bundled_lexicon_parses_cleanly() {
        let (lexicon, problems) = ChineseLexicon::parse(BUILTIN_LEXICON);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(lexicon.entries.len() > 500, "{}", lexicon.entries.len());
        assert_eq!(
            lexicon.emoji_valence('😡').map(f64::is_sign_negative),
            Some(true)
        );
        assert_eq!(
            lexicon.emoji_valence('👍').map(f64::is_sign_positive),
            Some(true)
        );
    }

    #[test]
    fn parser_reports_bad_lines() {
        let (lexicon, problems) =
            ChineseLexicon::parse("好 1\n@sentiment\n好 x\n好 1 2\n@emoji\n😡😡 -1\n@bogus\n");
        assert!(lexicon.entries.is_empty());
        assert_eq!(problems.len(), 5, "{problems:?}");
    }

    #[test]
    fn negators_flip_and_degree_adverbs_scale() {
        assert!(score("好") > 0.05);
        assert!(score("不好") < -0.05);
        assert!(score("没有满意") < -0.05);
        assert!(score("非常满意") > score("满意"));
        assert!(score("有点慢") > score("慢"));
        assert!(score("很不满意") < score("不满意"));
        // A negated degree phrase is a mild negative, milder than the plain negation.
        let not_very_good = score("不是很好");
        assert!(
            not_very_good < 0.0 && not_very_good > score("不好"),
            "{not_very_good}"
        );
        // Double negation reads positive.
        assert!(score("不是不好") > 0.0);
    }

    #[test]
    fn modifiers_do_not_reach_across_punctuation_or_far_away() {
        assert!(score("不，好") > 0.0);
        assert!(score("不知道这家店的菜好") > 0.0);
    }

    #[test]
    fn maximum_matching_prefers_longer_entries() {
        // 快递 is not 快 (fast), 美团 is not 美 (beautiful), 不错 is not 不 + 错.
        assert_eq!(ChineseLexicon::builtin().score("快递到了").hits, 0);
        assert_eq!(ChineseLexicon::builtin().score("美团外卖").hits, 0);
        assert!(score("不错") > 0.05);
        assert!(
            score("特别好") > score("好"),
            "特别 is a degree adverb, not 特 + 别"
        );
    }

    #[test]
    fn hao_before_a_sentiment_word_is_an_adverb() {
        assert!(score("好慢") < score("慢"));
        assert!(score("好开心") > score("开心"));
        assert!(score("好") > 0.05);
    }

    #[test]
    fn kuai_before_a_number_means_almost() {
        assert_eq!(ChineseLexicon::builtin().score("送了快2个小时").hits, 0);
        assert_eq!(ChineseLexicon::builtin().score("快一点了").hits, 0);
        assert!(score("送餐很快") > 0.05);
    }

    #[test]
    fn adversative_clause_weighs_more() {
        assert!(score("好吃但是太贵了，以后不会再来了") < -0.05);
        assert!(score("有点贵，不过真的好吃") > 0.05);
    }

    #[test]
    fn emoji_and_weibo_codes_count() {
        assert!(score("[怒][怒]") < -0.05);
        assert!(score("[哈哈]") > 0.05);
        assert!(
            score("[GOOD]") > 0.05,
            "Latin letters match case-insensitively"
        );
        assert!(score("😭😭") < -0.05);
        assert!(score("❤️") > 0.05, "the variation selector is skipped");
    }

    #[test]
    fn exclamation_marks_intensify() {
        assert!(score("太危险了！！！") < score("太危险了"));
    }

    #[test]
    fn empty_and_unknown_text_scores_zero() {
        let lexicon = ChineseLexicon::builtin();
        assert_eq!(
            lexicon.score(""),
            ChineseScore {
                score: 0.0,
                hits: 0
            }
        );
        assert_eq!(lexicon.score("今天下午三点开会").hits, 0);
        assert_eq!(lexicon.score("！！！？？").score, 0.0);
    }
}
