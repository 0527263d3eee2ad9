//! Privacy before storage: with [`Store::set_privacy`] on, every ingest masks e-mail
//! addresses, phone numbers and ID-card numbers in a post's text and title
//! ([`vigil_core::privacy::redact_pii`]) and replaces its author by a keyed pseudonym
//! ([`vigil_core::privacy::Pseudonymizer`]) before the post is written, so neither the
//! file nor anything derived from it (index, alerts, mail) ever holds the raw values.
//! The post's `content_hash` stays the hash of what was fetched, and dedup keys
//! (source and external id, canonical URL) are untouched.
//!
//! # The pseudonym key
//!
//! 32 random bytes, hex, in `<data_dir>/author-pseudonym.key` (mode 0600), created on
//! first use. A key file that cannot be read or does not hold 64 hex digits is an
//! error naming the file, never a reason to make a new key: that would silently give
//! every author a new pseudonym. So is a missing file once the audit log shows the
//! store had a key (`pseudonym_key_created` or `_rotated`); rotating starts over. The file is read again at every ingest, so a rotation
//! by another process (the CLI while the daemon runs) takes effect at the next batch.
//! [`Store::rotate_pseudonym_key`] keeps the old key as `author-pseudonym.key.<unix
//! time>` and writes a new one; stored posts keep their pseudonyms, new posts get new
//! ones. The audit log says when a key was created or rotated, with a key id (a hash
//! of the key), never the key.

use std::borrow::Cow;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use vigil_core::Post;
use vigil_core::privacy::{PiiCounts, Pseudonymizer, redact_pii_counted};

use crate::{Result, Store, StoreError};

/// File name of the pseudonym key inside the data dir.
pub const PSEUDONYM_KEY_FILE: &str = "author-pseudonym.key";

/// Audit actor for key creation, which happens inside the store.
const KEY_ACTOR: &str = "store";

const KEY_LEN: usize = Pseudonymizer::KEY_LEN;

/// What the store applies to posts it ingests; set by [`Store::set_privacy`].
#[derive(Default)]
pub(crate) struct PrivacyState {
    redact_pii: bool,
    pseudonymize_authors: bool,
    /// The key last read from the file (checked against the file at every ingest).
    key: Option<LoadedKey>,
}

struct LoadedKey {
    bytes: [u8; KEY_LEN],
    id: String,
    pseudonymizer: Arc<Pseudonymizer>,
}

impl LoadedKey {
    fn new(bytes: [u8; KEY_LEN]) -> LoadedKey {
        LoadedKey {
            bytes,
            id: key_id(&bytes),
            pseudonymizer: Arc::new(Pseudonymizer::new(&bytes)),
        }
    }
}

/// A name for a key that says nothing about it: the first 16 hex digits of SHA-256 over
/// a label and the key (a 256-bit random key cannot be recovered from its hash).
fn key_id(key: &[u8; KEY_LEN]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"vigil author-pseudonym key id\0");
    hasher.update(key);
    hex::encode(&hasher.finalize()[..8])
}

/// What one ingest applies to its posts: decided once per batch.
pub(crate) struct PostPrivacy {
    redact_pii: bool,
    /// The pseudonymizer and its key id, when authors are pseudonymized.
    pseudonymizer: Option<(Arc<Pseudonymizer>, String)>,
}

/// What [`PostPrivacy::apply`] did to one post: counts, never values.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PostRedactions {
    pii: PiiCounts,
    author_pseudonymized: bool,
}

/// The sum over the posts an ingest stored, for its audit entry.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RedactionSummary {
    pii: PiiCounts,
    authors_pseudonymized: usize,
}

impl RedactionSummary {
    pub(crate) fn add(&mut self, post: &PostRedactions) {
        self.pii += post.pii;
        self.authors_pseudonymized += usize::from(post.author_pseudonymized);
    }
}

impl PostPrivacy {
    /// Redacts the post's text and title (and its author, if it is not pseudonymized)
    /// and pseudonymizes its author, in place.
    pub(crate) fn apply(&self, post: &mut Post) -> PostRedactions {
        let mut done = PostRedactions::default();
        if self.redact_pii {
            redact_field(&mut post.text, &mut done.pii);
            if let Some(title) = &mut post.title {
                redact_field(title, &mut done.pii);
            }
        }
        if let Some(author) = &mut post.author {
            match &self.pseudonymizer {
                // The pseudonym is of the raw author, so two authors whose handles are
                // e-mail addresses do not share the pseudonym of `[email]`.
                Some((pseudonymizer, _)) if !author.trim().is_empty() => {
                    *author = pseudonymizer.pseudonym(author);
                    done.author_pseudonymized = true;
                }
                Some(_) => {}
                // A Mastodon account is `user@instance`: a public handle shaped like an
                // address, which authors-by-reach and influencer rules need.
                None if self.redact_pii && !post.provenance.extraction.starts_with("mastodon:") => {
                    redact_field(author, &mut done.pii)
                }
                None => {}
            }
        }
        done
    }

    /// The `privacy` object of the ingest audit entry: what was applied and how often.
    pub(crate) fn audit_payload(&self, summary: &RedactionSummary) -> serde_json::Value {
        let mut payload = serde_json::Map::new();
        if self.redact_pii {
            payload.insert("redacted".into(), serde_json::json!(summary.pii));
        }
        if let Some((_, key_id)) = &self.pseudonymizer {
            payload.insert(
                "authors_pseudonymized".into(),
                summary.authors_pseudonymized.into(),
            );
            payload.insert("pseudonym_key_id".into(), key_id.clone().into());
        }
        serde_json::Value::Object(payload)
    }
}

fn redact_field(field: &mut String, counts: &mut PiiCounts) {
    let (redacted, found) = redact_pii_counted(field);
    *counts += found;
    if let Cow::Owned(redacted) = redacted {
        *field = redacted;
    }
}

/// What [`Store::rotate_pseudonym_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PseudonymKeyRotation {
    /// Where the previous key was kept (`author-pseudonym.key.<unix time>`); `None`
    /// when there was no key yet.
    pub archived: Option<PathBuf>,
    /// Id (a hash, not the key) of the previous key, if any, and of the new one; the
    /// same ids appear in the audit log and in each ingest's audit entry.
    pub previous_key_id: Option<String>,
    pub key_id: String,
}

impl Store {
    /// Chooses what ingest does to posts before writing them: `redact_pii` masks e-mail
    /// addresses, phone numbers and ID-card numbers in text and title;
    /// `pseudonymize_authors` replaces authors by `anon-…` pseudonyms, reading the key
    /// from the data dir (or creating it). Both off (the default of a store nobody
    /// configured) stores posts verbatim.
    pub fn set_privacy(&self, redact_pii: bool, pseudonymize_authors: bool) -> Result<()> {
        let mut state = self.privacy.lock().unwrap_or_else(|p| p.into_inner());
        if pseudonymize_authors {
            self.refresh_key(&mut state)?;
        }
        state.redact_pii = redact_pii;
        state.pseudonymize_authors = pseudonymize_authors;
        tracing::debug!(redact_pii, pseudonymize_authors, "store privacy set");
        Ok(())
    }

    /// Keeps the current pseudonym key as `author-pseudonym.key.<unix time>` and puts a
    /// new random key in its place (there is never a moment without a key file). Posts
    /// already stored keep their pseudonyms; posts stored from now on (by this process
    /// or, from its next batch, any other) get pseudonyms under the new key, so an
    /// author's old and new posts can no longer be linked by pseudonym. Audited as
    /// `pseudonym_key_rotated` with the key ids, never the keys.
    pub fn rotate_pseudonym_key(&self, actor: &str) -> Result<PseudonymKeyRotation> {
        let mut state = self.privacy.lock().unwrap_or_else(|p| p.into_inner());
        let key_path = self.pseudonym_key_path();
        let previous = read_key(&key_path)?;
        let archived = match &previous {
            Some(previous) => Some(archive_key(
                self.key_dir(),
                previous,
                self.now().timestamp(),
            )?),
            None => None,
        };
        let new_key: [u8; KEY_LEN] = rand::random();
        write_key(self.key_dir(), &key_path, &new_key, Install::Replace)?;
        let loaded = LoadedKey::new(new_key);
        let rotation = PseudonymKeyRotation {
            archived: archived.clone(),
            previous_key_id: previous.as_ref().map(key_id),
            key_id: loaded.id.clone(),
        };
        state.key = Some(loaded);
        let archived_as = archived
            .as_deref()
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned());
        self.append_audit(
            "pseudonym_key_rotated",
            actor,
            &serde_json::json!({
                "file": PSEUDONYM_KEY_FILE,
                "archived_as": archived_as,
                "previous_key_id": rotation.previous_key_id,
                "key_id": rotation.key_id,
            }),
        )?;
        tracing::info!(key_id = %rotation.key_id, actor, "pseudonym key rotated");
        Ok(rotation)
    }

    /// The pseudonyms `author` has been stored under: under the current key and every
    /// archived one (newest key first), so an erasure or search by a real handle can
    /// find that author's posts. Empty when there is no key yet. Creates no key.
    pub fn pseudonyms_of(&self, author: &str) -> Result<Vec<String>> {
        let dir = self.key_dir();
        // Sorted by (current?, archived at, attempt), descending: current key first.
        let mut keys: Vec<((bool, i64, u32), [u8; KEY_LEN])> = Vec::new();
        let listing = std::fs::read_dir(dir).map_err(|error| {
            StoreError::Invalid(format!("cannot list {}: {error}", dir.display()))
        })?;
        for entry in listing {
            let entry = entry.map_err(|error| {
                StoreError::Invalid(format!("cannot list {}: {error}", dir.display()))
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let order = if name == PSEUDONYM_KEY_FILE {
                (true, 0, 0)
            } else {
                // `author-pseudonym.key.<unix time>` or `….<unix time>-<n>`.
                let Some(stamp) = name
                    .strip_prefix(PSEUDONYM_KEY_FILE)
                    .and_then(|rest| rest.strip_prefix('.'))
                else {
                    continue;
                };
                let (time, attempt) = stamp.split_once('-').unwrap_or((stamp, "1"));
                match (time.parse::<i64>(), attempt.parse::<u32>()) {
                    (Ok(time), Ok(attempt)) => (false, time, attempt),
                    _ => continue,
                }
            };
            if let Some(key) = read_key(&entry.path())? {
                keys.push((order, key));
            }
        }
        keys.sort_by_key(|(order, _)| std::cmp::Reverse(*order));
        Ok(keys
            .iter()
            .map(|(_, key)| Pseudonymizer::new(key).pseudonym(author))
            .collect())
    }

    /// What the next ingest applies; `None` when privacy is off. Reads the key file
    /// again so a rotation by another process is followed.
    pub(crate) fn post_privacy(&self) -> Result<Option<PostPrivacy>> {
        let mut state = self.privacy.lock().unwrap_or_else(|p| p.into_inner());
        if !state.redact_pii && !state.pseudonymize_authors {
            return Ok(None);
        }
        let pseudonymizer = if state.pseudonymize_authors {
            let key = self.refresh_key(&mut state)?;
            Some((Arc::clone(&key.pseudonymizer), key.id.clone()))
        } else {
            None
        };
        Ok(Some(PostPrivacy {
            redact_pii: state.redact_pii,
            pseudonymizer,
        }))
    }

    /// The key as the file has it now, creating the file if there is none.
    fn refresh_key<'state>(&self, state: &'state mut PrivacyState) -> Result<&'state LoadedKey> {
        let key_path = self.pseudonym_key_path();
        let bytes = match read_key(&key_path)? {
            Some(bytes) => bytes,
            None => self.create_key(&key_path)?,
        };
        let current = state.key.as_ref().is_some_and(|key| key.bytes == bytes);
        if !current {
            if state.key.is_some() {
                tracing::info!(path = %key_path.display(), "pseudonym key changed on disk; using the new key");
            }
            state.key = Some(LoadedKey::new(bytes));
        }
        Ok(state.key.as_ref().expect("key loaded above"))
    }

    /// Writes a new key unless another process does so first (then that key is used).
    /// Only on first use: if the audit log says this store has had a key, the missing
    /// file is an error (restore it, or rotate to start over deliberately).
    fn create_key(&self, key_path: &Path) -> Result<[u8; KEY_LEN]> {
        let had_key: bool = self.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM audit_log
                 WHERE kind IN ('pseudonym_key_created', 'pseudonym_key_rotated'))",
            [],
            |row| row.get(0),
        )?;
        if had_key {
            // Another process may have created it since we looked.
            if let Some(key) = read_key(key_path)? {
                return Ok(key);
            }
            return Err(key_error(
                key_path,
                "is missing, but the audit log shows this store had a key; \
                 to start over with a new key on purpose, rotate it",
            ));
        }
        let key: [u8; KEY_LEN] = rand::random();
        if !write_key(self.key_dir(), key_path, &key, Install::IfAbsent)? {
            return read_key(key_path)?.ok_or_else(|| {
                key_error(key_path, "vanished right after another process created it")
            });
        }
        let id = key_id(&key);
        tracing::info!(path = %key_path.display(), key_id = %id, "pseudonym key created");
        self.append_audit(
            "pseudonym_key_created",
            KEY_ACTOR,
            &serde_json::json!({ "file": PSEUDONYM_KEY_FILE, "key_id": id }),
        )?;
        Ok(key)
    }

    /// The data dir (the key lives beside `vigil.db`).
    fn key_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    fn pseudonym_key_path(&self) -> PathBuf {
        self.key_dir().join(PSEUDONYM_KEY_FILE)
    }
}

fn key_error(path: &Path, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!(
        "pseudonym key file {}: {problem} (restore it from a backup; a new key would change every author's pseudonym)",
        path.display()
    ))
}

/// The key in `path`; `None` when there is no such file. Anything else that is not 64
/// hex digits (surrounding whitespace allowed) is an error naming the file.
fn read_key(path: &Path) -> Result<Option<[u8; KEY_LEN]>> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(key_error(path, format_args!("cannot be read: {error}"))),
    };
    let mut key = [0u8; KEY_LEN];
    match hex::decode_to_slice(text.trim_ascii(), &mut key) {
        Ok(()) => Ok(Some(key)),
        Err(_) => Err(key_error(
            path,
            format_args!(
                "is corrupt: expected {} hex digits, found {} bytes that are not",
                KEY_LEN * 2,
                text.len()
            ),
        )),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Install {
    /// Only if no key file exists (first use, maybe by two processes at once).
    IfAbsent,
    /// Over the current key file (rotation, after the old key was archived).
    Replace,
}

/// Writes `key` to a temporary file (mode 0600) in `dir` and moves it into place, so a
/// crash never leaves a half-written key. Returns false when `Install::IfAbsent` found
/// a key file already there.
fn write_key(dir: &Path, key_path: &Path, key: &[u8; KEY_LEN], install: Install) -> Result<bool> {
    let temp = dir.join(format!(
        ".{PSEUDONYM_KEY_FILE}.tmp-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    write_private_file(&temp, key).map_err(|error| key_error(key_path, error))?;
    let installed = match install {
        Install::Replace => std::fs::rename(&temp, key_path).map(|()| true),
        // A hard link, unlike a rename, never replaces an existing file: of two
        // processes creating the key at once, one wins and the other reads its key.
        Install::IfAbsent => match std::fs::hard_link(&temp, key_path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            // A file system without hard links: rename (which cannot detect the race).
            Err(_) => std::fs::rename(&temp, key_path).map(|()| true),
        },
    };
    let _ = std::fs::remove_file(&temp);
    let installed = installed
        .map_err(|error| key_error(key_path, format_args!("cannot be written: {error}")))?;
    sync_dir(dir);
    Ok(installed)
}

/// Keeps `key` as `author-pseudonym.key.<unix time>` (`-2`, `-3`… if rotated twice in a
/// second); never overwrites an archived key.
fn archive_key(dir: &Path, key: &[u8; KEY_LEN], unix_time: i64) -> Result<PathBuf> {
    for attempt in 1..=100 {
        let name = match attempt {
            1 => format!("{PSEUDONYM_KEY_FILE}.{unix_time}"),
            n => format!("{PSEUDONYM_KEY_FILE}.{unix_time}-{n}"),
        };
        let path = dir.join(name);
        match write_private_file(&path, key) {
            Ok(()) => {
                sync_dir(dir);
                return Ok(path);
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => {
                return Err(key_error(&path, format_args!("cannot be written: {error}")));
            }
        }
    }
    Err(StoreError::Conflict(format!(
        "too many archived pseudonym keys for {unix_time} in {}",
        dir.display()
    )))
}

/// Creates `path` (failing if it exists) readable by the owner only, with the key in
/// hex and a newline, flushed to disk.
fn write_private_file(path: &Path, key: &[u8; KEY_LEN]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    let written = file
        .write_all(format!("{}\n", hex::encode(key)).as_bytes())
        .and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

/// Makes a rename or link in `dir` durable; best effort (not every platform can open a
/// directory).
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(author: Option<&str>, title: Option<&str>, text: &str) -> Post {
        Post {
            id: "id".into(),
            source: "s".into(),
            external_id: "e".into(),
            url: Some("https://weibo.com/zhangwei/1".into()),
            canonical_url: Some("https://weibo.com/zhangwei/1".into()),
            author: author.map(Into::into),
            title: title.map(Into::into),
            text: text.into(),
            lang: None,
            published_at: chrono::DateTime::UNIX_EPOCH,
            brands: vec!["acme".into()],
            provenance: vigil_core::Provenance {
                fetched_at: chrono::DateTime::UNIX_EPOCH,
                fetch_url: "https://weibo.com/feed".into(),
                http_status: Some(200),
                content_hash: "hash-of-what-was-fetched".into(),
                extraction: "test".into(),
                raw_sha256: None,
            },
            sentiment: None,
            engagement: Default::default(),
            duplicate_of: None,
        }
    }

    #[test]
    fn redacts_text_title_and_an_author_that_is_an_address() {
        let privacy = PostPrivacy {
            redact_pii: true,
            pseudonymizer: None,
        };
        let mut post = post(
            Some("li.na@example.com"),
            Some("退货 13812345678"),
            "邮箱 a@b.com 电话 (0755) 1234 5678",
        );
        let done = privacy.apply(&mut post);
        assert_eq!(post.text, "邮箱 [email] 电话 [phone]");
        assert_eq!(post.title.as_deref(), Some("退货 [phone]"));
        assert_eq!(post.author.as_deref(), Some("[email]"));
        assert_eq!(done.pii.emails, 2);
        assert_eq!(done.pii.phones, 2);
        assert!(!done.author_pseudonymized);
        // What identifies the fetch and dedups it is untouched.
        assert_eq!(post.provenance.content_hash, "hash-of-what-was-fetched");
        assert_eq!(post.url.as_deref(), Some("https://weibo.com/zhangwei/1"));
    }

    #[test]
    fn a_mastodon_account_is_a_handle_not_an_address() {
        let privacy = PostPrivacy {
            redact_pii: true,
            pseudonymizer: None,
        };
        let mut toot = post(Some("greg@icosahedron.website"), None, "mail me: g@x.org");
        toot.provenance.extraction = "mastodon:statuses".into();
        privacy.apply(&mut toot);
        assert_eq!(toot.author.as_deref(), Some("greg@icosahedron.website"));
        assert_eq!(toot.text, "mail me: [email]");
    }

    #[test]
    fn pseudonymizes_the_raw_author() {
        let key = [3u8; KEY_LEN];
        let pseudonymizer = Arc::new(Pseudonymizer::new(&key));
        let privacy = PostPrivacy {
            redact_pii: true,
            pseudonymizer: Some((Arc::clone(&pseudonymizer), key_id(&key))),
        };
        let mut first = post(Some("a@example.com"), None, "x");
        let mut second = post(Some("b@example.com"), None, "x");
        let mut blank = post(Some("  "), None, "x");
        assert!(privacy.apply(&mut first).author_pseudonymized);
        privacy.apply(&mut second);
        assert!(!privacy.apply(&mut blank).author_pseudonymized);
        assert_eq!(first.author, Some(pseudonymizer.pseudonym("a@example.com")));
        assert_ne!(first.author, second.author);
        assert_eq!(blank.author.as_deref(), Some("  "));
    }

    #[test]
    fn key_id_does_not_contain_the_key() {
        let key = [0xabu8; KEY_LEN];
        let id = key_id(&key);
        assert_eq!(id.len(), 16);
        assert!(!hex::encode(key).contains(&id));
    }
}
