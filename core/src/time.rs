//! Durations (`250ms`, `30s`, `5m`, `1h`, `7d`, `2w`) and time arguments.

use chrono::{DateTime, NaiveDate, Utc};
use std::time::Duration;

use crate::{CoreError, Result};

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"7d"`, `"2w"`, and sums like `"1h30m"`.
pub fn parse_duration(input: &str) -> Result<Duration> {
    let err = |reason: &str| CoreError::Duration {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("empty"));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '_')
            .ok_or_else(|| err("missing unit"))?;
        if digits_end == 0 {
            return Err(err("expected a number"));
        }
        let number: u64 = rest[..digits_end]
            .replace('_', "")
            .parse()
            .map_err(|_| err("number too large"))?;
        rest = &rest[digits_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let unit_ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return Err(err(&format!("unknown unit {unit:?}"))),
        };
        let ms = number
            .checked_mul(unit_ms)
            .ok_or_else(|| err("duration too large"))?;
        total = total
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| err("duration too large"))?;
    }
    Ok(total)
}

/// Formats a duration the way config writes it (`90m` → `1h30m`).
pub fn format_duration(duration: Duration) -> String {
    let mut ms = duration.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Parses a time argument relative to `now`: RFC 3339, a bare date (midnight UTC),
/// or a duration meaning "that long before now" (`24h`, `7d`).
pub fn parse_time_arg(input: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc());
    }
    if s == "now" {
        return Ok(now);
    }
    let ago = s.strip_suffix(" ago").unwrap_or(s).trim_start_matches('-');
    if let Ok(d) = parse_duration(ago) {
        let d = chrono::Duration::from_std(d).map_err(|_| CoreError::Time {
            input: input.into(),
        })?;
        return now.checked_sub_signed(d).ok_or_else(|| CoreError::Time {
            input: input.into(),
        });
    }
    Err(CoreError::Time {
        input: input.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_duration("1_000ms").unwrap(), Duration::from_secs(1));
    }

    #[test]
    fn rejects_bad_durations_with_reason() {
        for bad in ["", "5", "m", "5x", "-5s", "5 s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
        let msg = parse_duration("5x").unwrap_err().to_string();
        assert!(msg.contains("unknown unit \"x\""), "{msg}");
    }

    #[test]
    fn formats_round_trip() {
        for s in ["30s", "1h30m", "7d", "250ms", "1d2h"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn time_args() {
        let now = DateTime::parse_from_rfc3339("2024-05-08T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_time_arg("24h", now).unwrap().to_rfc3339(),
            "2024-05-07T12:00:00+00:00"
        );
        assert_eq!(
            parse_time_arg("7d", now).unwrap().to_rfc3339(),
            "2024-05-01T12:00:00+00:00"
        );
        assert_eq!(
            parse_time_arg("2024-05-01T13:02:00+08:00", now)
                .unwrap()
                .to_rfc3339(),
            "2024-05-01T05:02:00+00:00"
        );
        assert_eq!(
            parse_time_arg("2024-05-01", now).unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert!(parse_time_arg("yesterday-ish", now).is_err());
    }
}
