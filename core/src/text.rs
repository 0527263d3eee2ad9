//! Small text helpers shared by stages: CJK detection and a cheap language guess.

/// True for Han ideographs, kana, hangul and CJK punctuation-free letters: the scripts
/// written without spaces between words.
/// An integer with thousands separators: 12345 → "12,345".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF   // hiragana, katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xAC00..=0xD7AF // hangul syllables
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0x20000..=0x2FA1F)
}

/// A "word character" for boundary purposes: letters and digits of space-separated
/// scripts. CJK characters are not word characters, so a Latin brand name directly
/// next to Chinese text ("买了acme水壶") still stands on word boundaries.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c) || c == '_'
}

/// Guesses `zh` when a meaningful share of the letters are Han, `en` when there are
/// Latin letters, `und` otherwise. Mixed posts count as Chinese once Han characters
/// make up a fifth of the letters: Chinese posts often carry Latin brand names.
pub fn detect_lang(text: &str) -> &'static str {
    let mut han = 0usize;
    let mut latin = 0usize;
    for c in text.chars() {
        if is_cjk(c) {
            han += 1;
        } else if c.is_alphabetic() {
            latin += 1;
        }
    }
    if han == 0 && latin == 0 {
        "und"
    } else if han * 5 >= han + latin {
        "zh"
    } else {
        "en"
    }
}

/// Cuts `text` to at most `max_chars` characters, adding an ellipsis when it did.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    let mut out: String = text.chars().take(max_chars).collect();
    if text.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// An author handle as `author:` compares it: trimmed, lower case, without a leading
/// `@` (`@AcmeSupport` and `acmesupport` are the same author).
pub fn author_key(author: &str) -> String {
    let author = author.trim();
    author.strip_prefix('@').unwrap_or(author).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_languages() {
        assert_eq!(detect_lang("The kettle exploded"), "en");
        assert_eq!(detect_lang("艾克米水壶爆炸了"), "zh");
        assert_eq!(detect_lang("我的Acme水壶坏了"), "zh");
        assert_eq!(detect_lang("1234 !!"), "und");
    }

    #[test]
    fn thousands_separators() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (-1234567, "-1,234,567"),
        ];
        for (n, text) in cases {
            assert_eq!(thousands(n), text);
        }
        assert_eq!(thousands(i64::MIN), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn word_chars_exclude_cjk() {
        assert!(is_word_char('a'));
        assert!(is_word_char('é'));
        assert!(!is_word_char('水'));
        assert!(!is_word_char(' '));
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate_chars("艾克米水壶", 3), "艾克米…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }
}
