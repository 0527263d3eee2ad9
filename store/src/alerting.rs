//! [`AlertStore`] for [`Store`]: window reads over `post_brands`, and incidents and the
//! outbox delegated to their modules.
//!
//! Window reads see originals only (`post_brands.original = 1`): a post stored as a
//! copy of another (`duplicate_of`, see `dedup.rs`) is neither counted nor quoted as
//! evidence, so a story reposted 200 times weighs once in volume and negative share.

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::params;
use vigil_core::{
    AlertStore, Engagement, EvidencePost, Incident, IncidentStatus, NewIncident, NewNotification,
    Notification, Silence, Trigger,
};

use crate::posts::clamp_limit;
use crate::time::{format_time, parsed_col, time_col};
use crate::{Result, Store, StoreError, incidents, outbox};

/// Counts per bucket: the bucket bounds go in as a JSON array (`?1`), each bucket is a
/// range on the covering index `post_brands (brand, original, published_at)`.
const BUCKET_COUNTS_SQL: &str = "SELECT b.key, count(pb.seq)
     FROM json_each(?1) AS b
     LEFT JOIN post_brands AS pb
         ON pb.brand = ?2
         AND pb.original = 1
         AND pb.published_at >= json_extract(b.value, '$[0]')
         AND pb.published_at < json_extract(b.value, '$[1]')
     GROUP BY b.key
     ORDER BY b.key";

/// More buckets than this is a caller bug (seconds over years), not a query to run.
const MAX_BUCKETS: i64 = 1_000_000;

/// Who resolves an incident whose rule stayed quiet (`auto_resolve_after`).
const AUTO_RESOLVER: &str = "vigil";

/// `[start, end)` texts of the `floor((to - from) / bucket)` buckets ending at `to`,
/// oldest first.
fn bucket_bounds(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_secs: u64,
) -> Result<Vec<[String; 2]>> {
    let invalid = |reason: String| StoreError::Invalid(reason);
    if bucket_secs == 0 {
        return Err(invalid("bucket_secs must be positive".into()));
    }
    if to <= from {
        return Ok(Vec::new());
    }
    let bucket_ms = i64::try_from(bucket_secs)
        .ok()
        .and_then(|secs| secs.checked_mul(1000))
        .ok_or_else(|| invalid(format!("bucket of {bucket_secs}s is too long")))?;
    // Milliseconds truncate towards zero; since a bucket is whole seconds this floor
    // equals the exact floor of the nanosecond ratio.
    let count = (to - from).num_milliseconds() / bucket_ms;
    if count > MAX_BUCKETS {
        return Err(invalid(format!(
            "{count} buckets of {bucket_secs}s requested; at most {MAX_BUCKETS}"
        )));
    }
    let bucket = TimeDelta::try_milliseconds(bucket_ms)
        .ok_or_else(|| invalid(format!("bucket of {bucket_secs}s is too long")))?;
    let mut bounds = Vec::with_capacity(count as usize);
    for back in (1..=count).rev() {
        let start = to - bucket * back as i32;
        bounds.push([format_time(start), format_time(start + bucket)]);
    }
    Ok(bounds)
}

impl AlertStore for Store {
    type Error = StoreError;

    fn window_posts(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<EvidencePost>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT p.id, p.url, p.source, p.author, p.published_at, p.text,
                 p.sentiment_label, p.sentiment_score, p.engagement, p.lang
             FROM post_brands AS pb JOIN posts AS p ON p.seq = pb.seq
             WHERE pb.brand = ?1 AND pb.original = 1
                 AND pb.published_at >= ?2 AND pb.published_at < ?3
             ORDER BY pb.published_at DESC, pb.seq DESC
             LIMIT ?4",
        )?;
        let rows = statement.query_map(
            params![
                brand,
                format_time(from),
                format_time(to),
                clamp_limit(limit)
            ],
            |row| {
                let label: Option<String> = row.get(6)?;
                Ok(EvidencePost {
                    id: row.get(0)?,
                    url: row.get(1)?,
                    source: row.get(2)?,
                    author: row.get(3)?,
                    published_at: time_col(row, 4)?,
                    text: row.get(5)?,
                    label: match label {
                        Some(_) => Some(parsed_col(row, 6)?),
                        None => None,
                    },
                    score: row.get(7)?,
                    reach: row
                        .get::<_, Option<String>>(8)?
                        .and_then(|json| serde_json::from_str::<Engagement>(&json).ok())
                        .filter(|engagement| !engagement.is_empty())
                        .map(|engagement| engagement.reach()),
                    lang: row.get(9)?,
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One query: the bucket bounds go in as a JSON array, each bucket is an index
    /// range on `post_brands (brand, original, published_at)`, grouped by bucket index.
    fn bucket_counts(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_secs: u64,
    ) -> Result<Vec<u64>> {
        let bounds = bucket_bounds(from, to, bucket_secs)?;
        if bounds.is_empty() {
            return Ok(Vec::new());
        }
        let bounds_json = serde_json::to_string(&bounds)?;
        let conn = self.conn();
        let mut statement = conn.prepare_cached(BUCKET_COUNTS_SQL)?;
        let mut counts = vec![0u64; bounds.len()];
        let rows = statement.query_map(params![bounds_json, brand], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (index, count) = row?;
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| counts.get_mut(i)) {
                *slot = count.max(0) as u64;
            }
        }
        Ok(counts)
    }

    fn unresolved_incident(&self, rule: &str, brand: &str) -> Result<Option<Incident>> {
        incidents::unresolved(&self.conn(), rule, brand)
    }

    fn last_resolved_at(&self, rule: &str, brand: &str) -> Result<Option<DateTime<Utc>>> {
        incidents::last_resolved_at(&self.conn(), rule, brand)
    }

    fn create_incident_notified(
        &self,
        incident: NewIncident,
        first: &dyn Fn(&Incident) -> Vec<NewNotification>,
    ) -> Result<Incident> {
        let now = self.now();
        incidents::create(&mut self.conn(), now, incident, first)
    }

    fn update_incident_firing(
        &self,
        id: i64,
        trigger: &Trigger,
        peak_value: f64,
        evidence: &[EvidencePost],
        at: DateTime<Utc>,
    ) -> Result<()> {
        incidents::update_firing(&mut self.conn(), id, trigger, peak_value, evidence, at)
    }

    fn mark_incident_overdue(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        let now = self.now();
        incidents::mark_overdue(&mut self.conn(), now, id, at)
    }

    fn incidents(&self, status: Option<IncidentStatus>) -> Result<Vec<Incident>> {
        incidents::list(&self.conn(), status)
    }

    fn last_resolutions(&self) -> Result<vigil_core::LastResolutions> {
        incidents::last_resolutions(&self.conn())
    }

    fn unresolved_incidents(&self) -> Result<Vec<Incident>> {
        incidents::unresolved_list(&self.conn(), None)
    }

    fn unresolved_incidents_of(&self, brand: &str) -> Result<Vec<Incident>> {
        incidents::unresolved_list(&self.conn(), Some(brand))
    }

    fn enqueue_notification(&self, notification: NewNotification) -> Result<bool> {
        let now = self.now();
        outbox::enqueue(&mut self.conn(), now, notification)
    }

    fn notifications_for_incident(&self, incident_id: i64) -> Result<Vec<Notification>> {
        outbox::for_incident(&self.conn(), incident_id)
    }

    fn due_notifications(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Notification>> {
        outbox::due(&self.conn(), "", now, limit)
    }

    fn due_notifications_on(
        &self,
        channel_prefix: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Notification>> {
        outbox::due(&self.conn(), channel_prefix, now, limit)
    }

    fn mark_notification_sent(&self, id: i64, smtp_reply: &str, at: DateTime<Utc>) -> Result<()> {
        let now = self.now();
        outbox::mark_sent(&mut self.conn(), now, id, smtp_reply, at)
    }

    fn mark_notification_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()> {
        let now = self.now();
        outbox::mark_failed(&mut self.conn(), now, id, error, next_attempt_at)
    }

    fn active_silences(&self, now: DateTime<Utc>) -> Result<Vec<Silence>> {
        let mut silences = self.current_silences(now)?;
        silences.retain(|silence| silence.is_active(now));
        Ok(silences)
    }

    fn auto_resolve_incident(&self, id: i64, note: &str, at: DateTime<Utc>) -> Result<()> {
        self.resolve_incident(id, AUTO_RESOLVER, Some(note), at)
            .map(drop)
    }

    fn expire_acknowledgement(&self, id: i64, at: DateTime<Utc>) -> Result<Option<Incident>> {
        Store::expire_acknowledgement(self, id, at)
    }

    fn find_incident(&self, id: i64) -> Result<Option<Incident>> {
        self.incident(id)
    }

    fn mark_notification_given_up(&self, id: i64, error: &str, at: DateTime<Utc>) -> Result<()> {
        let now = self.now();
        outbox::mark_given_up(&mut self.conn(), now, id, error, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, h, m, 0).unwrap()
    }

    #[test]
    fn bucket_bounds_end_at_to_and_floor_the_count() {
        let bounds = bucket_bounds(t(10, 5), t(12, 0), 3600).unwrap();
        assert_eq!(bounds.len(), 1, "1h55m holds one whole hour");
        assert_eq!(bounds[0], [format_time(t(11, 0)), format_time(t(12, 0))]);
        let bounds = bucket_bounds(t(10, 0), t(12, 0), 1800).unwrap();
        assert_eq!(bounds.len(), 4);
        assert_eq!(bounds[0][0], format_time(t(10, 0)));
        assert_eq!(bounds[3][1], format_time(t(12, 0)));
        for pair in bounds.windows(2) {
            assert_eq!(pair[0][1], pair[1][0], "buckets are contiguous");
        }
        let just_short = t(12, 0) - TimeDelta::nanoseconds(1);
        assert_eq!(bucket_bounds(t(10, 0), just_short, 3600).unwrap().len(), 1);
    }

    /// Counting originals only must not cost a table lookup per post: the window
    /// index covers the filter.
    #[test]
    fn bucket_counts_read_the_covering_window_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let conn = store.conn();
        let mut plan = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {BUCKET_COUNTS_SQL}"))
            .unwrap();
        let details: Vec<String> = plan
            .query_map(params!["[]", "acme"], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            details
                .iter()
                .any(|detail| detail.contains("COVERING INDEX post_brands_window")),
            "{details:?}"
        );
    }

    #[test]
    fn bucket_bounds_edge_cases() {
        assert!(bucket_bounds(t(12, 0), t(10, 0), 60).unwrap().is_empty());
        assert!(bucket_bounds(t(12, 0), t(12, 0), 60).unwrap().is_empty());
        assert!(matches!(
            bucket_bounds(t(10, 0), t(12, 0), 0),
            Err(StoreError::Invalid(_))
        ));
        let year_ago = t(12, 0) - TimeDelta::days(365);
        assert!(matches!(
            bucket_bounds(year_ago, t(12, 0), 1),
            Err(StoreError::Invalid(_))
        ));
    }
}
