//! Chinese lexicon scoring: forward maximum matching over a hand-written lexicon, with
//! negators, degree adverbs and adversatives applied in the spirit of VADER.

use aho_corasick::{AhoCorasick, MatchKind};
use rustc_hash::FxHashMap;

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

/// Kaomoji (face emoticons of Chinese and Japanese posts), by their faces without the
/// brackets around them, which vary ("(╥﹏╥)", "（╥﹏╥）", "o(╥﹏╥)o"). Only faces
/// with a non-ASCII character: ASCII emoticons (":)", "^_^") are VADER's. Matched as
/// substrings, longest first; each adds its valence like a sentiment word.
const KAOMOJI: &[(&str, f64)] = &[
    // happy
    ("´▽｀", 2.0),
    ("´▽`", 2.0),
    ("＾▽＾", 2.0),
    ("^▽^", 2.0),
    ("≧▽≦", 2.3),
    ("≧∇≦", 2.3),
    ("^∇^", 2.0),
    ("￣▽￣", 1.5),
    ("◕‿◕", 2.0),
    ("^ω^", 1.8),
    ("・ω・", 1.5),
    ("･ω･", 1.5),
    ("´∀｀", 2.0),
    ("´∀`", 2.0),
    ("ﾟ∀ﾟ", 1.8),
    ("˘▽˘", 1.8),
    ("ˊᗜˋ", 2.0),
    // crying, sad
    ("╥﹏╥", -2.3),
    ("╥_╥", -2.3),
    ("╥ω╥", -2.3),
    ("╯﹏╰", -2.0),
    ("╯︿╰", -2.0),
    ("ಥ_ಥ", -2.3),
    ("ಥ﹏ಥ", -2.3),
    ("T﹏T", -2.0),
    ("´;ω;`", -2.0),
    ("╯□╰", -1.8),
    // angry, table flip
    ("┻━┻", -2.5),
    ("｀Д´", -2.5),
    ("`Д´", -2.5),
    ("╬", -2.0),
    ("ﾟДﾟ", -1.0),
];

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

/// What the matcher knows of a string: whether it is an entry, and whether a longer
/// entry starts with it (else the look-ahead can stop).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Node {
    entry: Option<Entry>,
    continues: bool,
}

#[derive(Debug)]
pub(crate) struct ChineseLexicon {
    /// Every entry and every proper prefix of one: one lookup per character of
    /// look-ahead, which stops as soon as no entry can match.
    nodes: FxHashMap<String, Node>,
    emoji: FxHashMap<char, f64>,
    /// Longest entry in chars: bounds the matcher's look-ahead.
    longest: usize,
    /// [`KAOMOJI`], leftmost-longest.
    kaomoji: Option<AhoCorasick>,
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
        let mut entries = FxHashMap::default();
        let mut emoji = FxHashMap::default();
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
                        // The English scorer asks about non-ASCII characters only.
                        (Some(c), None) if !c.is_ascii() => {
                            emoji.insert(c, value);
                        }
                        _ => {
                            problems.push(format!(
                                "line {line_number}: emoji must be one non-ASCII char"
                            ));
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
        let mut nodes: FxHashMap<String, Node> = FxHashMap::default();
        for (word, &entry) in &entries {
            for (end, _) in word.char_indices().skip(1) {
                nodes.entry(word[..end].to_owned()).or_default().continues = true;
            }
            nodes.entry(word.clone()).or_default().entry = Some(entry);
        }
        let kaomoji = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(KAOMOJI.iter().map(|(face, _)| face))
            .inspect_err(|error| tracing::warn!(%error, "kaomoji automaton failed to build"))
            .ok();
        (
            ChineseLexicon {
                nodes,
                emoji,
                longest,
                kaomoji,
            },
            problems,
        )
    }

    /// Valence of a single emoji character, shared with the English scorer.
    pub(crate) fn emoji_valence(&self, c: char) -> Option<f64> {
        self.emoji.get(&c).copied()
    }

    /// The summed valence of the kaomoji in `text` and how many there are.
    pub(crate) fn kaomoji(&self, text: &str) -> (f64, usize) {
        let Some(kaomoji) = &self.kaomoji else {
            return (0.0, 0);
        };
        if text.is_ascii() {
            return (0.0, 0);
        }
        kaomoji
            .find_iter(text)
            .fold((0.0, 0), |(total, count), hit| {
                let valence = KAOMOJI.get(hit.pattern().as_usize()).map_or(0.0, |k| k.1);
                (total + valence, count + 1)
            })
    }

    pub(crate) fn score(&self, text: &str) -> ChineseScore {
        let chars: Vec<char> = text.chars().collect();
        let tokens = self.tokenize(&chars);
        let first_adversative = tokens
            .iter()
            .position(|t| t.kind == TokenKind::Entry(Entry::Adversative));
        let (mut total, mut hits) = self.kaomoji(text);
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
                let Some(node) = self.nodes.get(candidate.as_str()) else {
                    break;
                };
                if let Some(entry) = node.entry {
                    best = Some((offset + 1, entry));
                }
                if !node.continues {
                    break;
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
impl ChineseLexicon {
    fn entry_count(&self) -> usize {
        self.nodes
            .values()
            .filter(|node| node.entry.is_some())
            .count()
    }

    /// The matcher as it was: every candidate up to the longest entry is looked up,
    /// with no early stop.
    fn tokenize_exhaustively(&self, chars: &[char]) -> Vec<Token> {
        let mut tokens = Vec::new();
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
            let mut candidate = String::new();
            let mut best = None;
            for (offset, &c) in chars[position..].iter().take(self.longest).enumerate() {
                if is_boundary(c) {
                    break;
                }
                candidate.push(c.to_ascii_lowercase());
                if let Some(entry) = self.nodes.get(candidate.as_str()).and_then(|n| n.entry) {
                    best = Some((offset + 1, entry));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn same_tokens(lexicon: &ChineseLexicon, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let fast = lexicon.tokenize(&chars);
        let exhaustive = lexicon.tokenize_exhaustively(&chars);
        fast.len() == exhaustive.len()
            && fast
                .iter()
                .zip(&exhaustive)
                .all(|(a, b)| (a.kind, a.start, a.end) == (b.kind, b.start, b.end))
    }

    /// The look-ahead stops when no entry can match any more; it must find what looking
    /// at every candidate found. Texts are built from the lexicon's own entries, their
    /// prefixes and random characters, so long entries and near-misses are common.
    #[test]
    fn early_stop_finds_what_exhaustive_matching_found() {
        let lexicon = ChineseLexicon::builtin();
        let mut words: Vec<&str> = lexicon.nodes.keys().map(String::as_str).collect();
        words.sort_unstable();
        let mut state = 7u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..5_000 {
            let mut text = String::new();
            for _ in 0..1 + next(30) {
                match next(4) {
                    0 | 1 => text.push_str(words[next(words.len())]),
                    2 => text.push(char::from_u32(0x4E00 + next(3000) as u32).unwrap_or('好')),
                    _ => text.push_str(["，", " ", "!", "Acme", "ＡＢ", "[", "]", "快2"][next(8)]),
                }
            }
            assert!(same_tokens(&lexicon, &text), "{text}");
        }
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/sentiment/zh/weibo_senti_100k_split/dev.csv");
        match std::fs::read_to_string(&shared) {
            Ok(raw) => {
                for line in raw.lines() {
                    assert!(same_tokens(&lexicon, line), "{line}");
                }
            }
            Err(_) => println!("skipped: {} not present", shared.display()),
        }
    }

    fn score(text: &str) -> f64 {
        ChineseLexicon::builtin().score(text).score
    }

    #[test]
    fn bundled_lexicon_parses_cleanly() {
        let (lexicon, problems) = ChineseLexicon::parse(BUILTIN_LEXICON);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(lexicon.entry_count() > 500, "{}", lexicon.entry_count());
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
        let (lexicon, problems) = ChineseLexicon::parse(
            "好 1\n@sentiment\n好 x\n好 1 2\n@emoji\n😡😡 -1\n: -1\n@bogus\n",
        );
        assert_eq!(lexicon.entry_count(), 0);
        assert_eq!(problems.len(), 6, "{problems:?}");
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

    /// The rules the product issue lists for Chinese, one assertion each.
    #[test]
    fn negator_scope_over_degree_adverbs() {
        // 不是很好 (not very good) is a mild negative; 很不好 (very not-good) a strong one.
        let not_very_good = score("不是很好");
        let very_not_good = score("很不好");
        assert!(not_very_good < -0.05, "{not_very_good}");
        assert!(
            very_not_good < not_very_good,
            "{very_not_good} < {not_very_good}"
        );
        assert!(score("不太满意") > score("不满意"));
        assert!(score("没有很喜欢") < 0.0);
    }

    #[test]
    fn youdian_softens() {
        assert!(score("有点贵") < 0.0);
        assert!(score("有点贵") > score("贵"));
        assert!(score("有点好吃") < score("好吃"));
        assert!(score("有点好吃") > 0.0);
    }

    #[test]
    fn each_adversative_shifts_weight_to_the_clause_after() {
        for adversative in ["但是", "不过", "却"] {
            let praise_then_complaint = format!("东西不错{adversative}太贵了");
            let complaint_then_praise = format!("有点贵{adversative}很好吃");
            assert!(
                score(&praise_then_complaint) < -0.05,
                "{praise_then_complaint}"
            );
            assert!(
                score(&complaint_then_praise) > 0.05,
                "{complaint_then_praise}"
            );
        }
    }

    #[test]
    fn internet_slang() {
        for positive in ["这家店绝了", "yyds", "YYDS", "真香", "封神了", "无限回购"] {
            assert!(score(positive) > 0.05, "{positive}");
        }
        for negative in [
            "又踩雷了",
            "翻车了",
            "太拉垮了",
            "拉胯",
            "无语",
            "真的无语",
            "离谱",
        ] {
            assert!(score(negative) < -0.05, "{negative}");
        }
        assert!(
            score("太拉垮了") < score("拉垮"),
            "太 intensifies slang too"
        );
    }

    #[test]
    fn kaomoji_count() {
        let lexicon = ChineseLexicon::builtin();
        assert!(score("(╥﹏╥)") < -0.05);
        assert!(score("（╥﹏╥）") < -0.05, "full-width brackets");
        assert!(score("( ´▽｀)") > 0.05);
        assert!(score("(╯°□°）╯︵ ┻━┻") < -0.05);
        assert!(score("等了两个小时(╥﹏╥)") < score("等了两个小时"));
        assert!(score("今天收到了( ´▽｀)") > 0.05);
        assert_eq!(lexicon.kaomoji("(╥﹏╥)(╥﹏╥)").1, 2);
        assert_eq!(lexicon.kaomoji("o(╥╯﹏╰╥)o").1, 1, "longest face wins");
        assert_eq!(
            lexicon.kaomoji("^_^ :)").1,
            0,
            "ASCII emoticons are VADER's"
        );
    }
}
