//! Bytes → UTF-8 text. Feeds in the wild are GB2312, Big5, Shift-JIS, Latin-1 or
//! broken UTF-8, and say so (or not) in four different places; this module decides
//! once, decodes with `encoding_rs`, and never fails: bad sequences become U+FFFD.

use encoding_rs::{Encoding, GB18030, GBK, REPLACEMENT, UTF_8, UTF_16BE, UTF_16LE};

/// How far into the document the XML declaration and HTML `<meta>` are looked for.
const SNIFF_BYTES: usize = 1024;

/// Decodes `bytes` to UTF-8, choosing the encoding from (in order) a byte-order mark,
/// the `charset=` of `content_type`, the XML declaration, an HTML `<meta>` in the first
/// 1024 bytes, else UTF-8. Returns the text, the name of the encoding used, and whether
/// malformed sequences had to be replaced.
///
/// Last resort: bytes the chosen encoding cannot decode but that are valid UTF-8 are
/// read as UTF-8 (a page converted to UTF-8 that kept its old charset declaration).
///
/// One deviation from the strict order: when the HTTP charset produces malformed
/// sequences but the document's own declaration decodes cleanly, the declaration wins.
/// Servers often stamp a default `charset=utf-8` (or ISO-8859-1) on every file, while the
/// feed's own declaration was written by the program that produced it.
pub fn decode_body(
    bytes: &[u8],
    content_type: Option<&str>,
) -> (String, Option<&'static str>, bool) {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return (text.into_owned(), Some(encoding.name()), had_errors);
    }
    if let Some(encoding) = sniff_utf16_without_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        return (text.into_owned(), Some(encoding.name()), had_errors);
    }

    let from_header = content_type
        .and_then(charset_from_content_type)
        .and_then(|label| usable_encoding(label.as_bytes(), bytes));
    let from_document = xml_declared_encoding(bytes)
        .or_else(|| html_meta_charset(bytes))
        .and_then(|label| usable_encoding(&label, bytes));

    let chosen = from_header.or(from_document).unwrap_or(UTF_8);
    let (text, had_errors) = chosen.decode_without_bom_handling(bytes);
    if had_errors
        && let Some(declared) = from_document
        && declared != chosen
    {
        let (retry, retry_errors) = declared.decode_without_bom_handling(bytes);
        if !retry_errors {
            return (retry.into_owned(), Some(declared.name()), false);
        }
    }
    // A page re-saved as UTF-8 that kept its old `<meta charset=gb2312>`: a legacy
    // multi-byte encoding almost never yields bytes that are also valid UTF-8, so
    // bytes that fail the declared encoding but are valid UTF-8 are UTF-8.
    if had_errors
        && chosen != UTF_8
        && let Ok(utf8) = std::str::from_utf8(bytes)
    {
        return (utf8.to_string(), Some(UTF_8.name()), false);
    }
    (text.into_owned(), Some(chosen.name()), had_errors)
}

/// `<?xml` written in UTF-16 without a BOM (XML 1.0 appendix F).
fn sniff_utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes {
        [0x3C, 0x00, 0x3F, 0x00, ..] => Some(UTF_16LE),
        [0x00, 0x3C, 0x00, 0x3F, ..] => Some(UTF_16BE),
        _ => None,
    }
}

/// Maps a label to the encoding we actually decode with, or `None` to ignore it.
fn usable_encoding(label: &[u8], bytes: &[u8]) -> Option<&'static Encoding> {
    let encoding = Encoding::for_label(label.trim_ascii())?;
    // GB2312 and GBK labels map to GBK; GB18030 is a strict superset that also
    // covers the characters old GB2312 feeds picked up from later standards.
    if encoding == GBK {
        return Some(GB18030);
    }
    // The replacement encoding would turn the whole document into one U+FFFD.
    if encoding == REPLACEMENT {
        return None;
    }
    // A label we could read in ASCII cannot describe UTF-16 bytes (the BOM and the
    // BOM-less sniff above already caught real UTF-16), so the declaration is lying.
    if (encoding == UTF_16LE || encoding == UTF_16BE)
        && !bytes.iter().take(SNIFF_BYTES).any(|b| *b == 0)
    {
        return None;
    }
    Some(encoding)
}

/// The `charset` parameter of a Content-Type header value.
fn charset_from_content_type(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// The `encoding="..."` of an XML declaration at the start of the document.
fn xml_declared_encoding(bytes: &[u8]) -> Option<Vec<u8>> {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = find(head, b"?>")?;
    let declaration = &head[..end];
    let at = find_ignore_case(declaration, b"encoding")?;
    attribute_value(&declaration[at + b"encoding".len()..])
}

/// The charset of an HTML `<meta charset=...>` or
/// `<meta http-equiv="Content-Type" content="...; charset=...">` near the top.
fn html_meta_charset(bytes: &[u8]) -> Option<Vec<u8>> {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let mut from = 0;
    while let Some(offset) = find_ignore_case(&head[from..], b"<meta") {
        let tag_start = from + offset;
        let tag_end = head[tag_start..]
            .iter()
            .position(|b| *b == b'>')
            .map_or(head.len(), |p| tag_start + p);
        let tag = &head[tag_start..tag_end];
        if let Some(at) = find_ignore_case(tag, b"charset") {
            let rest = &tag[at + b"charset".len()..];
            if let Some(value) = attribute_value(rest) {
                return Some(value);
            }
        }
        from = tag_end.max(tag_start + 1);
        if from >= head.len() {
            break;
        }
    }
    None
}

/// Reads `= "value"`, `='value'` or `=value` (up to a space, quote, `;`, `/` or `>`).
fn attribute_value(rest: &[u8]) -> Option<Vec<u8>> {
    let rest = rest.trim_ascii_start();
    let rest = rest.strip_prefix(b"=")?.trim_ascii_start();
    let (quote, body) = match rest.first() {
        Some(q @ (b'"' | b'\'')) => (Some(*q), &rest[1..]),
        _ => (None, rest),
    };
    let end = body
        .iter()
        .position(|b| match quote {
            Some(q) => *b == q,
            None => b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b';' | b'/' | b'>'),
        })
        .unwrap_or(body.len());
    let value = body[..end].trim_ascii();
    (!value.is_empty()).then(|| value.to_vec())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Removes the XML declaration (and any stray `<?xml ...?>` later on) from decoded
/// text. The text is UTF-8 now; left in place, `encoding="gbk"` would make the XML
/// reader decode it a second time.
pub(crate) fn strip_xml_declarations(text: &str) -> String {
    let trimmed = text.trim_start_matches(|c: char| c == '\u{feff}' || c.is_whitespace());
    let mut out = String::with_capacity(trimmed.len());
    let mut rest = trimmed;
    while let Some(at) = find_xml_pi(rest) {
        out.push_str(&rest[..at]);
        match rest[at..].find("?>") {
            Some(end) => rest = &rest[at + end + 2..],
            None => {
                // An unterminated declaration: drop it and everything after, there is
                // no way to tell where it was meant to end.
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Position of `<?xml` followed by whitespace (a declaration, not `<?xml-stylesheet`).
fn find_xml_pi(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = text[from..].find("<?xml") {
        let at = from + offset;
        let after = text[at + 5..].chars().next();
        if after.is_some_and(|c| c.is_whitespace() || c == '?') {
            return Some(at);
        }
        from = at + 5;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_wins() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice("<?xml version=\"1.0\" encoding=\"gbk\"?><a>水</a>".as_bytes());
        let (text, name, errors) = decode_body(&bytes, Some("text/xml; charset=iso-8859-1"));
        assert_eq!(name, Some("UTF-8"));
        assert!(!errors);
        assert!(text.starts_with("<?xml") && text.contains('水'));

        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("<a>水</a>".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let (text, name, _) = decode_body(&utf16, None);
        assert_eq!(name, Some("UTF-16LE"));
        assert_eq!(text, "<a>水</a>");
    }

    #[test]
    fn content_type_then_declaration_then_meta() {
        let (gbk, _, _) =
            GBK.encode("<?xml version=\"1.0\" encoding=\"gb2312\"?><t>艾克米水壶</t>");
        let (text, name, errors) = decode_body(&gbk, None);
        assert_eq!(name, Some("gb18030"));
        assert!(!errors);
        assert!(text.contains("艾克米水壶"));

        let (text, name, _) = decode_body(&gbk, Some("application/rss+xml; charset=\"GBK\""));
        assert_eq!(name, Some("gb18030"));
        assert!(text.contains("艾克米水壶"));

        let (big5, _, _) =
            encoding_rs::BIG5.encode("<html><head><meta charset=big5></head>臺灣</html>");
        let (text, name, _) = decode_body(&big5, Some("text/html"));
        assert_eq!(name, Some("Big5"));
        assert!(text.contains("臺灣"));

        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(
            "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\">演劇",
        );
        let (text, name, _) = decode_body(&sjis, None);
        assert_eq!(name, Some("Shift_JIS"));
        assert!(text.contains("演劇"));
    }

    #[test]
    fn wrong_header_charset_falls_back_to_clean_declaration() {
        let (gbk, _, _) = GBK.encode("<?xml version=\"1.0\" encoding=\"gbk\"?><t>召回</t>");
        let (text, name, errors) = decode_body(&gbk, Some("text/xml; charset=utf-8"));
        assert_eq!(name, Some("gb18030"));
        assert!(!errors);
        assert!(text.contains("召回"));
    }

    #[test]
    fn malformed_bytes_are_replaced_and_reported() {
        let (text, name, errors) = decode_body(b"<a>ok \xA9 \xFF</a>", None);
        assert_eq!(name, Some("UTF-8"));
        assert!(errors);
        assert!(text.contains('\u{FFFD}') && text.contains("ok"));
    }

    #[test]
    fn lying_utf16_label_is_ignored() {
        let (text, name, errors) =
            decode_body(b"<?xml version=\"1.0\" encoding=\"utf-16\"?><a>x</a>", None);
        assert_eq!(name, Some("UTF-8"));
        assert!(!errors);
        assert!(text.ends_with("<a>x</a>"));
    }

    #[test]
    fn strips_declarations_but_not_stylesheets() {
        let out = strip_xml_declarations(
            "\u{feff}  <?xml version=\"1.0\" encoding=\"gbk\"?>\n<?xml-stylesheet href=\"a\"?><rss><?xml version='1.0' encoding='utf-16'?></rss>",
        );
        assert_eq!(out, "\n<?xml-stylesheet href=\"a\"?><rss></rss>");
        assert_eq!(strip_xml_declarations("<?xml version="), "");
        assert_eq!(strip_xml_declarations("<rss/>"), "<rss/>");
    }
}
