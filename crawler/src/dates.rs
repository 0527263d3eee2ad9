//! Dates as real pages and APIs write them, → UTC. Pure and total: anything
//! unreadable is `None`, never a panic.
//!
//! No regex: the text is normalised (lower case, full-width digits → ASCII), split into
//! tokens (digit runs, letter runs, single CJK characters, punctuation) and matched by
//! small hand-written grammars for the absolute forms, the relative forms ("3 hours
//! ago", "3小时前", "昨天 13:02") and bare epoch numbers.
//!
//! **Time zones.** A time written without a zone is taken as UTC. Pages in other zones
//! (a Chinese forum printing Beijing time) are then off by their offset; the alternative,
//! guessing a zone from the language, would be wrong as often and harder to explain.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};

/// Longer strings are not a date but a sentence that may contain one ([`find_date`]).
const MAX_DATE_BYTES: usize = 256;
/// At most this many tokens are looked at; real dates have fewer than 20.
const MAX_TOKENS: usize = 40;
/// A year-less date ("5月1日", "May 1") is in the current year unless that is more
/// than this far in the future: then it is last year's. The slack absorbs time zones,
/// since the page's "today" may already be tomorrow in UTC.
const YEARLESS_FUTURE_SLACK_HOURS: i64 = 24;
/// Years outside this range are typos or placeholders, not publication dates.
const MIN_YEAR: i32 = 1900;
const MAX_YEAR: i32 = 2999;

/// Parses a date or time as found in pages and API responses → UTC. `now` anchors the
/// relative and year-less forms.
///
/// Understood (case-insensitive; full-width digits and punctuation are accepted):
/// - RFC 3339 / ISO 8601: `2024-05-01T13:02:00Z`, `2024-05-01 13:02:00+08:00`,
///   offsets as `+0800` or `+08`, fractions, `2024-05-01` (midnight), `20240501`;
/// - RFC 2822 and its sloppy variants: with or without weekday, seconds or zone,
///   `GMT`/`UTC`/`Z`/`+0000`/US zone names (`CST` is US Central, as RFC 2822 says),
///   JavaScript's `Wed May 01 2024 13:02:00 GMT+0000 (Coordinated Universal Time)`,
///   Apache's `01/May/2024:13:02:00 +0000`;
/// - numeric: `2024-05-01 13:02`, `2024/05/01 13:02`, `01.05.2024` (day first),
///   `01-05-2024` (day first), `05/01/2024` (month first unless the first number is
///   over 12 — US usage), two-digit years in these (`01.05.24` → 2024);
/// - month names (English, German, French, full or abbreviated): `May 1, 2024`,
///   `1 May 2024`, `1st May 2024`, `1. Mai 2024`, `Sep 18, 2020 at 8:56 AM`;
/// - CJK: `2024年5月1日`, `2024年5月1日 13:02`, `2024年5月1日 下午1:02`, `13时02分`,
///   Korean `2024년 5월 1일`;
/// - year-less `5月1日`, `May 1`, `05-01 13:02` (month-day, needs a time): this year,
///   or last year when that would be more than a day in the future;
/// - relative: `just now`, `3 hours ago`, `an hour ago`, `5 mins ago`, `3h`,
///   `2 days ago`, `last week`, `yesterday`, `yesterday at 1:02 pm`, `today 09:15`,
///   `刚刚`, `3小时前`, `5分钟前`, `半小时前`, `2天前`, `3个月前`, `昨天 13:02`,
///   `今天 09:15`, `前天`, Japanese `3時間前`/`昨日`. A bare "yesterday" is 24 hours
///   before `now`;
/// - Unix epoch seconds or milliseconds (9 digits or more; shorter numbers are not
///   read as dates), and compact `YYYYMMDD`, `YYYYMMDDHHMM`, `YYYYMMDDHHMMSS`.
///
/// Times without a zone are UTC. Strings longer than 256 bytes are `None`.
pub fn parse_date(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_DATE_BYTES {
        return None;
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc)).filter(|at| year_in_range(at.year()));
    }
    if let Ok(at) = DateTime::parse_from_rfc2822(text) {
        return Some(at.with_timezone(&Utc)).filter(|at| year_in_range(at.year()));
    }
    let normalized = normalize(text);
    let normalized = normalized.trim();
    if let Some(numeric) = parse_numeric(normalized) {
        return numeric;
    }
    if let Some(at) = parse_cjk_relative(normalized, now) {
        return Some(at);
    }
    let tokens = tokenize(normalized)?;
    if tokens.is_empty() {
        return None;
    }
    parse_relative(&tokens, now).or_else(|| parse_absolute(&tokens, now))
}

/// Epoch seconds, or milliseconds when the number is too large to be seconds
/// (after the year 5138 in seconds is before 1970-03 in milliseconds).
pub fn epoch(value: f64) -> Option<DateTime<Utc>> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let millis = if value >= 1e11 { value } else { value * 1000.0 };
    if millis > 32_503_680_000_000.0 {
        // Past the year 3000: not a date anyone meant.
        return None;
    }
    DateTime::from_timestamp_millis(millis as i64)
}

/// Looks for a date inside a longer text: the whole text, then each quoted string
/// (dates inside inline JSON), then runs of up to seven words, longest and earliest
/// first ("Posted on Sep 18, 2020 at 8:56 AM", "发布于 2024年5月1日"). Runs that are
/// only a short number ("4", "2024") are not taken for dates.
pub(crate) fn find_date(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(at) = parse_date(text, now) {
        return Some(at);
    }
    // Bound the work on huge texts: a date is near the start of the element that holds it.
    let text = truncate_chars(text, 2000);
    for quoted in quoted_strings(text).take(20) {
        if let Some(at) = parse_date(quoted, now) {
            return Some(at);
        }
    }
    let words: Vec<&str> = text.split_whitespace().take(60).collect();
    for start in 0..words.len() {
        for len in (1..=7.min(words.len() - start)).rev() {
            let (Some(first), Some(last)) = (words.get(start), words.get(start + len - 1)) else {
                continue;
            };
            // The run as a slice of the original text, keeping its inner spacing.
            let begin = first.as_ptr() as usize - text.as_ptr() as usize;
            let end = last.as_ptr() as usize - text.as_ptr() as usize + last.len();
            let Some(run) = text.get(begin..end) else {
                continue;
            };
            if let Some(at) = parse_run(run, now) {
                return Some(at);
            }
        }
    }
    None
}

/// One candidate run of words for [`find_date`]: trimmed of punctuation and of leading
/// or trailing CJK words ("发布于2024年5月1日" → "2024年5月1日").
fn parse_run(run: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let trimmed = run.trim_matches(|c: char| {
        matches!(
            c,
            ',' | ';' | ':' | '(' | ')' | '[' | ']' | '"' | '\'' | '|' | '·' | '•' | '—' | '–'
        )
    });
    let candidates = [trimmed, trim_cjk_noise(trimmed)];
    for (index, candidate) in candidates.into_iter().enumerate() {
        if index == 1 && candidate == trimmed {
            break;
        }
        if candidate.is_empty() || is_short_number(candidate) {
            continue;
        }
        let candidate_trimmed = candidate.trim_end_matches('.');
        if let Some(at) = parse_date(candidate_trimmed, now) {
            return Some(at);
        }
    }
    None
}

/// Drops CJK characters before the first digit or day word and after the last date
/// character, so labels glued to a date do not hide it.
fn trim_cjk_noise(text: &str) -> &str {
    const STARTS: &[char] = &['昨', '今', '刚', '剛', '前', '大', '上', '下', '半'];
    const ENDS: &[char] = &[
        '日', '号', '號', '前', '分', '秒', '时', '時', '点', '點', '天', '钟', '鐘', '刚', '剛',
        '일',
    ];
    let start = text
        .char_indices()
        .find(|(_, c)| c.is_ascii_alphanumeric() || STARTS.contains(c) || is_fullwidth_digit(*c))
        .map_or(text.len(), |(at, _)| at);
    let rest = &text[start..];
    let end = rest
        .char_indices()
        .rfind(|(_, c)| c.is_ascii_alphanumeric() || ENDS.contains(c) || is_fullwidth_digit(*c))
        .map_or(0, |(at, c)| at + c.len_utf8());
    &rest[..end]
}

fn is_fullwidth_digit(c: char) -> bool {
    ('\u{FF10}'..='\u{FF19}').contains(&c)
}

fn is_short_number(text: &str) -> bool {
    text.len() < 8
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
}

fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// The contents of `"…"` pairs, in order.
fn quoted_strings(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let open = rest.find('"')?;
        let after = &rest[open + 1..];
        let close = after.find('"')?;
        let inner = &after[..close];
        rest = &after[close + 1..];
        Some(inner)
    })
}

fn year_in_range(year: i32) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&year)
}

/// Lower case; full-width ASCII forms (`２０２４`, `：`) and odd spaces → ASCII;
/// `a.m.`/`p.m.` → `am`/`pm`.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            '\u{3000}' | '\u{A0}' | '\u{202F}' | '\u{2009}' | '\u{200B}' => ' ',
            _ => c,
        };
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    if out.contains(".m.") {
        out = out.replace("a.m.", "am").replace("p.m.", "pm");
    }
    out
}

/// `Some(result)` when the text is a bare number (epoch or compact date), `None` when
/// it is something else and the other parsers should look at it.
fn parse_numeric(text: &str) -> Option<Option<DateTime<Utc>>> {
    if !text.starts_with(|c: char| c.is_ascii_digit())
        || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return None;
    }
    let dots = text.bytes().filter(|b| *b == b'.').count();
    if dots > 1 {
        // 01.05.2024: a dotted date, not a number.
        return None;
    }
    let integer_digits = text.split('.').next().map_or(0, str::len);
    let compact = if dots == 0 {
        match integer_digits {
            8 => compact_datetime(text, false, false),
            12 => compact_datetime(text, true, false),
            14 => compact_datetime(text, true, true),
            _ => None,
        }
    } else {
        None
    };
    if compact.is_some() {
        return Some(compact);
    }
    if integer_digits == 8 || integer_digits == 14 {
        // Not a valid compact date; as epoch these would be 1970–73 or after 2286.
        return Some(None);
    }
    if integer_digits < 9 {
        // "4", "2024": a rating or a year, not a moment.
        return Some(None);
    }
    Some(text.parse::<f64>().ok().and_then(epoch))
}

fn compact_datetime(text: &str, minutes: bool, seconds: bool) -> Option<DateTime<Utc>> {
    let field = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<u32>().ok());
    let year = i32::try_from(field(0..4)?).ok()?;
    let date = valid_date(year, field(4..6)?, field(6..8)?)?;
    let (hour, minute, second) = if minutes {
        (
            field(8..10)?,
            field(10..12)?,
            if seconds { field(12..14)? } else { 0 },
        )
    } else {
        (0, 0, 0)
    };
    let time = NaiveTime::from_hms_opt(hour, minute, second)?;
    Some(Utc.from_utc_datetime(&date.and_time(time)))
}

fn valid_date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    if !year_in_range(year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

// ---------------------------------------------------------------------------------
// Relative forms

/// A length of time counted back from `now`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// `count` units before `now`; `halves` adds half a unit ("半小时", "1.5 hours").
fn ago(now: DateTime<Utc>, count: u32, half: bool, unit: Unit) -> Option<DateTime<Utc>> {
    let seconds_per = match unit {
        Unit::Second => 1i64,
        Unit::Minute => 60,
        Unit::Hour => 3600,
        Unit::Day => 86_400,
        Unit::Week => 7 * 86_400,
        Unit::Month | Unit::Year => {
            let months = if unit == Unit::Year {
                count.checked_mul(12)?
            } else {
                count
            };
            if months > 12 * 200 {
                return None;
            }
            let whole = now.checked_sub_months(Months::new(months))?;
            let extra_days = match (half, unit) {
                (false, _) => 0,
                (true, Unit::Month) => 15,
                (true, _) => 182,
            };
            return whole.checked_sub_signed(Duration::try_days(extra_days)?);
        }
    };
    let total = i64::from(count)
        .checked_mul(seconds_per)?
        .checked_add(if half { seconds_per / 2 } else { 0 })?;
    if total > 200 * 366 * 86_400 {
        return None;
    }
    now.checked_sub_signed(Duration::try_seconds(total)?)
}

/// 刚刚, 3小时前, 半小时前, 3个月前, 昨天 13:02, 今天, 前天, Japanese 3時間前, 昨日.
fn parse_cjk_relative(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if text.is_ascii() {
        return None;
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if matches!(
        compact.as_str(),
        "刚刚" | "刚才" | "剛剛" | "剛才" | "刚刚发布" | "たった今" | "今"
    ) {
        return Some(now);
    }
    for (prefix, days_back) in [
        ("大前天", 3i64),
        ("前天", 2),
        ("昨天", 1),
        ("昨日", 1),
        ("今天", 0),
        ("今日", 0),
    ] {
        if let Some(rest) = compact.strip_prefix(prefix) {
            return day_with_optional_time(now, days_back, rest);
        }
    }
    let rest = compact
        .strip_suffix("以前")
        .or_else(|| compact.strip_suffix("之前"))
        .or_else(|| compact.strip_suffix('前'))?;
    let split = rest
        .char_indices()
        .find(|(_, c)| !is_cjk_quantity_char(*c))
        .map_or(rest.len(), |(at, _)| at);
    let (quantity, unit_text) = rest.split_at(split);
    let (count, mut half) = cjk_quantity(quantity)?;
    let mut unit_text = unit_text.trim_start_matches(['个', '個', 'ヶ', 'か', 'カ', 'ヵ']);
    if let Some(rest) = unit_text.strip_prefix('半') {
        // "一个半小时前": one and a half hours.
        half = true;
        unit_text = rest;
    }
    let unit = match unit_text {
        "秒" | "秒钟" | "秒鐘" => Unit::Second,
        "分" | "分钟" | "分鐘" | "分間" => Unit::Minute,
        "小时" | "小時" | "时" | "時間" | "钟头" | "鐘頭" => Unit::Hour,
        "天" | "日" => Unit::Day,
        "周" | "週" | "星期" | "週間" | "礼拜" | "禮拜" => Unit::Week,
        "月" => Unit::Month,
        "年" => Unit::Year,
        _ => return None,
    };
    ago(now, count, half, unit)
}

fn is_cjk_quantity_char(c: char) -> bool {
    c.is_ascii_digit()
        || c == '.'
        || matches!(
            c,
            '一' | '二'
                | '两'
                | '兩'
                | '三'
                | '四'
                | '五'
                | '六'
                | '七'
                | '八'
                | '九'
                | '十'
                | '几'
                | '幾'
                | '数'
                | '數'
                | '半'
        )
}

/// "3", "十二", "两", "几" (a few = 3), "半" (half), "1.5" → (count, plus half).
fn cjk_quantity(text: &str) -> Option<(u32, bool)> {
    if text.is_empty() {
        return None;
    }
    if text == "半" {
        return Some((0, true));
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return decimal_with_half(text);
    }
    if matches!(text, "几" | "幾" | "数" | "數") {
        return Some((3, false));
    }
    let digit = |c: char| -> Option<u32> {
        Some(match c {
            '一' => 1,
            '二' | '两' | '兩' => 2,
            '三' => 3,
            '四' => 4,
            '五' => 5,
            '六' => 6,
            '七' => 7,
            '八' => 8,
            '九' => 9,
            _ => return None,
        })
    };
    let chars: Vec<char> = text.chars().collect();
    let value = match chars.as_slice() {
        [one] if *one == '十' => 10,
        [one] => digit(*one)?,
        ['十', ones] => 10 + digit(*ones)?,
        [tens, '十'] => digit(*tens)? * 10,
        [tens, '十', ones] => digit(*tens)? * 10 + digit(*ones)?,
        _ => return None,
    };
    Some((value, false))
}

/// "3" → (3, false); "1.5" → (1, true); other fractions round down to whole units.
fn decimal_with_half(text: &str) -> Option<(u32, bool)> {
    let mut parts = text.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next().unwrap_or("");
    if whole.is_empty() || whole.len() > 6 || fraction.contains('.') {
        return None;
    }
    let count = whole.parse::<u32>().ok()?;
    Some((count, fraction.starts_with('5')))
}

/// A day `days_back` before `now`, at the given time (UTC) or, without one, exactly
/// `days_back` × 24 hours before `now`.
fn day_with_optional_time(now: DateTime<Utc>, days_back: i64, rest: &str) -> Option<DateTime<Utc>> {
    let base = now.checked_sub_signed(Duration::try_days(days_back)?)?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Some(base);
    }
    let tokens = tokenize(rest)?;
    let start = skip_noise(&tokens, 0);
    let (time, end) = parse_time(&tokens, start)?;
    if skip_noise(&tokens, end) != tokens.len() {
        return None;
    }
    Some(Utc.from_utc_datetime(&base.date_naive().and_time(time)))
}

/// just now, 3 hours ago, an hour ago, 5 mins ago, 3h, yesterday [at 1:02 pm], today
/// 09:15, last week.
fn parse_relative(tokens: &[Tok<'_>], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use Tok::Word as W;
    match tokens {
        [W("now")]
        | [W("just" | "right"), W("now")]
        | [W("moments" | "seconds"), W("ago")]
        | [W("a"), W("moment"), W("ago")]
        | [W("a"), W("few"), W("seconds"), W("ago")]
        | [W("few"), W("seconds"), W("ago")] => return Some(now),
        [W("last"), W(unit)] => {
            let unit = unit_word(unit)?;
            return ago(now, 1, false, unit);
        }
        _ => {}
    }
    if let Some(W(day)) = tokens.first() {
        let days_back = match *day {
            "yesterday" => Some(1),
            "today" => Some(0),
            _ => None,
        };
        if let Some(days_back) = days_back {
            let base = now.checked_sub_signed(Duration::try_days(days_back)?)?;
            let start = skip_noise(tokens, 1);
            if start == tokens.len() {
                return Some(base);
            }
            let (time, end) = parse_time(tokens, start)?;
            if skip_noise(tokens, end) != tokens.len() {
                return None;
            }
            return Some(Utc.from_utc_datetime(&base.date_naive().and_time(time)));
        }
    }

    let mut at = 0;
    if matches!(
        tokens.first(),
        Some(
            W("about" | "around" | "over" | "almost" | "nearly" | "approximately") | Tok::Sym('~')
        )
    ) {
        at += 1;
    }
    let (count, half, numeric) = match tokens.get(at..) {
        Some([Tok::Num(n), Tok::Sym('.'), Tok::Num(f), ..]) => {
            at += 3;
            let (count, half) = decimal_with_half(&format!("{n}.{f}"))?;
            (count, half, true)
        }
        Some([Tok::Num(n), ..]) => {
            at += 1;
            if n.len() > 6 {
                return None;
            }
            (n.parse::<u32>().ok()?, false, true)
        }
        Some([W("a" | "an"), W("few" | "couple"), ..]) => {
            at += 2;
            if matches!(tokens.get(at), Some(W("of"))) {
                at += 1;
            }
            (3, false, false)
        }
        Some([W("a" | "an" | "one"), ..]) => {
            at += 1;
            (1, false, false)
        }
        Some([W("few" | "several"), ..]) => {
            at += 1;
            (3, false, false)
        }
        _ => return None,
    };
    let Some(W(unit_text)) = tokens.get(at) else {
        return None;
    };
    at += 1;
    let unit = unit_word(unit_text)?;
    let has_ago = matches!(tokens.get(at), Some(W("ago")));
    if has_ago {
        at += 1;
    } else if !(numeric && is_unit_abbreviation(unit_text)) {
        // "3 hours" alone is a duration; only the compact "3h" is used as a timestamp.
        return None;
    }
    if at != tokens.len() {
        return None;
    }
    ago(now, count, half, unit)
}

fn unit_word(word: &str) -> Option<Unit> {
    Some(match word {
        "s" | "sec" | "secs" | "second" | "seconds" => Unit::Second,
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
        "d" | "day" | "days" | "night" => Unit::Day,
        "w" | "wk" | "wks" | "week" | "weeks" => Unit::Week,
        "mo" | "mos" | "month" | "months" => Unit::Month,
        "y" | "yr" | "yrs" | "year" | "years" => Unit::Year,
        _ => return None,
    })
}

fn is_unit_abbreviation(word: &str) -> bool {
    matches!(
        word,
        "s" | "sec"
            | "secs"
            | "m"
            | "min"
            | "mins"
            | "h"
            | "hr"
            | "hrs"
            | "d"
            | "w"
            | "wk"
            | "wks"
            | "mo"
            | "y"
            | "yr"
            | "yrs"
    )
}

// ---------------------------------------------------------------------------------
// Tokens

/// A piece of normalised text. Whitespace separates tokens and is dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    /// A run of ASCII digits.
    Num(&'a str),
    /// A run of (non-CJK) letters, or one CJK character.
    Word(&'a str),
    /// Any other character.
    Sym(char),
}

fn is_cjk(c: char) -> bool {
    u32::from(c) >= 0x2E80
}

/// `None` when the text has more tokens than any date has.
fn tokenize(text: &str) -> Option<Vec<Tok<'_>>> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if tokens.len() >= MAX_TOKENS {
            return None;
        }
        if c.is_whitespace() {
            continue;
        }
        if c.is_ascii_digit() {
            let mut end = start + 1;
            while let Some((at, next)) = chars.peek().copied()
                && next.is_ascii_digit()
            {
                end = at + 1;
                chars.next();
            }
            tokens.push(Tok::Num(&text[start..end]));
        } else if c.is_alphabetic() && is_cjk(c) {
            tokens.push(Tok::Word(&text[start..start + c.len_utf8()]));
        } else if c.is_alphabetic() {
            let mut end = start + c.len_utf8();
            while let Some((at, next)) = chars.peek().copied()
                && next.is_alphabetic()
                && !is_cjk(next)
            {
                end = at + next.len_utf8();
                chars.next();
            }
            tokens.push(Tok::Word(&text[start..end]));
        } else {
            tokens.push(Tok::Sym(c));
        }
    }
    Some(tokens)
}

fn num_at(tokens: &[Tok<'_>], at: usize, min_len: usize, max_len: usize) -> Option<u32> {
    match tokens.get(at) {
        Some(Tok::Num(n)) if (min_len..=max_len).contains(&n.len()) => n.parse().ok(),
        _ => None,
    }
}

fn word_at<'a>(tokens: &[Tok<'a>], at: usize) -> Option<&'a str> {
    match tokens.get(at) {
        Some(Tok::Word(w)) => Some(w),
        _ => None,
    }
}

fn sym_at(tokens: &[Tok<'_>], at: usize) -> Option<char> {
    match tokens.get(at) {
        Some(Tok::Sym(c)) => Some(*c),
        _ => None,
    }
}

fn word_is(tokens: &[Tok<'_>], at: usize, options: &[&str]) -> bool {
    word_at(tokens, at).is_some_and(|w| options.contains(&w))
}

/// Skips what may sit between the parts of a date: commas, dots, bullets, "at", "t",
/// weekday names (English, German, French, 星期三, 周三, （水）).
fn skip_noise(tokens: &[Tok<'_>], mut at: usize) -> usize {
    loop {
        match tokens.get(at) {
            Some(Tok::Sym(',' | '.' | '·' | '•' | '|' | '@' | '–' | '—' | ';')) => at += 1,
            Some(Tok::Sym('(' | '[')) => {
                // (Wed), （水）, [周三]
                let inner = skip_weekday(tokens, at + 1);
                if inner > at + 1 && matches!(sym_at(tokens, inner), Some(')' | ']')) {
                    at = inner + 1;
                } else {
                    return at;
                }
            }
            Some(Tok::Word("at" | "t" | "on" | "um" | "à" | "le")) => at += 1,
            Some(_) => {
                let after = skip_weekday(tokens, at);
                if after == at {
                    return at;
                }
                at = after;
            }
            None => return at,
        }
    }
}

fn skip_weekday(tokens: &[Tok<'_>], at: usize) -> usize {
    const WEEKDAYS: &[&str] = &[
        "mon",
        "monday",
        "tue",
        "tues",
        "tuesday",
        "wed",
        "weds",
        "wednesday",
        "thu",
        "thur",
        "thurs",
        "thursday",
        "fri",
        "friday",
        "sat",
        "saturday",
        "sun",
        "sunday",
        "montag",
        "dienstag",
        "mittwoch",
        "donnerstag",
        "freitag",
        "samstag",
        "sonntag",
        "mo",
        "di",
        "mi",
        "do",
        "fr",
        "sa",
        "so",
        "lundi",
        "mardi",
        "mercredi",
        "jeudi",
        "vendredi",
        "samedi",
        "dimanche",
        "lun",
        "mar",
        "mer",
        "jeu",
        "ven",
        "sam",
        "dim",
    ];
    const CJK_DAY: &[&str] = &["一", "二", "三", "四", "五", "六", "日", "天"];
    const JA_DAY: &[&str] = &["月", "火", "水", "木", "金", "土", "日"];
    match word_at(tokens, at) {
        Some(w) if WEEKDAYS.contains(&w) => {
            // "Mar" is also March: only a weekday when a day number does not follow.
            if w == "mar" && matches!(tokens.get(at + 1), Some(Tok::Num(_))) {
                return at;
            }
            let after = at + 1;
            if sym_at(tokens, after) == Some('.') {
                after + 1
            } else {
                after
            }
        }
        Some("星") if word_is(tokens, at + 1, &["期"]) && word_is(tokens, at + 2, CJK_DAY) => {
            at + 3
        }
        Some("礼" | "禮")
            if word_is(tokens, at + 1, &["拜"]) && word_is(tokens, at + 2, CJK_DAY) =>
        {
            at + 3
        }
        Some("周" | "週") if word_is(tokens, at + 1, CJK_DAY) => at + 2,
        Some(w)
            if JA_DAY.contains(&w)
                && at > 0
                && matches!(sym_at(tokens, at - 1), Some('(' | '['))
                && matches!(sym_at(tokens, at + 1), Some(')' | ']')) =>
        {
            at + 1
        }
        _ => at,
    }
}

// ---------------------------------------------------------------------------------
// Absolute forms

/// The date part of an absolute date, with or without a year.
#[derive(Debug, Clone, Copy)]
enum DatePart {
    Full(NaiveDate),
    /// Month and day; the year is the current one (or last year's).
    Yearless {
        month: u32,
        day: u32,
    },
}

fn parse_absolute(tokens: &[Tok<'_>], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let start = skip_noise(tokens, 0);
    let mut time = None;
    let mut zone = None;
    // "8:56 AM · Sep 18, 2020", "13:02 2024-05-01": a time first, then the date.
    let time_first = parse_time(tokens, start).and_then(|(leading_time, after_time)| {
        let (offset, after) = match parse_zone(tokens, after_time) {
            Some((offset, after_zone)) => (Some(offset), after_zone),
            None => (None, after_time),
        };
        let (date, after_date) = parse_date_part(tokens, skip_noise(tokens, after), now)?;
        Some((leading_time, offset, date, after_date))
    });
    let (date, mut at) = match time_first {
        Some((leading_time, offset, date, after_date)) => {
            time = Some(leading_time);
            zone = offset;
            (date, after_date)
        }
        None => parse_date_part(tokens, start, now)?,
    };
    if time.is_none() {
        // Apache: 01/May/2024:13:02:00
        if sym_at(tokens, at) == Some(':') && matches!(tokens.get(at + 1), Some(Tok::Num(_))) {
            at += 1;
        }
        let time_start = skip_noise(tokens, at);
        if let Some((parsed, after)) = parse_time(tokens, time_start) {
            time = Some(parsed);
            at = after;
        }
    }
    if zone.is_none()
        && let Some((offset, after)) = parse_zone(tokens, skip_noise(tokens, at))
    {
        zone = Some(offset);
        at = after;
    }
    at = skip_noise(tokens, at);
    // A trailing "(Coordinated Universal Time)" or "(UTC)" is a comment.
    if sym_at(tokens, at) == Some('(')
        && sym_at(tokens, tokens.len().saturating_sub(1)) == Some(')')
    {
        at = tokens.len();
    }
    if at != tokens.len() {
        return None;
    }
    if matches!(date, DatePart::Yearless { .. }) && time.is_none() && !yearless_ok_alone(tokens) {
        // "05-01" alone is too ambiguous; "5月1日" and "May 1" are not.
        return None;
    }
    let time = time.unwrap_or(NaiveTime::MIN);
    let offset_seconds = i64::from(zone.unwrap_or(0));
    let to_utc = |date: NaiveDate| -> Option<DateTime<Utc>> {
        let local = date.and_time(time);
        let utc = local.checked_sub_signed(Duration::try_seconds(offset_seconds)?)?;
        Some(Utc.from_utc_datetime(&utc))
    };
    match date {
        DatePart::Full(date) => to_utc(date).filter(|at| year_in_range(at.year())),
        DatePart::Yearless { month, day } => {
            let latest = now + Duration::hours(YEARLESS_FUTURE_SLACK_HOURS);
            let this_year = valid_date(now.year(), month, day)
                .and_then(to_utc)
                .filter(|at| *at <= latest);
            this_year.or_else(|| valid_date(now.year() - 1, month, day).and_then(to_utc))
        }
    }
}

/// Year-less numeric "05-01" needs a time to be read as a date; year-less dates with a
/// month name or 月 are unambiguous on their own.
fn yearless_ok_alone(tokens: &[Tok<'_>]) -> bool {
    tokens
        .iter()
        .any(|t| matches!(t, Tok::Word(w) if *w == "月" || *w == "월" || month_number(w).is_some()))
}

fn parse_date_part(tokens: &[Tok<'_>], at: usize, now: DateTime<Utc>) -> Option<(DatePart, usize)> {
    // 20240501, 202405011302(00) are handled as bare numbers; here only inside longer
    // text: 20240501T130200Z.
    if let Some(Tok::Num(n)) = tokens.get(at)
        && n.len() == 8
    {
        let year = i32::try_from(n.get(0..4)?.parse::<u32>().ok()?).ok()?;
        let month = n.get(4..6)?.parse().ok()?;
        let day = n.get(6..8)?.parse().ok()?;
        return Some((DatePart::Full(valid_date(year, month, day)?), at + 1));
    }
    // 2024-05-01, 2024/05/01, 2024.5.1
    if let Some(year) = num_at(tokens, at, 4, 4)
        && let Some(separator @ ('-' | '/' | '.')) = sym_at(tokens, at + 1)
        && let Some(month) = num_at(tokens, at + 2, 1, 2)
        && sym_at(tokens, at + 3) == Some(separator)
        && let Some(day) = num_at(tokens, at + 4, 1, 2)
    {
        let date = valid_date(i32::try_from(year).ok()?, month, day)?;
        return Some((DatePart::Full(date), at + 5));
    }
    // 2024年5月1日, 2024년 5월 1일
    if let Some(year) = num_at(tokens, at, 4, 4)
        && word_is(tokens, at + 1, &["年", "년"])
        && let Some(month) = num_at(tokens, at + 2, 1, 2)
        && word_is(tokens, at + 3, &["月", "월"])
        && let Some(day) = num_at(tokens, at + 4, 1, 2)
    {
        let date = valid_date(i32::try_from(year).ok()?, month, day)?;
        let mut end = at + 5;
        if word_is(tokens, end, &["日", "号", "號", "일"]) {
            end += 1;
        }
        return Some((DatePart::Full(date), end));
    }
    // 5月1日
    if let Some(month) = num_at(tokens, at, 1, 2)
        && word_is(tokens, at + 1, &["月", "월"])
        && let Some(day) = num_at(tokens, at + 2, 1, 2)
    {
        let mut end = at + 3;
        if word_is(tokens, end, &["日", "号", "號", "일"]) {
            end += 1;
        }
        return yearless(month, day).map(|date| (date, end));
    }
    // 01.05.2024, 01-05-2024, 05/01/2024, 01.05.24
    if let Some(first) = num_at(tokens, at, 1, 2)
        && let Some(separator @ ('-' | '/' | '.')) = sym_at(tokens, at + 1)
        && let Some(second) = num_at(tokens, at + 2, 1, 2)
        && sym_at(tokens, at + 3) == Some(separator)
        && let Some(year_token) = num_at(tokens, at + 4, 2, 4)
        && !matches!(tokens.get(at + 4), Some(Tok::Num(n)) if n.len() == 3)
    {
        let year = full_year(year_token, now)?;
        let (month, day) = match separator {
            '/' if first > 12 => (second, first),
            '/' => (first, second),
            _ => (second, first),
        };
        return Some((DatePart::Full(valid_date(year, month, day)?), at + 5));
    }
    // May 1, 2024 / Sep. 18 2020 / May 1st / May 1
    if let Some(month) = word_at(tokens, at).and_then(month_number) {
        let mut end = at + 1;
        if sym_at(tokens, end) == Some('.') {
            end += 1;
        }
        let day = num_at(tokens, end, 1, 2)?;
        end += 1;
        end = skip_ordinal(tokens, end);
        let mut probe = end;
        while matches!(sym_at(tokens, probe), Some(',' | '.')) {
            probe += 1;
        }
        if let Some(year) = num_at(tokens, probe, 4, 4) {
            let date = valid_date(i32::try_from(year).ok()?, month, day)?;
            return Some((DatePart::Full(date), probe + 1));
        }
        return yearless(month, day).map(|date| (date, end));
    }
    // 05-01 (13:02): month-day without a year; the caller insists on a time.
    if let Some(month) = num_at(tokens, at, 1, 2)
        && matches!(sym_at(tokens, at + 1), Some('-' | '/'))
        && let Some(day) = num_at(tokens, at + 2, 1, 2)
        && !matches!(sym_at(tokens, at + 3), Some('-' | '/' | '.'))
    {
        return yearless(month, day).map(|date| (date, at + 3));
    }
    // 1 May 2024 / 1st of May, 2024 / 1. Mai 2024 / 01-May-2024 / 01/May/2024 / 1 May 24
    if let Some(day) = num_at(tokens, at, 1, 2) {
        let mut end = skip_ordinal(tokens, at + 1);
        if matches!(sym_at(tokens, end), Some('.' | '-' | '/')) {
            end += 1;
        }
        if word_is(tokens, end, &["of", "de"]) {
            end += 1;
        }
        let month = word_at(tokens, end).and_then(month_number)?;
        end += 1;
        if matches!(sym_at(tokens, end), Some('.' | '-' | '/')) {
            end += 1;
        }
        if word_is(tokens, end, &["de"]) {
            end += 1;
        }
        let mut probe = end;
        if sym_at(tokens, probe) == Some(',') {
            probe += 1;
        }
        let next_is_time = matches!(sym_at(tokens, probe + 1), Some(':' | '.'))
            || word_is(tokens, probe + 1, &["时", "時", "点", "點", "h"]);
        let year = match tokens.get(probe) {
            Some(Tok::Num(n)) if n.len() == 4 => full_year(n.parse().ok()?, now),
            Some(Tok::Num(n)) if n.len() == 2 && !next_is_time => full_year(n.parse().ok()?, now),
            _ => None,
        };
        return match year {
            Some(year) => Some((DatePart::Full(valid_date(year, month, day)?), probe + 1)),
            None => yearless(month, day).map(|date| (date, end)),
        };
    }
    None
}

/// A year-less month and day, if that day exists in some year.
fn yearless(month: u32, day: u32) -> Option<DatePart> {
    // Validate against a leap year so 2月29日 is accepted here.
    NaiveDate::from_ymd_opt(2000, month, day)?;
    Some(DatePart::Yearless { month, day })
}

fn skip_ordinal(tokens: &[Tok<'_>], at: usize) -> usize {
    if word_is(tokens, at, &["st", "nd", "rd", "th"]) {
        at + 1
    } else {
        at
    }
}

/// Two-digit years: up to next year's → 20xx, the rest → 19xx.
fn full_year(year: u32, now: DateTime<Utc>) -> Option<i32> {
    let year = i32::try_from(year).ok()?;
    if year >= 100 {
        return Some(year);
    }
    let pivot = now.year() % 100 + 1;
    Some(if year <= pivot {
        2000 + year
    } else {
        1900 + year
    })
}

fn month_number(word: &str) -> Option<u32> {
    Some(match word {
        "jan" | "january" | "januar" | "jänner" | "janvier" | "janv" => 1,
        "feb" | "february" | "februar" | "février" | "févr" | "fevrier" | "fév" => 2,
        "mar" | "march" | "märz" | "maerz" | "mär" | "mars" => 3,
        "apr" | "april" | "avril" | "avr" => 4,
        "may" | "mai" => 5,
        "jun" | "june" | "juni" | "juin" => 6,
        "jul" | "july" | "juli" | "juillet" | "juil" => 7,
        "aug" | "august" | "août" | "aout" => 8,
        "sep" | "sept" | "september" | "septembre" => 9,
        "oct" | "october" | "okt" | "oktober" | "octobre" => 10,
        "nov" | "november" | "novembre" => 11,
        "dec" | "december" | "dez" | "dezember" | "décembre" | "déc" | "decembre" => 12,
        _ => return None,
    })
}

/// 13:02, 13:02:00.123, 1:02 pm, 3pm, 13时02分, 下午1:02, 130200.
fn parse_time(tokens: &[Tok<'_>], at: usize) -> Option<(NaiveTime, usize)> {
    let mut at = at;
    let mut meridiem: Option<bool> = None; // Some(true) = pm
    let pair = (word_at(tokens, at), word_at(tokens, at + 1));
    let cjk_meridiem = match pair {
        (Some("上"), Some("午")) | (Some("凌"), Some("晨")) | (Some("早"), Some("上")) => {
            Some(false)
        }
        (Some("午"), Some("前")) => Some(false),
        (Some("下"), Some("午")) | (Some("晚"), Some("上")) | (Some("午"), Some("後")) => {
            Some(true)
        }
        (Some("中"), Some("午")) => Some(true),
        _ => None,
    };
    if cjk_meridiem.is_some() {
        meridiem = cjk_meridiem;
        at += 2;
    }

    let (mut hour, minute, second, nanos, mut end);
    if let Some(h) = num_at(tokens, at, 1, 2)
        && sym_at(tokens, at + 1) == Some(':')
        && let Some(m) = num_at(tokens, at + 2, 2, 2)
    {
        hour = h;
        minute = m;
        end = at + 3;
        (second, nanos) = if sym_at(tokens, end) == Some(':')
            && let Some(s) = num_at(tokens, end + 1, 2, 2)
        {
            end += 2;
            let mut nanos = 0;
            if matches!(sym_at(tokens, end), Some('.' | ','))
                && let Some(Tok::Num(fraction)) = tokens.get(end + 1)
            {
                nanos = fraction_nanos(fraction);
                end += 2;
            }
            (s, nanos)
        } else {
            (0, 0)
        };
    } else if let Some(h) = num_at(tokens, at, 1, 2)
        && word_is(tokens, at + 1, &["时", "時", "点", "點"])
    {
        hour = h;
        end = at + 2;
        minute = if let Some(m) = num_at(tokens, end, 1, 2)
            && word_is(tokens, end + 1, &["分"])
        {
            end += 2;
            m
        } else {
            0
        };
        second = if let Some(s) = num_at(tokens, end, 1, 2)
            && word_is(tokens, end + 1, &["秒"])
        {
            end += 2;
            s
        } else {
            0
        };
        nanos = 0;
    } else if let Some(h) = num_at(tokens, at, 1, 2)
        && word_is(tokens, at + 1, &["am", "pm", "a", "p"])
    {
        // 3pm
        hour = h;
        minute = 0;
        second = 0;
        nanos = 0;
        end = at + 1;
    } else if let Some(Tok::Num(n)) = tokens.get(at)
        && n.len() == 6
    {
        // 130200 (ISO basic, after 20240501T)
        hour = n.get(0..2)?.parse().ok()?;
        minute = n.get(2..4)?.parse().ok()?;
        second = n.get(4..6)?.parse().ok()?;
        nanos = 0;
        end = at + 1;
    } else {
        return None;
    }
    if let Some(w) = word_at(tokens, end) {
        match w {
            "am" | "a" => {
                meridiem = Some(false);
                end += 1;
            }
            "pm" | "p" => {
                meridiem = Some(true);
                end += 1;
            }
            _ => {}
        }
    }
    match meridiem {
        Some(_) if hour > 12 => {}
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    // A leap second is read as the last ordinary second.
    let second = second.min(59);
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some((time, end))
}

/// ".123" → 123_000_000 ns; digits past the ninth are ignored.
fn fraction_nanos(fraction: &str) -> u32 {
    let mut nanos = 0u32;
    for digit in fraction.bytes().take(9) {
        nanos = nanos * 10 + u32::from(digit.saturating_sub(b'0'));
    }
    for _ in fraction.len().min(9)..9 {
        nanos *= 10;
    }
    nanos
}

/// Z, UTC, GMT, GMT+8, UTC+08:00, +0800, -07:00, +08, EST … → offset east of UTC in
/// seconds.
fn parse_zone(tokens: &[Tok<'_>], at: usize) -> Option<(i32, usize)> {
    let (named, mut end) = match word_at(tokens, at) {
        Some(w) => (Some(named_zone(w)?), at + 1),
        None => (None, at),
    };
    if let Some(sign @ ('+' | '-' | '−')) = sym_at(tokens, end)
        && let Some((offset, after)) = numeric_offset(tokens, end + 1)
    {
        let offset = if sign == '+' { offset } else { -offset };
        end = after;
        // "-0700 (PDT)" is handled as a trailing comment; "+0000 UTC" is redundant.
        if word_at(tokens, end).and_then(named_zone).is_some() {
            end += 1;
        }
        return Some((named.unwrap_or(0) + offset, end));
    }
    named.map(|offset| (offset, end))
}

fn numeric_offset(tokens: &[Tok<'_>], at: usize) -> Option<(i32, usize)> {
    let (hours, minutes, end) = match tokens.get(at) {
        Some(Tok::Num(n)) if n.len() == 4 => (
            n.get(0..2)?.parse::<i32>().ok()?,
            n.get(2..4)?.parse::<i32>().ok()?,
            at + 1,
        ),
        Some(Tok::Num(n)) if n.len() <= 2 => {
            let hours = n.parse::<i32>().ok()?;
            match (sym_at(tokens, at + 1), num_at(tokens, at + 2, 2, 2)) {
                (Some(':'), Some(minutes)) => (hours, i32::try_from(minutes).ok()?, at + 3),
                _ => (hours, 0, at + 1),
            }
        }
        _ => return None,
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    Some((hours * 3600 + minutes * 60, end))
}

fn named_zone(word: &str) -> Option<i32> {
    let hours = match word {
        "z" | "utc" | "gmt" | "ut" | "zulu" | "wet" => 0,
        "bst" | "cet" | "wat" | "met" | "mez" | "west" => 1,
        "cest" | "eet" | "mesz" | "sast" => 2,
        "eest" | "msk" => 3,
        "hkt" | "sgt" | "awst" => 8,
        "jst" | "kst" => 9,
        "aest" => 10,
        "aedt" => 11,
        "nzst" => 12,
        "nzdt" => 13,
        "ast" | "edt" => -4,
        "est" | "cdt" => -5,
        "cst" | "mdt" => -6,
        "mst" | "pdt" => -7,
        "pst" | "akdt" => -8,
        "akst" => -9,
        "hst" => -10,
        _ => return None,
    };
    Some(hours * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// A fixed "now" so year-less and relative forms are checkable.
    fn now() -> DateTime<Utc> {
        at(2024, 6, 15, 12, 0, 0)
    }

    fn parse(text: &str) -> Option<DateTime<Utc>> {
        parse_date(text, now())
    }

    #[test]
    fn basic_forms() {
        let now = Utc::now();
        let expected = at(2024, 5, 1, 13, 2, 0);
        assert_eq!(parse_date("2024-05-01T13:02:00Z", now), Some(expected));
        assert_eq!(parse_date("2024-05-01T21:02:00+08:00", now), Some(expected));
        assert_eq!(
            parse_date("Wed, 01 May 2024 13:02:00 GMT", now),
            Some(expected)
        );
        assert_eq!(parse_date("2024-05-01 13:02", now), Some(expected));
        assert_eq!(parse_date("1714568520", now), Some(expected));
        assert_eq!(parse_date("1714568520000", now), Some(expected));
        assert_eq!(parse_date("1714568520.0", now), Some(expected));
        assert_eq!(parse_date("yesterday-ish", now), None);
        assert_eq!(parse_date("", now), None);
        assert_eq!(epoch(f64::NAN), None);
        assert_eq!(epoch(-1.0), None);
    }

    #[test]
    fn iso_8601_variants() {
        let expected = at(2024, 5, 1, 13, 2, 0);
        for text in [
            "2024-05-01T13:02:00",
            "2024-05-01 13:02:00",
            "2024-05-01 13:02:00Z",
            "2024-05-01t13:02:00z",
            "2024-05-01T13:02:00+00:00",
            "2024-05-01T15:02:00+0200",
            "2024-05-01T21:02:00+08",
            "2024-05-01T06:02:00-0700",
            "2024-05-01T13:02",
            "2024-05-01 13:02 UTC",
            "20240501T130200Z",
            "202405011302",
            "20240501130200",
            "２０２４－０５－０１　１３：０２",
        ] {
            assert_eq!(parse(text), Some(expected), "{text}");
        }
        assert_eq!(
            parse("2024-05-01T13:02:00.250Z"),
            Some(expected + Duration::milliseconds(250))
        );
        assert_eq!(
            parse("2024-05-01 13:02:00.5"),
            Some(expected + Duration::milliseconds(500))
        );
        assert_eq!(parse("2024-05-01"), Some(at(2024, 5, 1, 0, 0, 0)));
        assert_eq!(parse("20240501"), Some(at(2024, 5, 1, 0, 0, 0)));
        assert_eq!(parse("2024-5-1"), Some(at(2024, 5, 1, 0, 0, 0)));
        // The XenForo forum's own format.
        assert_eq!(
            parse("2020-09-18T08:56:40-0700"),
            Some(at(2020, 9, 18, 15, 56, 40))
        );
    }

    #[test]
    fn rfc_2822_and_sloppy_variants() {
        let expected = at(2024, 5, 1, 13, 2, 0);
        for text in [
            "Wed, 01 May 2024 13:02:00 +0000",
            "Wed, 1 May 2024 13:02:00 GMT",
            "01 May 2024 13:02:00 GMT",
            "1 May 2024 13:02:00 UTC",
            "Wed, 01 May 2024 13:02 GMT",
            "Wed, 01 May 2024 13:02:00",
            "Wednesday, 01 May 2024 13:02:00 GMT",
            "Wed, 01 May 2024 09:02:00 EDT",
            "Wed, 01 May 2024 13:02:00 Z",
            "Wed, 01 May 24 13:02:00 GMT",
            "Wed May 01 2024 13:02:00 GMT+0000 (Coordinated Universal Time)",
            "Wed May 01 2024 21:02:00 GMT+0800 (China Standard Time)",
            "01/May/2024:13:02:00 +0000",
            "May 1, 2024 1:02 PM",
            "May 1, 2024 at 1:02 p.m.",
            "1:02 PM · May 1, 2024",
        ] {
            assert_eq!(parse(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn numeric_dates_with_separators() {
        let expected = at(2024, 5, 1, 13, 2, 0);
        assert_eq!(parse("2024/05/01 13:02"), Some(expected));
        assert_eq!(parse("2024/5/1 13:02"), Some(expected));
        assert_eq!(parse("2024.05.01 13:02"), Some(expected));
        assert_eq!(parse("01.05.2024 13:02"), Some(expected));
        let may_first = Some(at(2024, 5, 1, 0, 0, 0));
        assert_eq!(parse("01.05.2024"), may_first);
        assert_eq!(parse("1.5.2024"), may_first);
        assert_eq!(parse("01.05.24"), may_first);
        assert_eq!(parse("01-05-2024"), may_first, "dashes: day first");
        assert_eq!(parse("05/01/2024"), may_first, "slashes: US month first");
        assert_eq!(parse("5/1/24"), may_first);
        assert_eq!(parse("13/05/2024"), Some(at(2024, 5, 13, 0, 0, 0)));
        assert_eq!(parse("31.02.2024"), None, "no such day");
        assert_eq!(parse("2024-13-01"), None);
        assert_eq!(parse("01.05.99"), Some(at(1999, 5, 1, 0, 0, 0)));
    }

    #[test]
    fn month_names() {
        let may_first = Some(at(2024, 5, 1, 0, 0, 0));
        for text in [
            "May 1, 2024",
            "May 1 2024",
            "may 1st, 2024",
            "1 May 2024",
            "1st May 2024",
            "1st of May, 2024",
            "01-May-2024",
            "1. Mai 2024",
            "1 mai 2024",
            "Wednesday, May 1, 2024",
            "Mittwoch, 1. Mai 2024",
        ] {
            assert_eq!(parse(text), may_first, "{text}");
        }
        assert_eq!(parse("Sep. 18, 2020"), Some(at(2020, 9, 18, 0, 0, 0)));
        assert_eq!(parse("18 Sept 2020"), Some(at(2020, 9, 18, 0, 0, 0)));
        assert_eq!(parse("3 März 2021"), Some(at(2021, 3, 3, 0, 0, 0)));
        assert_eq!(parse("Mar 3, 2021"), Some(at(2021, 3, 3, 0, 0, 0)));
        assert_eq!(parse("12 décembre 2023"), Some(at(2023, 12, 12, 0, 0, 0)));
        assert_eq!(
            parse("Sep 18, 2020 at 8:56 AM"),
            Some(at(2020, 9, 18, 8, 56, 0))
        );
        assert_eq!(
            parse("Dec 31, 2023 12:30 am"),
            Some(at(2023, 12, 31, 0, 30, 0))
        );
        assert_eq!(parse("Foo 1, 2024"), None);
    }

    #[test]
    fn cjk_dates() {
        assert_eq!(parse("2024年5月1日"), Some(at(2024, 5, 1, 0, 0, 0)));
        assert_eq!(parse("2024年05月01日"), Some(at(2024, 5, 1, 0, 0, 0)));
        assert_eq!(parse("2024年5月1日 13:02"), Some(at(2024, 5, 1, 13, 2, 0)));
        assert_eq!(parse("2024年5月1日13:02"), Some(at(2024, 5, 1, 13, 2, 0)));
        assert_eq!(
            parse("2024年5月1日 13时02分"),
            Some(at(2024, 5, 1, 13, 2, 0))
        );
        assert_eq!(
            parse("2024年5月1日 下午1:02"),
            Some(at(2024, 5, 1, 13, 2, 0))
        );
        assert_eq!(
            parse("2024年5月1日 星期三 13:02"),
            Some(at(2024, 5, 1, 13, 2, 0))
        );
        assert_eq!(parse("2024年5月1日(水)"), Some(at(2024, 5, 1, 0, 0, 0)));
        assert_eq!(parse("2024년 5월 1일"), Some(at(2024, 5, 1, 0, 0, 0)));
        assert_eq!(parse("２０２４年５月１日"), Some(at(2024, 5, 1, 0, 0, 0)));
    }

    #[test]
    fn yearless_dates_take_the_latest_past_year() {
        // now is 2024-06-15 12:00
        assert_eq!(parse("5月1日"), Some(at(2024, 5, 1, 0, 0, 0)));
        assert_eq!(parse("5月1日 13:02"), Some(at(2024, 5, 1, 13, 2, 0)));
        assert_eq!(parse("12月24日"), Some(at(2023, 12, 24, 0, 0, 0)));
        assert_eq!(parse("May 1"), Some(at(2024, 5, 1, 0, 0, 0)));
        assert_eq!(parse("Dec 24"), Some(at(2023, 12, 24, 0, 0, 0)));
        assert_eq!(parse("05-01 13:02"), Some(at(2024, 5, 1, 13, 2, 0)));
        assert_eq!(parse("05-01"), None, "month-day alone is ambiguous");
        // Tomorrow in UTC may be today on the page: within the day of slack.
        assert_eq!(parse("6月16日"), Some(at(2024, 6, 16, 0, 0, 0)));
        assert_eq!(parse("6月17日"), Some(at(2023, 6, 17, 0, 0, 0)));
        // Feb 29 in a year that has none: last year's, if that had one.
        assert_eq!(
            parse_date("2月29日", at(2025, 3, 1, 0, 0, 0)),
            Some(at(2024, 2, 29, 0, 0, 0))
        );
        assert_eq!(parse_date("2月29日", at(2026, 3, 1, 0, 0, 0)), None);
        assert_eq!(
            parse_date("2月29日", at(2024, 3, 1, 0, 0, 0)),
            Some(at(2024, 2, 29, 0, 0, 0))
        );
    }

    #[test]
    fn english_relative() {
        let now = now();
        assert_eq!(parse("just now"), Some(now));
        assert_eq!(parse("Just now"), Some(now));
        assert_eq!(parse("now"), Some(now));
        assert_eq!(parse("a moment ago"), Some(now));
        assert_eq!(parse("3 hours ago"), Some(now - Duration::hours(3)));
        assert_eq!(parse("an hour ago"), Some(now - Duration::hours(1)));
        assert_eq!(parse("about an hour ago"), Some(now - Duration::hours(1)));
        assert_eq!(parse("5 mins ago"), Some(now - Duration::minutes(5)));
        assert_eq!(parse("1 minute ago"), Some(now - Duration::minutes(1)));
        assert_eq!(parse("30 seconds ago"), Some(now - Duration::seconds(30)));
        assert_eq!(parse("2 days ago"), Some(now - Duration::days(2)));
        assert_eq!(parse("a day ago"), Some(now - Duration::days(1)));
        assert_eq!(parse("3 weeks ago"), Some(now - Duration::weeks(3)));
        assert_eq!(parse("2 months ago"), Some(at(2024, 4, 15, 12, 0, 0)));
        assert_eq!(parse("a year ago"), Some(at(2023, 6, 15, 12, 0, 0)));
        assert_eq!(parse("1.5 hours ago"), Some(now - Duration::minutes(90)));
        assert_eq!(parse("a few minutes ago"), Some(now - Duration::minutes(3)));
        assert_eq!(parse("3h"), Some(now - Duration::hours(3)));
        assert_eq!(parse("5m"), Some(now - Duration::minutes(5)));
        assert_eq!(parse("2d ago"), Some(now - Duration::days(2)));
        assert_eq!(parse("last week"), Some(now - Duration::weeks(1)));
        assert_eq!(parse("yesterday"), Some(now - Duration::days(1)));
        assert_eq!(
            parse("Yesterday at 1:02 PM"),
            Some(at(2024, 6, 14, 13, 2, 0))
        );
        assert_eq!(parse("yesterday, 13:02"), Some(at(2024, 6, 14, 13, 2, 0)));
        assert_eq!(parse("today 09:15"), Some(at(2024, 6, 15, 9, 15, 0)));
        assert_eq!(parse("today"), Some(now));
        assert_eq!(parse("3 hours"), None, "a duration, not a time");
        assert_eq!(parse("in 3 hours"), None);
        assert_eq!(parse("99999999 years ago"), None);
    }

    #[test]
    fn cjk_relative() {
        let now = now();
        assert_eq!(parse("刚刚"), Some(now));
        assert_eq!(parse("3小时前"), Some(now - Duration::hours(3)));
        assert_eq!(parse("3 小时前"), Some(now - Duration::hours(3)));
        assert_eq!(parse("３小时前"), Some(now - Duration::hours(3)));
        assert_eq!(parse("三小时前"), Some(now - Duration::hours(3)));
        assert_eq!(parse("半小时前"), Some(now - Duration::minutes(30)));
        assert_eq!(parse("一个半小时前"), Some(now - Duration::minutes(90)));
        assert_eq!(parse("5分钟前"), Some(now - Duration::minutes(5)));
        assert_eq!(parse("十五分钟前"), Some(now - Duration::minutes(15)));
        assert_eq!(parse("30秒前"), Some(now - Duration::seconds(30)));
        assert_eq!(parse("2天前"), Some(now - Duration::days(2)));
        assert_eq!(parse("1周前"), Some(now - Duration::weeks(1)));
        assert_eq!(parse("3个月前"), Some(at(2024, 3, 15, 12, 0, 0)));
        assert_eq!(parse("1年前"), Some(at(2023, 6, 15, 12, 0, 0)));
        assert_eq!(parse("3時間前"), Some(now - Duration::hours(3)));
        assert_eq!(parse("5分前"), Some(now - Duration::minutes(5)));
        assert_eq!(parse("昨天 13:02"), Some(at(2024, 6, 14, 13, 2, 0)));
        assert_eq!(parse("昨天13:02"), Some(at(2024, 6, 14, 13, 2, 0)));
        assert_eq!(parse("今天 09:15"), Some(at(2024, 6, 15, 9, 15, 0)));
        assert_eq!(parse("昨天 下午3:05"), Some(at(2024, 6, 14, 15, 5, 0)));
        assert_eq!(parse("昨天"), Some(now - Duration::days(1)));
        assert_eq!(parse("前天"), Some(now - Duration::days(2)));
        assert_eq!(parse("昨日 13:02"), Some(at(2024, 6, 14, 13, 2, 0)));
        assert_eq!(parse("小时前"), None);
        assert_eq!(parse("3米前"), None);
        assert_eq!(parse("昨天 吃饭"), None);
    }

    #[test]
    fn epoch_and_bare_numbers() {
        assert_eq!(parse("1714568520"), Some(at(2024, 5, 1, 13, 2, 0)));
        assert_eq!(
            parse("1714568520123").map(|d| d.timestamp_subsec_millis()),
            Some(123)
        );
        assert_eq!(parse("4"), None, "a rating, not 1970");
        assert_eq!(parse("2024"), None, "a year is not a moment");
        assert_eq!(parse("4.5"), None);
        assert_eq!(parse("99999999999999999999999"), None);
        assert_eq!(parse("20241301"), None, "not a valid compact date");
    }

    #[test]
    fn garbage_is_none() {
        for text in [
            "hello",
            "tomorrow",
            "May",
            "13:02",
            "2024-05-01 garbage",
            "2024-05-01T25:00:00",
            "2024-05-01 13:60",
            "Wed, 01 May 2024 13:02:00 +9900",
            "0000-01-01",
            "9999-01-01",
            "---",
            "年月日",
            "3 apples ago",
            "(",
            "(((",
            "前",
            "yesterday 99:99",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
        assert_eq!(parse(&"1".repeat(300)), None);
    }

    #[test]
    fn finds_dates_inside_text() {
        let now = now();
        assert_eq!(
            find_date("Posted on Sep 18, 2020 at 8:56 AM by Tiberius", now),
            Some(at(2020, 9, 18, 8, 56, 0))
        );
        assert_eq!(
            find_date(
                "{\"publishedDate\":\"2016-11-04T20:37:27Z\",\"updatedDate\":null}",
                now
            ),
            Some(at(2016, 11, 4, 20, 37, 27))
        );
        assert_eq!(
            find_date("发布于2024年5月1日", now),
            Some(at(2024, 5, 1, 0, 0, 0))
        );
        assert_eq!(
            find_date("2024年5月1日发布", now),
            Some(at(2024, 5, 1, 0, 0, 0))
        );
        assert_eq!(
            find_date("Updated: 3 hours ago", now),
            Some(now - Duration::hours(3))
        );
        assert_eq!(find_date("Rated 4 stars", now), None);
        assert_eq!(find_date("no date here at all", now), None);
        assert_eq!(find_date("", now), None);
    }

    /// A tiny deterministic xorshift generator: no new dependency for a fuzz loop.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn never_panics_on_random_or_mutated_input() {
        const SEEDS: &[&str] = &[
            "2024-05-01T13:02:00Z",
            "Wed, 01 May 2024 13:02:00 GMT",
            "2024年5月1日 下午1:02",
            "3小时前",
            "一个半小时前",
            "yesterday at 1:02 pm",
            "May 1st, 2024",
            "01.05.24",
            "1714568520000",
            "Wed May 01 2024 13:02:00 GMT+0800 (China Standard Time)",
            "5月1日",
            "2月29日",
            "1.5 hours ago",
            "昨天 13:02",
        ];
        const PIECES: &[&str] = &[
            "2024",
            "-",
            "/",
            ".",
            ":",
            "+",
            "年",
            "月",
            "日",
            "前",
            "小时",
            "半",
            "ago",
            "am",
            "pm",
            "gmt",
            "(",
            ")",
            "9",
            "99",
            "999999999999",
            " ",
            "\u{FF12}",
            "周",
            "星期",
            "mar",
            "t",
            "z",
            "\u{0}",
            "\u{FFFD}",
            "ǅ",
            "İ",
            "ß",
            "e\u{301}",
        ];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let fixed_now = now();
        let mut parsed = 0usize;
        for round in 0..20_000 {
            let text = match round % 3 {
                0 => {
                    let seed = SEEDS[rng.below(SEEDS.len())];
                    let mut bytes = seed.as_bytes().to_vec();
                    for _ in 0..=rng.below(4) {
                        let position = rng.below(bytes.len() + 1);
                        match rng.below(3) {
                            0 if position < bytes.len() => {
                                bytes[position] = (rng.next() & 0xFF) as u8;
                            }
                            1 if position < bytes.len() => {
                                bytes.remove(position);
                            }
                            _ => bytes.insert(position, (rng.next() & 0xFF) as u8),
                        }
                    }
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                1 => (0..rng.below(12))
                    .map(|_| PIECES[rng.below(PIECES.len())])
                    .collect(),
                _ => {
                    let bytes: Vec<u8> = (0..rng.below(40))
                        .map(|_| (rng.next() & 0xFF) as u8)
                        .collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                }
            };
            if let Some(at) = parse_date(&text, fixed_now) {
                parsed += 1;
                assert!(
                    year_in_range(at.year()) || at.year() == 1970,
                    "{text:?} → {at}"
                );
            }
            let _ = find_date(&text, fixed_now);
        }
        // The mutations keep many inputs readable: the loop exercised real paths.
        assert!(parsed > 100, "only {parsed} inputs parsed");
    }
}
