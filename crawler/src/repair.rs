//! Textual fixes for feeds that real servers publish but a strict XML reader rejects.
//! Each is applied only where it cannot change a well-formed document's meaning.

use crate::html::decode_entities;

const ATOM_03_NS: &str = "http://purl.org/atom/ns#";
const ATOM_10_NS: &str = "http://www.w3.org/2005/Atom";

/// Atom 0.3 (Blogger, 2004–2006) → the Atom 1.0 names feed-rs understands: namespace,
/// `issued`/`modified`/`tagline`, and MIME-type `type` attributes. `None` when the
/// document is not Atom 0.3.
pub(crate) fn upgrade_atom_03(document: &str) -> Option<String> {
    if !document.contains(ATOM_03_NS) {
        return None;
    }
    let mut out = document.replace(ATOM_03_NS, ATOM_10_NS);
    for (old, new) in [
        ("<issued>", "<published>"),
        ("</issued>", "</published>"),
        ("<modified>", "<updated>"),
        ("</modified>", "</updated>"),
        ("<tagline", "<subtitle"),
        ("</tagline>", "</subtitle>"),
        ("type=\"text/plain\"", "type=\"text\""),
        ("type='text/plain'", "type='text'"),
        ("type=\"application/xhtml+xml\"", "type=\"xhtml\""),
        ("type='application/xhtml+xml'", "type='xhtml'"),
    ] {
        out = out.replace(old, new);
    }
    Some(out)
}

/// Escapes `&` that does not start a reference (`AT&T`, `?a=1&b=2`) and rewrites HTML
/// named entities XML does not know (`&nbsp;`) as numeric references. CDATA sections
/// are copied untouched: a bare `&` is legal there.
pub(crate) fn fix_ampersands(document: &str) -> String {
    let mut out = String::with_capacity(document.len() + 64);
    let mut position = 0;
    let mut next_cdata = find_from(document, "<![CDATA[", 0);
    while let Some(offset) = document[position..].find('&') {
        let amp = position + offset;
        if let Some(cdata) = next_cdata
            && cdata < amp
        {
            let end = find_from(document, "]]>", cdata).map_or(document.len(), |e| e + 3);
            out.push_str(&document[position..end]);
            position = end;
            next_cdata = find_from(document, "<![CDATA[", position);
            continue;
        }
        out.push_str(&document[position..amp]);
        let rest = &document[amp..];
        match reference_length(rest) {
            Some(len) if is_xml_reference(&rest[..len]) => out.push_str(&rest[..len]),
            Some(len) => {
                let decoded = decode_entities(&rest[..len]);
                if decoded == rest[..len] {
                    out.push_str("&amp;");
                    out.push_str(&rest[1..len]);
                } else {
                    for c in decoded.chars() {
                        out.push_str(&format!("&#{};", u32::from(c)));
                    }
                }
            }
            None => out.push_str("&amp;"),
        }
        position = amp + reference_length(rest).unwrap_or(1);
    }
    out.push_str(&document[position..]);
    out
}

fn find_from(haystack: &str, needle: &str, from: usize) -> Option<usize> {
    haystack.get(from..)?.find(needle).map(|p| from + p)
}

/// Length of `&name;`, `&#123;` or `&#x1F;` at the start of `text`.
fn reference_length(text: &str) -> Option<usize> {
    let body = text.strip_prefix('&')?;
    let end = body
        .char_indices()
        .take(40)
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '#'))?;
    if end.1 != ';' || end.0 == 0 {
        return None;
    }
    Some(end.0 + 2)
}

fn is_xml_reference(reference: &str) -> bool {
    let name = &reference[1..reference.len() - 1];
    if let Some(number) = name.strip_prefix('#') {
        return match number.strip_prefix('x') {
            Some(hex) => !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()),
            None => !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()),
        };
    }
    matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_bare_ampersands_outside_cdata() {
        assert_eq!(
            fix_ampersands("<a>AT&T &amp; a=1&b=2 &#38; &#x26; &nbsp;<![CDATA[x & y]]> & </a>"),
            "<a>AT&amp;T &amp; a=1&amp;b=2 &#38; &#x26; &#160;<![CDATA[x & y]]> &amp; </a>"
        );
        assert_eq!(fix_ampersands("&bogus; &"), "&amp;bogus; &amp;");
        assert_eq!(
            fix_ampersands("<![CDATA[never & closed"),
            "<![CDATA[never & closed"
        );
    }

    #[test]
    fn upgrades_atom_03() {
        let upgraded = upgrade_atom_03(
            "<feed xmlns=\"http://purl.org/atom/ns#\"><entry><issued>2005</issued><title type=\"text/plain\">t</title></entry></feed>",
        )
        .expect("is atom 0.3");
        assert_eq!(
            upgraded,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><published>2005</published><title type=\"text\">t</title></entry></feed>"
        );
        assert!(upgrade_atom_03("<rss/>").is_none());
    }
}
