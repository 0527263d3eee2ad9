//! Vigil's domain types and the traits between pipeline stages. No I/O lives here.
//!
//! - [`Post`] is one captured mention with its [`Provenance`]; [`StoredPost`] adds the
//!   store's sequence number, which orders everything downstream (classifier, index).
//! - [`Sentiment`] and the [`Classifier`] trait are the classifier stage's interface.
//! - [`query`] is the boolean query language shared by brand definitions, search and
//!   keyword rules: [`Query::parse`] builds the tree, [`Query::matches`] evaluates it on text.
//! - [`Incident`], [`Notification`] and the [`AlertStore`] trait are what the alert engine
//!   needs from the system of record, so `alerts` does not depend on `store`.
//! - [`time`] parses durations (`30s`, `7d`) and time arguments (RFC 3339 or `24h` ago);
//!   [`Clock`] makes time injectable so a 24-hour incident can be tested in milliseconds.
//! - [`simhash`] fingerprints a post's normalised text so the store can link
//!   near-duplicate copies to their original ([`hamming`], [`NEAR_DUPLICATE_DISTANCE`]).
//! - [`RawCapture`] is the exact body of a fetched page, kept for `keep_raw` sources and
//!   named by its SHA-256 in each post's [`Provenance::raw_sha256`].

mod alerting;
mod clock;
mod error;
mod hash;
pub mod merkle;
mod post;
pub mod privacy;
pub mod query;
mod raw;
mod sentiment;
mod simhash;
pub mod text;
pub mod time;
mod urls;

pub use alerting::{
    AlertStore, Contributor, EMAIL_CHANNEL, EvidencePost, Incident, IncidentStatus,
    LastResolutions, NewIncident, NewNotification, NewSilence, Notification, NotificationKind,
    NotificationStatus, Severity, Silence, TermCount, Trigger, TriggerContext,
    WEBHOOK_CHANNEL_PREFIX,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{CoreError, Result};
pub use hash::{HashChain, sha256_hex};
pub use post::{Engagement, Post, Provenance, SourceCheckpoint, StoredPost, post_id};
pub use query::{Query, QueryError};
pub use raw::RawCapture;
pub use sentiment::{Classifier, Label, Sentiment};
pub use simhash::{MIN_TEXT_WEIGHT, NEAR_DUPLICATE_DISTANCE, hamming, simhash, simhash_bands};
pub use urls::{canonical_url, site_key, site_keys, site_keys_of_host};
