//! HTML fragment → plain text, for feed summaries and content. Not an HTML parser: a
//! single linear pass that is good enough for the tags feeds put in descriptions, and
//! cannot be made slow or made to panic by any input.

/// Tags whose content is never text a person reads.
const SKIP_CONTENT: &[&str] = &["script", "style", "template", "noscript"];

/// Tags that separate blocks of text: they become a line break (here and in the
/// `html` source kind's `text` field).
pub(crate) const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tr",
    "ul",
];

/// Tags that separate words without starting a block (table cells, images).
const SPACE_TAGS: &[&str] = &["td", "th", "img", "caption"];

/// Strips tags, drops `<script>`/`<style>` content and comments, decodes entities, turns
/// block tags into line breaks and collapses whitespace (runs with a line break become
/// one `\n`, others one space).
pub fn strip_html(html: &str) -> String {
    let mut raw = String::with_capacity(html.len());
    let bytes = html.as_bytes();
    let mut i = 0;
    // Once a '<' has no '>' after it, no later '<' has one either: stop looking, so
    // "<<<<<…" stays linear.
    let mut no_more_close = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'<' && !no_more_close && looks_like_tag_start(bytes.get(i + 1).copied()) {
            if html[i..].starts_with("<!--") {
                i = match html[i + 4..].find("-->") {
                    Some(end) => i + 4 + end + 3,
                    None => bytes.len(),
                };
                continue;
            }
            let Some(close) = html[i..].find('>') else {
                no_more_close = true;
                raw.push('<');
                i += 1;
                continue;
            };
            let tag = &html[i + 1..i + close];
            i += close + 1;
            let name = tag_name(tag);
            let is_end = tag.starts_with('/');
            if !is_end && SKIP_CONTENT.contains(&name.as_str()) && !tag.ends_with('/') {
                i = skip_past_end_tag(html, i, &name);
                raw.push(' ');
            } else if BLOCK_TAGS.contains(&name.as_str()) {
                raw.push('\n');
            } else if SPACE_TAGS.contains(&name.as_str()) {
                raw.push(' ');
            }
            continue;
        }
        // Copy the run of text up to the next '<' in one go.
        let next = html[i..]
            .find('<')
            .map_or(bytes.len(), |p| if p == 0 { i + 1 } else { i + p });
        raw.push_str(&html[i..next]);
        i = next;
    }
    collapse_whitespace(&decode_entities(&raw))
}

fn looks_like_tag_start(next: Option<u8>) -> bool {
    next.is_some_and(|b| b.is_ascii_alphabetic() || matches!(b, b'/' | b'!' | b'?'))
}

/// Lower-cased element name of the inside of a tag (`/p`, `br/`, `a href=…`).
fn tag_name(tag: &str) -> String {
    tag.trim_start_matches(['/', '!', '?'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Index just after `</name ...>`, or the end of the input when it never closes.
fn skip_past_end_tag(html: &str, from: usize, name: &str) -> usize {
    let bytes = html.as_bytes();
    let mut at = from;
    while let Some(offset) = html[at..].find("</") {
        let name_start = at + offset + 2;
        let name_end = name_start + name.len();
        if name_end <= bytes.len()
            && bytes[name_start..name_end].eq_ignore_ascii_case(name.as_bytes())
        {
            return html[name_end..]
                .find('>')
                .map_or(html.len(), |p| name_end + p + 1);
        }
        at = name_start;
    }
    html.len()
}

/// Decodes `&amp;`, `&#39;`, `&#x4E2D;` and the named entities feeds actually use.
/// Unknown or malformed references are kept as written.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        // Entity names are short; look for ';' only within the next 32 bytes.
        let window_end = rest
            .char_indices()
            .map(|(i, c)| i + c.len_utf8())
            .take_while(|end| *end <= 32)
            .last()
            .unwrap_or(rest.len());
        match rest[..window_end].find(';') {
            Some(semi) => match entity_char(&rest[1..semi]) {
                Some(decoded) => {
                    decoded.push_to(&mut out);
                    rest = &rest[semi + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            },
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

enum Decoded {
    Char(char),
    Str(&'static str),
}

impl Decoded {
    fn push_to(&self, out: &mut String) {
        match self {
            Decoded::Char(c) => out.push(*c),
            Decoded::Str(s) => out.push_str(s),
        }
    }
}

fn entity_char(name: &str) -> Option<Decoded> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse::<u32>().ok()?,
        };
        let c = match code {
            0 => '\u{FFFD}',
            // Windows-1252 code points that HTML maps numeric references to.
            0x80..=0x9F => cp1252_control(code).unwrap_or('\u{FFFD}'),
            _ => char::from_u32(code).unwrap_or('\u{FFFD}'),
        };
        return Some(Decoded::Char(c));
    }
    let c = match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{A0}',
        "ensp" | "emsp" | "thinsp" => ' ',
        "shy" | "zwnj" | "zwj" => return Some(Decoded::Str("")),
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "para" => '¶',
        "iexcl" => '¡',
        "iquest" => '¿',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "Eacute" => 'É',
        "aacute" => 'á',
        "agrave" => 'à',
        "acirc" => 'â',
        "atilde" => 'ã',
        "ccedil" => 'ç',
        "iacute" => 'í',
        "oacute" => 'ó',
        "ocirc" => 'ô',
        "otilde" => 'õ',
        "uacute" => 'ú',
        "ntilde" => 'ñ',
        _ => return None,
    };
    Some(Decoded::Char(c))
}

fn cp1252_control(code: u32) -> Option<char> {
    let byte = u8::try_from(code).ok()?;
    let bytes = [byte];
    let (decoded, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    decoded.chars().next()
}

/// Whitespace runs containing a line break become `\n`, other runs one space; trimmed.
///
/// Whitespace is [`char::is_whitespace`]; a line break is `\n`, `\r`, U+2028 or U+2029.
/// Text between unusual whitespace (anything but a single space between words) is
/// copied in one piece, and bytes are classified with a table, so long text costs
/// about one pass over its bytes.
pub fn collapse_whitespace(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    // The separator owed before the next text: ' ' or '\n'.
    let mut pending: Option<char> = None;
    let mut at = whitespace_run(text, 0, &mut pending);
    while at < bytes.len() {
        // A stretch of text whose only whitespace is single spaces between words.
        let start = at;
        while at < bytes.len() {
            // Eight bytes at a time while they are plain ASCII with single spaces.
            while let Some(word) = bytes.get(at..at + 9) {
                let word = u64::from_le_bytes([
                    word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
                ]);
                if !simple_word(word, bytes[at + 8]) {
                    break;
                }
                at += 8;
            }
            match BYTE_CLASS[usize::from(bytes[at])] {
                PLAIN => at += 1,
                SPACE
                    if bytes
                        .get(at + 1)
                        .is_some_and(|next| BYTE_CLASS[usize::from(*next)] == PLAIN) =>
                {
                    at += 2;
                }
                MAYBE_SPACE => {
                    let c = char_at(text, at);
                    if c.is_whitespace() {
                        break;
                    }
                    at += c.len_utf8();
                }
                _ => break,
            }
        }
        if let Some(separator) = pending.take()
            && !out.is_empty()
        {
            out.push(separator);
        }
        out.push_str(&text[start..at]);
        at = whitespace_run(text, at, &mut pending);
    }
    out
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether eight bytes (and the byte after them) can be copied as they are: all
/// printable ASCII, and every space single and followed by a non-space.
fn simple_word(word: u64, next: u8) -> bool {
    // Bit 7 of each byte: the byte is 0x80 or above, or below 0x20 (controls,
    // including tab, LF, VT, FF, CR).
    let high = word & HIGH_BITS;
    let below_space = word.wrapping_sub(0x20 * LOW_BITS) & !word & HIGH_BITS;
    if high | below_space != 0 {
        return false;
    }
    // Bit 7 set for bytes that are not a space.
    let other = word ^ (0x20 * LOW_BITS);
    let not_space = ((other & !HIGH_BITS).wrapping_add(!HIGH_BITS) | other) & HIGH_BITS;
    let space = !not_space & HIGH_BITS;
    // A space followed by a space inside the word, or a space as the last byte
    // followed by anything but a plain byte.
    space & (space >> 8) == 0 && (space >> 63 == 0 || BYTE_CLASS[usize::from(next)] == PLAIN)
}

/// Skips the whitespace starting at byte `at`, noting in `pending` the separator it
/// stands for; returns where the next text starts.
fn whitespace_run(text: &str, mut at: usize, pending: &mut Option<char>) -> usize {
    let bytes = text.as_bytes();
    while at < bytes.len() {
        let (c, width) = match BYTE_CLASS[usize::from(bytes[at])] {
            SPACE | ASCII_SPACE => (char::from(bytes[at]), 1),
            MAYBE_SPACE => {
                let c = char_at(text, at);
                if !c.is_whitespace() {
                    break;
                }
                (c, c.len_utf8())
            }
            _ => break,
        };
        let newline = matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}');
        if newline || *pending != Some('\n') {
            *pending = Some(if newline { '\n' } else { ' ' });
        }
        at += width;
    }
    at
}

/// Bytes that are never (part of) whitespace: ASCII other than spaces, UTF-8
/// continuation bytes and lead bytes of characters that are not whitespace.
const PLAIN: u8 = 0;
/// `' '`.
const SPACE: u8 = 1;
/// The other ASCII whitespace of [`char::is_whitespace`]: tab, LF, VT, FF, CR.
const ASCII_SPACE: u8 = 2;
/// Lead bytes of the non-ASCII whitespace characters (U+0085, U+00A0, U+1680,
/// U+2000–U+205F, U+3000): the character must be decoded.
const MAYBE_SPACE: u8 = 3;

const BYTE_CLASS: [u8; 256] = {
    let mut table = [PLAIN; 256];
    table[b' ' as usize] = SPACE;
    table[b'\t' as usize] = ASCII_SPACE;
    table[b'\n' as usize] = ASCII_SPACE;
    table[0x0B] = ASCII_SPACE;
    table[0x0C] = ASCII_SPACE;
    table[b'\r' as usize] = ASCII_SPACE;
    table[0xC2] = MAYBE_SPACE;
    table[0xE1] = MAYBE_SPACE;
    table[0xE2] = MAYBE_SPACE;
    table[0xE3] = MAYBE_SPACE;
    table
};

/// The char starting at byte `at` (a char boundary) of `text`.
fn char_at(text: &str, at: usize) -> char {
    text[at..].chars().next().unwrap_or('\u{FFFD}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_keeps_words_together() {
        assert_eq!(strip_html("<p>I love <b>Ac</b>me!</p>"), "I love Acme!");
        assert_eq!(
            strip_html("<p>first</p><p>second<br/>third</p>"),
            "first\nsecond\nthird"
        );
        assert_eq!(strip_html("a<td>b</td><td>c"), "a b c");
    }

    #[test]
    fn drops_script_style_and_comments() {
        assert_eq!(
            strip_html(
                "x<script type='a'>alert('<p>')</script>y<STYLE>p{}</Style>z<!-- hidden -->!"
            ),
            "x y z!"
        );
        assert_eq!(strip_html("a<script>never closed"), "a");
        assert_eq!(strip_html("a<!-- never closed"), "a");
    }

    #[test]
    fn decodes_entities() {
        assert_eq!(
            strip_html(
                "Tom &amp; Jerry &lt;3 &#8217;&#x4E2D;&nbsp;&hellip; &bogus; &#xFFFFFFFF; &"
            ),
            "Tom & Jerry <3 ’中 … &bogus; \u{FFFD} &"
        );
        assert_eq!(decode_entities("&#150;"), "–");
        assert_eq!(decode_entities("&amp;amp;"), "&amp;");
    }

    #[test]
    fn keeps_lone_angle_brackets() {
        assert_eq!(strip_html("a < b and c > d"), "a < b and c > d");
        assert_eq!(strip_html("x <b no close"), "x <b no close");
        let many = "<a".repeat(10_000);
        assert_eq!(strip_html(&many).len(), many.len());
    }

    #[test]
    fn collapses_whitespace() {
        assert_eq!(collapse_whitespace("  a \t b \n\n  c  "), "a b\nc");
        assert_eq!(collapse_whitespace("中\u{3000}文"), "中 文");
        assert_eq!(
            collapse_whitespace("a\u{2028} b\u{A0}\u{85}c\x0Bd"),
            "a\nb c d"
        );
        assert_eq!(collapse_whitespace(" \r\n "), "");
        assert_eq!(collapse_whitespace("x \n y\t\tz"), "x\ny z");
    }

    #[test]
    fn byte_classes_cover_every_whitespace_character() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let mut buf = [0u8; 4];
            let lead = c.encode_utf8(&mut buf).as_bytes()[0];
            let class = BYTE_CLASS[usize::from(lead)];
            match (c.is_whitespace(), c.is_ascii()) {
                (true, true) => assert!(matches!(class, SPACE | ASCII_SPACE), "{c:?}"),
                (true, false) => assert_eq!(class, MAYBE_SPACE, "{c:?}"),
                (false, true) => assert_eq!(class, PLAIN, "{c:?}"),
                (false, false) => assert!(matches!(class, PLAIN | MAYBE_SPACE), "{c:?}"),
            }
        }
    }

    #[test]
    fn simple_words() {
        let word = |text: &[u8; 8]| u64::from_le_bytes(*text);
        assert!(simple_word(word(b"ab cd ef"), b'g'));
        assert!(simple_word(word(b"abcdefg "), b'h'));
        assert!(!simple_word(word(b"abcdefg "), b' '));
        assert!(!simple_word(word(b"abcdefg "), b'\n'));
        assert!(!simple_word(word(b"ab  cdef"), b'g'));
        assert!(!simple_word(word(b"ab\ncdefg"), b'g'));
        assert!(!simple_word(word(b"ab\tcdefg"), b'g'));
        // A leading space follows a plain byte inside a stretch: a single space.
        assert!(simple_word(word(b" abcdefg"), b'g'));
        assert!(simple_word(word(b"a~b!c@d#"), 0xC3));
        let mut with_high = *b"abcdefgh";
        with_high[3] = 0xC3;
        assert!(!simple_word(word(&with_high), b'a'));
    }

    /// The original char-by-char definition, kept as the reference.
    fn collapse_reference(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut pending: Option<char> = None;
        for c in text.chars() {
            if c.is_whitespace() {
                let newline = c == '\n' || c == '\r' || c == '\u{2028}' || c == '\u{2029}';
                pending = match pending {
                    Some('\n') => Some('\n'),
                    _ if newline => Some('\n'),
                    _ => Some(' '),
                };
            } else {
                if let Some(separator) = pending.take()
                    && !out.is_empty()
                {
                    out.push(separator);
                }
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn collapse_matches_the_char_by_char_definition() {
        let pieces = [
            "a",
            "bc",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "\x0B",
            "\x0C",
            "\u{A0}",
            "\u{85}",
            "\u{2028}",
            "\u{2029}",
            "\u{3000}",
            "\u{200B}",
            "中文",
            "é",
            "🙂",
            "\u{1680}",
            "a b",
            " x",
            "\u{2000}",
            "\u{205F}",
            "\u{202F}",
            "€",
            "\u{2030}",
            "¢",
            "kettle boils ",
            "the lid sticks",
            "abcdefgh",
            "a b c d e f g h ",
            "x  y",
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            seed = seed.wrapping_add(1);
            assert_eq!(
                collapse_whitespace(&text),
                collapse_reference(&text),
                "{text:?}"
            );
        }
    }
}
