//! How the store writes times: RFC 3339 UTC with exactly nine fractional digits, so
//! that text order is time order (window queries compare text on an index) and a
//! `DateTime<Utc>` survives a round trip exactly.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Row;
use rusqlite::types::Type;

/// The stored text of a time; also the `at` text the audit hash chain covers.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

pub(crate) fn opt_time(time: Option<DateTime<Utc>>) -> Option<String> {
    time.map(format_time)
}

/// Wraps a column-decoding failure so it reports which column held the bad value.
pub(crate) fn conversion_error(
    index: usize,
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, error.into())
}

pub(crate) fn time_col(row: &Row<'_>, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(index)?;
    parse_time(&text).map_err(|error| conversion_error(index, error))
}

pub(crate) fn opt_time_col(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| parse_time(&text).map_err(|error| conversion_error(index, error)))
        .transpose()
}

/// Decodes a text column through `FromStr` (enums stored by name).
pub(crate) fn parsed_col<T>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr<Err = String>,
{
    let text: String = row.get(index)?;
    text.parse::<T>()
        .map_err(|error| conversion_error(index, error))
}

/// Decodes a JSON text column.
pub(crate) fn json_col<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|error| conversion_error(index, error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn fixed_width_so_text_order_is_time_order() {
        let whole = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let later = whole + chrono::Duration::nanoseconds(1);
        assert_eq!(format_time(whole), "2024-05-01T12:00:00.000000000Z");
        assert_eq!(format_time(later), "2024-05-01T12:00:00.000000001Z");
        assert!(format_time(whole) < format_time(later));
        let next_second = whole + chrono::Duration::seconds(1);
        assert!(format_time(later) < format_time(next_second));
    }

    #[test]
    fn round_trips_exactly() {
        let t = Utc.timestamp_opt(1_714_564_800, 123_456_789).unwrap();
        assert_eq!(parse_time(&format_time(t)).unwrap(), t);
    }
}
