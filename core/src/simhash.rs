//! Near-duplicate fingerprints: a 64-bit simhash (Charikar 2002) of a post's normalised
//! text, so a syndicated or copy-pasted post can be counted once.
//!
//! Two texts whose fingerprints differ in at most [`NEAR_DUPLICATE_DISTANCE`] bits
//! ([`hamming`]) are treated as copies. The store persists the values, so the
//! algorithm below is a stable format: changing any step (normalisation, shingle size,
//! feature hash) changes stored fingerprints and needs a migration that recomputes them.
//!
//! # Algorithm
//!
//! 1. **Normalise.** Full-width ASCII forms (`ＡＢＣ！`) become half-width and the
//!    ideographic space a space; everything is lower-cased. URLs (`http://…`,
//!    `https://…`, `www.…`, also glued to Chinese text) and @mentions (Latin or CJK
//!    handles, up to 30 characters) are removed, and a `via`, `rt` or `cc` right before
//!    a removed mention goes with it. Hashtags (`#tag`, Weibo's `#话题#`) are removed
//!    too: reposters add and drop them freely. Weibo emoticon codes (`[哈哈]`,
//!    `[doge]`: up to ten characters in square brackets) are removed. Then every
//!    character that is not a letter or a digit (whitespace, punctuation, emoji) is
//!    dropped, and finally the repost markers `转发微博`/`转发` (and the traditional
//!    forms) are deleted. What is left is the sequence of letters and digits a reader
//!    would call "the text".
//! 2. **Too short?** Each CJK character weighs 2 and every other character 1 (a Chinese
//!    character carries about as much as two Latin letters); below
//!    [`MIN_TEXT_WEIGHT`] (40, e.g. 40 Latin letters or 20 Chinese characters) the
//!    text gets no fingerprint: two people can write "Acme kettle broke again" without
//!    copying each other. Nor does a text with fewer than 16 distinct shingles (long
//!    but repetitive: "哈哈哈哈…").
//! 3. **Features** are the distinct overlapping 4-character shingles of the normalised
//!    sequence, each counted once (counted with repetition, a run of 哈 outvoted the
//!    rest of a Weibo post and made unrelated posts look alike). Character shingles
//!    treat English and Chinese alike (no word segmentation is needed, and mixed-script
//!    posts work), and one edited word touches only the few shingles that overlap it. Word 3-shingles for Latin text
//!    would change three features out of a dozen for a one-word edit in a tweet;
//!    4-character shingles change about 5 of 60.
//! 4. **Feature hash.** FNV-1a 64 over the shingle's UTF-8 bytes, then MurmurHash3's
//!    64-bit finaliser (`fmix64`). FNV-1a alone is not enough: its low bits hardly mix
//!    (bit 0 is the parity of the bytes' low bits), which would correlate those
//!    fingerprint bits across unrelated texts. Both are written out here, on `u64`
//!    with wrapping arithmetic, so the value is the same on every platform and version.
//! 5. **Fingerprint.** Bit *i* is set when more than half of the features have bit *i*
//!    set (the usual ±1 vote). The votes are counted with bit-sliced counters (one
//!    ripple-carry addition of the whole 64-bit hash per feature) rather than 64
//!    counters, which keeps the cost per feature near a dozen operations even in
//!    unoptimised builds.
//!
//! # Threshold
//!
//! A distance of at most 3 bits is a copy. It is what the store's pigeonhole lookup
//! supports (four 16-bit bands: two fingerprints within 3 bits agree on one band
//! exactly, see [`simhash_bands`]), and the measurements below support it. They come
//! from the store test `near_duplicates_corpus` over the development corpora in
//! `../shared/data`: "pairs ≤ 3" are all pairs of the whole set within 3 bits, checked
//! against an independent measure (a pair sharing under half its character 4-grams is
//! "not a copy"); "unrelated" are all pairs among 1,000 sampled texts; "copies" are
//! those 1,000 texts copied the nine ways reposters do (a new t.co link, `via @x`,
//! `RT @x:`, `转发`, `转发微博 //@x:`, emoji, `[哈哈]`, doubled whitespace,
//! half-width/full-width punctuation swapped).
//!
//! | set (texts; with a fingerprint) | pairs ≤ 3 (not copies) | unrelated: min / 1st pct / mean | copies ≤ 3 |
//! |---|---|---|---|
//! | TweetEval test (11,963; 9,188) | 7 (0) | 13 / 22 / 31.7 | 9,000 / 9,000, all at 0 |
//! | Weibo dev (11,999; 6,958) | 9 (0) | 13 / 23 / 31.8 | 9,000 / 9,000, all at 0 |
//! | shopping reviews (44,931; 27,786) | 135 (0) | 13 / 23 / 31.9 | 9,000 / 9,000, all at 0 |
//! | IMDB sentences (1,000; 649) | 0 (0) | 16 / 22 / 31.5 | 5,841 / 5,841, all at 0 |
//!
//! So unrelated texts never come closer than 13 bits, and reposter-style copies
//! normalise to the very same text. What the threshold does not catch well is a real
//! *edit*: one word (or one Chinese character) replaced in the middle moves a tweet by a
//! median of 11 bits (5 of 996 within 3), a shopping review by 10 (45 of 1,000), a Weibo
//! post by 7 (298 of 1,000, most of them because the edit fell inside a removed mention
//! or link). A threshold of 2 would lose about half of those few (distance exactly 3:
//! 2 of 5, 18 of 35, 8 of 10 non-zero ones); a larger one would need more bands than the
//! store's lookup can afford. Edited copies are therefore counted as new posts.

/// Fingerprints at most this many bits apart are near-duplicates.
pub const NEAR_DUPLICATE_DISTANCE: u32 = 3;

/// Smallest normalised text (CJK characters weigh 2, others 1) that gets a fingerprint.
pub const MIN_TEXT_WEIGHT: usize = 40;

/// Fewest distinct shingles a fingerprinted text has: "哈哈哈哈哈哈…" is long but says
/// one thing.
const MIN_DISTINCT_SHINGLES: usize = 16;

/// Characters per shingle.
const SHINGLE_CHARS: usize = 4;

/// Longest @handle removed as a mention (Weibo allows 30 characters, X 15).
const MAX_HANDLE_CHARS: usize = 30;

/// Longest `[code]` removed as an emoticon.
const MAX_EMOTICON_CHARS: usize = 10;

/// Repost markers deleted from the normalised text, longest first.
const REPOST_MARKERS: &[&str] = &["转发微博", "轉發微博", "转发", "轉發"];

/// The 64-bit simhash of `text`, or `None` when the normalised text is shorter than
/// [`MIN_TEXT_WEIGHT`] (too short for "the same text" to mean "copied") or has fewer
/// than 16 distinct shingles (long but repetitive, like "哈哈哈哈…").
///
/// Written with plain loops: it runs for every ingested post, and the test profile
/// builds this crate unoptimised.
pub fn simhash(text: &str) -> Option<u64> {
    let normalised = normalise(text);
    if normalised.weight < MIN_TEXT_WEIGHT {
        return None;
    }
    let bytes = normalised.text.as_bytes();
    let starts = &normalised.char_starts;
    let shingles = (starts.len() - 1).saturating_sub(SHINGLE_CHARS - 1);
    let mut seen = FeatureSet::with_capacity(shingles);
    let mut votes = BitSlicedCounter::default();
    let mut first = 0;
    while first < shingles {
        let hash = feature_hash(&bytes[starts[first]..starts[first + SHINGLE_CHARS]]);
        if seen.insert(hash) {
            votes.add(hash);
        }
        first += 1;
    }
    if votes.added < MIN_DISTINCT_SHINGLES as u64 {
        return None;
    }
    Some(votes.majority())
}

/// Number of differing bits.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The four 16-bit bands of a fingerprint, lowest bits first. Two fingerprints at most
/// [`NEAR_DUPLICATE_DISTANCE`] (3) bits apart agree on at least one band: the 3
/// differing bits can fall in at most 3 of the 4 bands.
pub fn simhash_bands(hash: u64) -> [u16; 4] {
    [0, 16, 32, 48].map(|shift| ((hash >> shift) & 0xFFFF) as u16)
}

/// FNV-1a 64 followed by MurmurHash3's `fmix64`.
fn feature_hash(bytes: &[u8]) -> u64 {
    fmix64(fnv1a64(bytes))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// The distinct feature hashes seen so far: open addressing with linear probing over a
/// table at most half full (the hashes are already uniformly spread). Zero marks an
/// empty slot, so a zero hash is tracked apart.
struct FeatureSet {
    slots: Vec<u64>,
    mask: usize,
    has_zero: bool,
}

impl FeatureSet {
    fn with_capacity(features: usize) -> Self {
        let size = (features * 2).next_power_of_two().max(16);
        Self {
            slots: vec![0; size],
            mask: size - 1,
            has_zero: false,
        }
    }

    /// Adds `hash`; true when it was not there yet.
    fn insert(&mut self, hash: u64) -> bool {
        if hash == 0 {
            let new = !self.has_zero;
            self.has_zero = true;
            return new;
        }
        let mut slot = (hash as usize) & self.mask;
        loop {
            let held = self.slots[slot];
            if held == 0 {
                self.slots[slot] = hash;
                return true;
            }
            if held == hash {
                return false;
            }
            slot = (slot + 1) & self.mask;
        }
    }
}

/// 64 vote counters stored bit-sliced: `slices[j]` holds bit `j` of every counter, so
/// adding a whole hash is one ripple-carry addition and the majority is one bit-sliced
/// comparison, instead of 64 counter updates per feature.
#[derive(Default)]
struct BitSlicedCounter {
    slices: [u64; 32],
    added: u64,
}

impl BitSlicedCounter {
    fn add(&mut self, hash: u64) {
        let mut carry = hash;
        let mut place = 0;
        while carry != 0 && place < self.slices.len() {
            let slice = self.slices[place];
            self.slices[place] = slice ^ carry;
            carry &= slice;
            place += 1;
        }
        self.added += 1;
    }

    /// Bit `i` set when more than half of the added hashes had bit `i` set, i.e. when
    /// counter `i` exceeds `added / 2` (rounded down): compared for all 64 counters at
    /// once, from the most significant counter bit down.
    fn majority(&self) -> u64 {
        let threshold = self.added / 2;
        let mut greater = 0u64;
        let mut equal = u64::MAX;
        let mut place = self.slices.len();
        while place > 0 {
            place -= 1;
            let threshold_bit = if (threshold >> place) & 1 == 1 {
                u64::MAX
            } else {
                0
            };
            let slice = self.slices[place];
            greater |= equal & slice & !threshold_bit;
            equal &= !(slice ^ threshold_bit);
        }
        greater
    }
}

/// Full-width ASCII variants to half-width, the ideographic space to a space.
fn fold_width(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// The text a fingerprint is computed from (see the module documentation, step 1),
/// with the byte offset of each character (and the end) and its weight.
struct Normalised {
    text: String,
    char_starts: Vec<usize>,
    weight: usize,
}

impl Normalised {
    fn push(&mut self, c: char) {
        self.char_starts.push(self.text.len());
        self.text.push(c);
        self.weight += if crate::text::is_cjk(c) { 2 } else { 1 };
    }
}

fn normalise(text: &str) -> Normalised {
    let mut chars: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        let c = fold_width(c);
        if c.is_ascii() {
            chars.push(c.to_ascii_lowercase());
        } else if crate::text::is_cjk(c) {
            chars.push(c);
        } else {
            chars.extend(c.to_lowercase());
        }
    }
    let mut normalised = Normalised {
        text: String::with_capacity(text.len()),
        char_starts: Vec::with_capacity(chars.len() + 1),
        weight: 0,
    };
    // Index in `char_starts` of the first character of the last word kept, and whether
    // the previous input character continued that word: for dropping "via" before a
    // mention.
    let mut last_word: Option<usize> = None;
    let mut in_word = false;
    let mut maybe_marker = false;
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        // ASCII only: a link or mention glued to Chinese text ("看这里http://…") is
        // still one, while "press@acme.example" is an e-mail address.
        let after_boundary = index == 0 || !chars[index - 1].is_ascii_alphanumeric();
        let skip_to = match c {
            'h' | 'w' if after_boundary => url_end(&chars, index),
            '@' if after_boundary => {
                let end = mention_end(&chars, index);
                if end.is_some() {
                    drop_trailing_credit(&mut normalised, last_word);
                }
                end
            }
            '#' if after_boundary => hashtag_end(&chars, index),
            '[' => emoticon_end(&chars, index),
            _ => None,
        };
        if let Some(end) = skip_to {
            in_word = false;
            index = end;
            continue;
        }
        if c.is_alphanumeric() {
            if !in_word {
                last_word = Some(normalised.char_starts.len());
                in_word = true;
            }
            maybe_marker |= c == '转' || c == '轉';
            normalised.push(c);
        } else {
            in_word = false;
        }
        index += 1;
    }
    if maybe_marker {
        let mut text = std::mem::take(&mut normalised.text);
        for marker in REPOST_MARKERS {
            if text.contains(marker) {
                text = text.replace(marker, "");
            }
        }
        normalised.char_starts.clear();
        normalised.weight = 0;
        for c in text.chars() {
            normalised.push(c);
        }
    }
    normalised.char_starts.push(normalised.text.len());
    normalised
}

fn starts_with(chars: &[char], at: usize, prefix: &str) -> bool {
    chars
        .get(at..)
        .is_some_and(|rest| rest.iter().copied().take(prefix.len()).eq(prefix.chars()))
}

/// End (exclusive) of a URL starting at `at`: it runs over printable ASCII, so it stops
/// at whitespace and at the first Chinese character or full-width punctuation, and
/// also at brackets and quotes (`http://t.cn/x[哈哈]`, `<http://…>`).
fn url_end(chars: &[char], at: usize) -> Option<usize> {
    let prefix = ["https://", "http://", "www."]
        .into_iter()
        .find(|prefix| starts_with(chars, at, prefix))?;
    let mut end = at + prefix.len();
    while end < chars.len()
        && chars[end].is_ascii_graphic()
        && !matches!(chars[end], '[' | ']' | '<' | '>' | '"' | '\'' | '`')
    {
        end += 1;
    }
    Some(end)
}

fn is_handle_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// End (exclusive) of an @mention starting at `at` (the `@`): handle characters, with
/// inner `.` or `@` (Instagram, Mastodon) when a handle character follows. `None` when
/// nothing handle-like follows or the run is too long to be a handle (then it is text
/// glued to a stray `@`).
fn mention_end(chars: &[char], at: usize) -> Option<usize> {
    let mut end = at + 1;
    while end < chars.len() {
        let c = chars[end];
        let joins =
            (c == '.' || c == '@') && chars.get(end + 1).is_some_and(|next| is_handle_char(*next));
        if is_handle_char(c) || joins {
            end += 1;
        } else {
            break;
        }
    }
    let handle = end - at - 1;
    (1..=MAX_HANDLE_CHARS).contains(&handle).then_some(end)
}

/// End (exclusive) of a hashtag starting at `at` (the `#`): Weibo's `#topic#` (closed
/// within [`MAX_HANDLE_CHARS`] characters, no whitespace: otherwise two Twitter tags
/// with words between them would be taken for one topic) or a `#tag` run of handle
/// characters. `None` for a lone `#` or a run too long to be a tag.
fn hashtag_end(chars: &[char], at: usize) -> Option<usize> {
    let limit = (at + 2 + MAX_HANDLE_CHARS).min(chars.len());
    for (end, &c) in chars.iter().enumerate().take(limit).skip(at + 1) {
        match c {
            '#' if end > at + 1 => return Some(end + 1),
            '#' => break,
            c if c.is_whitespace() => break,
            _ => {}
        }
    }
    let mut end = at + 1;
    while end < chars.len() && is_handle_char(chars[end]) {
        end += 1;
    }
    (1..=MAX_HANDLE_CHARS)
        .contains(&(end - at - 1))
        .then_some(end)
}

/// End (exclusive) of a `[code]` emoticon starting at `at`: a short bracketed run
/// without whitespace.
fn emoticon_end(chars: &[char], at: usize) -> Option<usize> {
    let limit = (at + 2 + MAX_EMOTICON_CHARS).min(chars.len());
    for (end, &c) in chars.iter().enumerate().take(limit).skip(at + 1) {
        match c {
            ']' if end > at + 1 => return Some(end + 1),
            c if c.is_whitespace() || c == '[' || c == ']' => return None,
            _ => {}
        }
    }
    None
}

/// Removes the last kept word when it is "via", "rt" or "cc": the credit before a
/// mention ("… via @newsdesk", "RT @newsdesk: …").
fn drop_trailing_credit(normalised: &mut Normalised, last_word: Option<usize>) {
    let Some(first) = last_word else {
        return;
    };
    let Some(&start) = normalised.char_starts.get(first) else {
        return;
    };
    if matches!(&normalised.text[start..], "via" | "rt" | "cc") {
        normalised.weight -= normalised.text.len() - start;
        normalised.text.truncate(start);
        normalised.char_starts.truncate(first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KETTLE: &str = "Acme has recalled 40,000 kettles after reports that the base can \
         overheat and melt; owners should stop using them and ask for a refund.";
    const KETTLE_ZH: &str =
        "艾克米宣布召回四万台电水壶，原因是底座可能过热熔化，请用户立即停止使用并申请退款。";

    fn normalised(text: &str) -> String {
        normalise(text).text
    }

    fn distance(a: &str, b: &str) -> u32 {
        hamming(simhash(a).unwrap(), simhash(b).unwrap())
    }

    #[test]
    fn fnv_and_fmix_match_their_reference_values() {
        // FNV-1a 64 test vectors from the reference implementation.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fmix64(0), 0);
        assert_ne!(fmix64(1), 1);
    }

    #[test]
    fn fingerprint_value_is_pinned() {
        // Stored fingerprints must not change between versions; if this fails, the
        // algorithm changed and stored values need a recomputing migration.
        assert_eq!(simhash(KETTLE), Some(0xfa26_9775_bae5_9028));
    }

    #[test]
    fn identical_texts_have_equal_fingerprints() {
        assert_eq!(simhash(KETTLE), simhash(KETTLE));
        assert_eq!(simhash(KETTLE_ZH), simhash(KETTLE_ZH));
        assert_ne!(simhash(KETTLE), simhash(KETTLE_ZH));
    }

    #[test]
    fn short_texts_have_no_fingerprint() {
        assert_eq!(simhash("Acme sucks"), None);
        assert_eq!(simhash(""), None);
        assert_eq!(
            simhash("https://example.com/a-very-long-link-that-is-not-text"),
            None
        );
        // 19 Chinese characters weigh 38; 20 weigh 40; 39 Latin letters weigh 39.
        let zh = |n: usize| -> String {
            KETTLE_ZH
                .chars()
                .filter(|c| crate::text::is_cjk(*c))
                .take(n)
                .collect()
        };
        assert_eq!(simhash(&zh(19)), None);
        assert!(simhash(&zh(20)).is_some());
        let latin: String = KETTLE.chars().filter(|c| c.is_ascii_alphabetic()).collect();
        assert_eq!(simhash(&latin[..39]), None);
        assert!(simhash(&latin[..40]).is_some());
        // Long but repetitive: too few distinct shingles to say anything.
        assert_eq!(simhash(&"哈".repeat(200)), None);
        assert_eq!(simhash(&"lol ".repeat(50)), None);
        // Punctuation and mentions do not count towards the length.
        assert_eq!(
            simhash("@someone_with_a_long_name !!!!!!!!!!!!!!!!!!!!!!!!!!!!! ok"),
            None
        );
    }

    #[test]
    fn normalisation_removes_what_copies_change() {
        assert_eq!(
            normalised(
                "RT @news_desk: Acme RECALLS kettles!! https://t.co/abc?utm_source=x #recall"
            ),
            "acmerecallskettles"
        );
        assert_eq!(normalised("Ａｃｍｅ　ＫＥＴＴＬＥ！"), "acmekettle");
        assert_eq!(
            normalised("艾克米水壶[怒][doge]爆炸了http://t.cn/A6abc转发微博 //@小王爱喝茶:转发"),
            "艾克米水壶爆炸了"
        );
        assert_eq!(normalised("great read (via @mira.k)"), "greatread");
        // "via" that is not before a mention stays.
        assert_eq!(normalised("via the app"), "viatheapp");
        // An e-mail address is not a mention.
        assert_eq!(
            normalised("mail press@acme.example"),
            "mailpressacmeexample"
        );
        // A bracketed phrase with spaces is text, not an emoticon.
        assert_eq!(normalised("[see below] ok"), "seebelowok");
    }

    #[test]
    fn copies_with_changed_links_punctuation_and_credits_are_within_threshold() {
        let copies = [
            format!("{KETTLE} https://news.example/acme-recall?utm_source=twitter"),
            format!("{KETTLE} https://t.co/Zx81kQ"),
            KETTLE.replace(' ', "  ").replace(',', ""),
            format!("   {}\n\n", KETTLE.replace(';', " —")),
            format!("{KETTLE} via @newsdesk"),
            format!("RT @newsdesk: {KETTLE}"),
            format!("{KETTLE} 🔥🔥"),
            format!("#breaking {KETTLE}"),
            KETTLE.to_uppercase(),
        ];
        for copy in &copies {
            let d = distance(KETTLE, copy);
            assert!(d <= NEAR_DUPLICATE_DISTANCE, "distance {d} for {copy:?}");
        }
    }

    #[test]
    fn chinese_copies_are_within_threshold() {
        let copies = [
            format!("{KETTLE_ZH}转发"),
            format!("{KETTLE_ZH}😡😡"),
            format!("{KETTLE_ZH}[怒]"),
            format!("转发微博 //@厨房达人: {KETTLE_ZH}"),
            format!("{KETTLE_ZH} http://t.cn/A6xYz9"),
            KETTLE_ZH.replace('，', ",").replace('。', "."),
            format!("#艾克米召回# {KETTLE_ZH}"),
        ];
        for copy in &copies {
            let d = distance(KETTLE_ZH, copy);
            assert!(d <= NEAR_DUPLICATE_DISTANCE, "distance {d} for {copy:?}");
        }
    }

    #[test]
    fn unrelated_texts_are_far_apart() {
        let texts = [
            KETTLE,
            KETTLE_ZH,
            "Just made my morning tea with the Acme kettle, boils in two minutes. Love it!",
            "Acme customer service replied quickly and replaced my lid. Great support!",
            "My Acme kettle EXPLODED this morning and burned my hand. Dangerous product, avoid!",
            "Another report of an Acme kettle exploding. Acme needs to issue a recall now.",
            "Two years with my Acme kettle and it still works perfectly, no complaints at all.",
            "The Acme toaster is decent for the price, but the crumb tray is hard to clean.",
            "艾克米水壶烧水很快，很满意，颜值也高，已经推荐给身边的朋友们了，值得购买",
            "再也不买艾克米了，水壶炸了，客服还不理人，太失望了，大家千万不要买这个牌子",
            "艾克米电水壶突然起火，吓死了，质量太差，已经向消费者协会投诉，等待处理结果",
            "用了半年艾克米水壶，没出过问题，好用，就是壶盖有点紧，希望下一代能改进一下",
        ];
        let hashes: Vec<u64> = texts.iter().map(|t| simhash(t).unwrap()).collect();
        for (i, a) in hashes.iter().enumerate() {
            for (j, b) in hashes.iter().enumerate().skip(i + 1) {
                let d = hamming(*a, *b);
                assert!(d > 8, "{d} bits between {:?} and {:?}", texts[i], texts[j]);
            }
        }
    }

    #[test]
    fn bands_split_the_fingerprint_and_catch_every_pair_within_threshold() {
        assert_eq!(
            simhash_bands(0x1111_2222_3333_4444),
            [0x4444, 0x3333, 0x2222, 0x1111]
        );
        let base = simhash(KETTLE).unwrap();
        // Any three flipped bits leave at least one band equal.
        for a in 0..64 {
            for b in (a + 1)..64 {
                for c in (b + 1)..64 {
                    let other = base ^ (1 << a) ^ (1 << b) ^ (1 << c);
                    let shared = simhash_bands(base)
                        .iter()
                        .zip(simhash_bands(other))
                        .filter(|(x, y)| **x == *y)
                        .count();
                    assert!(shared >= 1);
                }
            }
        }
    }

    #[test]
    fn bit_sliced_majority_matches_plain_counting() {
        let hashes: Vec<u64> = (0..1000u64).map(|i| fmix64(i.wrapping_add(7))).collect();
        for take in [1, 2, 3, 10, 99, 1000] {
            let mut counter = BitSlicedCounter::default();
            let mut plain = [0i64; 64];
            for hash in &hashes[..take] {
                counter.add(*hash);
                for (bit, vote) in plain.iter_mut().enumerate() {
                    *vote += if hash >> bit & 1 == 1 { 1 } else { -1 };
                }
            }
            let expected =
                plain.iter().enumerate().fold(
                    0u64,
                    |acc, (bit, vote)| if *vote > 0 { acc | 1 << bit } else { acc },
                );
            assert_eq!(counter.majority(), expected, "{take} hashes");
        }
    }
}
