//! Signed checkpoints of the audit log: Merkle tree heads an auditor can hold the
//! daemon to.
//!
//! The hash chain (`audit.rs`) shows that the stored entries agree with one another; it
//! cannot show that the log is the one that was there yesterday, since whoever can write
//! the file can rewrite the tail, or the whole chain, and recompute every hash. A
//! checkpoint closes that gap: it signs the root of the RFC 9162 Merkle tree
//! ([`vigil_core::merkle`]) over the first `tree_size` entries. Once a checkpoint (or
//! just the public key) is held outside the machine, rewriting, deleting, reordering or
//! truncating anything it covers is detected, and two checkpoints that do not extend
//! one another are a provable fork.
//!
//! - **Leaves**: entry `seq = i + 1` is leaf `i`; its leaf data is the entry's chain hash
//!   as 32 raw bytes (the stored hex decoded), leaf-hashed with
//!   [`merkle::leaf_hash`] (`SHA-256(0x00 ‖ hash)`).
//! - **Key**: ed25519, its 32-byte seed stored as 64 hex digits and a newline in
//!   `<data_dir>/audit-signing.key` (mode 0600), created on first use and never
//!   replaced: an unreadable or corrupt file is an error. The key id is the first 16 hex
//!   digits of `SHA-256(public key bytes)`.
//! - **Signed message** (UTF-8, every line ending in `\n`, no trailing spaces):
//!
//!   ```text
//!   vigil-audit-checkpoint v1
//!   <tree_size, decimal>
//!   <root_hash, 64 lower-case hex digits>
//!   <signed_at, RFC 3339 UTC with nine fractional digits, e.g. 2026-11-24T01:00:00.000000000Z>
//!   <key_id, 16 lower-case hex digits>
//!   ```
//!
//!   The signature is ed25519 (RFC 8032) over those bytes, stored as 128 hex digits.
//! - **Recording**: [`Store::audit_checkpoint`] computes the root over entries
//!   `1..=N`, signs it, stores the row in `audit_checkpoints` and appends entry `N + 1`
//!   (`audit_checkpoint`, with the tree size, root, key id and signature), all in one
//!   transaction. It refuses to sign a log whose chain is broken or that no longer
//!   extends an earlier checkpoint, so a checkpoint never blesses tampering.
//!
//! [`Store::verify_audit_full`] checks everything at once and names every problem.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use vigil_core::HashChain;
use vigil_core::merkle::{self, Hash};

use crate::audit::{AuditEntry, AuditProblem, append_in, check_entry};
use crate::time::{format_time, parse_time, time_col};
use crate::{Result, Store, StoreError};

/// File name of the signing key inside the data dir.
pub const SIGNING_KEY_FILE: &str = "audit-signing.key";
/// First line of every signed checkpoint message.
pub const CHECKPOINT_MESSAGE_HEADER: &str = "vigil-audit-checkpoint v1";
/// Audit actor of the `audit_checkpoint` entries.
pub const AUDIT_CHECKPOINT_ACTOR: &str = "audit-checkpoint";
/// Audit kind of the entry that records a checkpoint.
pub const AUDIT_CHECKPOINT_KIND: &str = "audit_checkpoint";

/// At most this many chain problems are listed one by one; the rest are counted.
const MAX_LISTED_PROBLEMS: usize = 50;

/// The text that is signed for a checkpoint (see the module docs).
pub fn checkpoint_message(
    tree_size: u64,
    root_hash: &str,
    signed_at: &str,
    key_id: &str,
) -> String {
    format!("{CHECKPOINT_MESSAGE_HEADER}\n{tree_size}\n{root_hash}\n{signed_at}\n{key_id}\n")
}

/// One signed tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// Number of entries covered: `1..=tree_size`.
    pub tree_size: u64,
    /// Merkle root over those entries, hex.
    pub root_hash: String,
    /// Serialised as the exact text that is signed.
    #[serde(serialize_with = "serialize_fixed_time")]
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
    /// ed25519 signature of [`Checkpoint::signed_message`], hex.
    pub signature: String,
}

fn serialize_fixed_time<S: Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_time(*at))
}

impl Checkpoint {
    /// The exact bytes the signature covers.
    pub fn signed_message(&self) -> String {
        checkpoint_message(
            self.tree_size,
            &self.root_hash,
            &format_time(self.signed_at),
            &self.key_id,
        )
    }
}

/// The public half of the audit signing key: what an auditor keeps outside the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditPublicKey(VerifyingKey);

impl AuditPublicKey {
    /// Parses 64 hex digits (the output of `vigil audit public-key`).
    pub fn from_hex(text: &str) -> Result<AuditPublicKey> {
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "public key {text:?}: expected 64 hex digits (32 bytes)"
                ))
            })?;
        VerifyingKey::from_bytes(&bytes)
            .map(AuditPublicKey)
            .map_err(|_| StoreError::Invalid(format!("public key {text}: not an ed25519 key")))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// First 16 hex digits of SHA-256 of the key's 32 bytes.
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))[..16].to_string()
    }

    /// Whether `signature_hex` is this key's (strict) ed25519 signature of `message`.
    pub fn verifies(&self, message: &str, signature_hex: &str) -> bool {
        let Some(bytes) = hex::decode(signature_hex)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        else {
            return false;
        };
        self.0
            .verify_strict(message.as_bytes(), &Signature::from_bytes(&bytes))
            .is_ok()
    }

    /// Whether `checkpoint` carries this key's id and a valid signature by it.
    pub fn verifies_checkpoint(&self, checkpoint: &Checkpoint) -> bool {
        checkpoint.key_id == self.key_id()
            && self.verifies(&checkpoint.signed_message(), &checkpoint.signature)
    }
}

/// [`Store::audit_inclusion_proof`]: entry `seq` is leaf `seq - 1` of the tree of
/// `tree_size` entries whose root is `root_hash`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InclusionProof {
    pub entry: AuditEntry,
    pub leaf_index: u64,
    /// `merkle::leaf_hash` of the entry's 32 hash bytes, hex.
    pub leaf_hash: String,
    pub tree_size: u64,
    /// Root recomputed from the stored entries at `tree_size`, hex.
    pub root_hash: String,
    /// The audit path, leaf to root, hex.
    pub proof: Vec<String>,
    /// The signed checkpoint at `tree_size`, when there is one.
    pub checkpoint: Option<Checkpoint>,
}

/// [`Store::audit_consistency_proof`]: the log of `old_size` entries is a prefix of the
/// log of `new_size` entries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    /// Roots recomputed from the stored entries, hex.
    pub old_root: String,
    pub new_root: String,
    pub proof: Vec<String>,
    /// The signed checkpoints at those sizes, when there are some.
    pub old_checkpoint: Option<Checkpoint>,
    pub new_checkpoint: Option<Checkpoint>,
}

/// Outcome of [`Store::verify_audit_full`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    /// Entries read.
    pub entries: u64,
    /// Hash of the last entry (genesis when empty).
    pub head_hash: String,
    /// The first entry that breaks the hash chain, as [`Store::verify_audit`] names it.
    pub first_bad: Option<AuditProblem>,
    /// Checkpoints read.
    pub checkpoints: u64,
    pub latest_checkpoint: Option<Checkpoint>,
    /// Id of the key the signatures were checked against (the one given, else the one
    /// in the data dir); `None` when there was none.
    pub trusted_key_id: Option<String>,
    /// Every problem found, chain first, then keys, checkpoints, and forks; empty when
    /// the log is intact.
    pub problems: Vec<String>,
}

impl AuditReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The Merkle roots of every prefix of a growing list of leaves, in O(log n) each: the
/// perfect subtrees the leaves so far decompose into, largest first (RFC 9162's tree of
/// `n` leaves is those subtrees joined right to left).
#[derive(Debug, Default)]
struct CompactRange {
    subtrees: Vec<(u64, Hash)>,
}

impl CompactRange {
    fn push(&mut self, leaf: Hash) {
        let mut node = (1u64, leaf);
        while let Some(&(size, left)) = self.subtrees.last() {
            if size != node.0 {
                break;
            }
            self.subtrees.pop();
            node = (size * 2, merkle::node_hash(&left, &node.1));
        }
        self.subtrees.push(node);
    }

    fn root(&self) -> Hash {
        let mut nodes = self.subtrees.iter().rev();
        let Some(&(_, mut root)) = nodes.next() else {
            return merkle::empty_root();
        };
        for (_, left) in nodes {
            root = merkle::node_hash(left, &root);
        }
        root
    }
}

/// A checkpoint row as stored, texts unparsed, so a corrupt row is judged, not fatal.
struct StoredCheckpoint {
    tree_size: i64,
    root_hash: String,
    signed_at: String,
    key_id: String,
    signature: String,
}

impl StoredCheckpoint {
    fn message(&self) -> String {
        checkpoint_message(
            self.tree_size.max(0) as u64,
            &self.root_hash,
            &self.signed_at,
            &self.key_id,
        )
    }
}

/// A checkpoint as an `audit_checkpoint` entry records it.
struct CheckpointNote {
    seq: i64,
    tree_size: Option<i64>,
    signature: Option<String>,
}

/// One pass over the audit log.
struct LogScan {
    entries: u64,
    head_hash: String,
    first_bad: Option<AuditProblem>,
    chain_problems: Vec<String>,
    /// Leaf hashes in row order (leaf `i` is the `i`-th row read).
    leaves: Vec<Hash>,
    /// Merkle root of the first `n` leaves, for every `n` in `sizes_wanted`.
    roots: std::collections::HashMap<u64, Hash>,
    notes: Vec<CheckpointNote>,
}

/// Reads every entry in seq order, checks the chain (every problem, not just the first)
/// and computes the roots at `sizes_wanted`, in one pass: O(entries + sizes × log entries).
fn scan_log(conn: &Connection, sizes_wanted: &[u64]) -> Result<LogScan> {
    let sizes_wanted: std::collections::HashSet<u64> = sizes_wanted.iter().copied().collect();
    let mut scan = LogScan {
        entries: 0,
        head_hash: HashChain::GENESIS.to_string(),
        first_bad: None,
        chain_problems: Vec::new(),
        leaves: Vec::new(),
        roots: Default::default(),
        notes: Vec::new(),
    };
    let mut unlisted = 0usize;
    let mut range = CompactRange::default();
    if sizes_wanted.contains(&0) {
        scan.roots.insert(0, range.root());
    }
    let mut expected_seq = 1i64;
    crate::audit::for_each_stored_row(conn, |row| {
        scan.entries += 1;
        let seq = row.seq;
        let problem = check_entry(
            expected_seq,
            &scan.head_hash,
            seq,
            row.content(),
            &row.prev_hash,
            &row.hash,
        )
        .map(|mut problem| {
            if let Some(home) = moved_from(seq, &row.prev_hash, row.content(), &row.hash) {
                problem.reason = format!(
                    "entry {seq}: holds the content of entry {home} (entries out of order)"
                );
            }
            problem
        });
        if let Some(problem) = problem {
            if scan.chain_problems.len() < MAX_LISTED_PROBLEMS {
                scan.chain_problems.push(problem.reason.clone());
            } else {
                unlisted += 1;
            }
            scan.first_bad.get_or_insert(problem);
        }
        if row.kind == AUDIT_CHECKPOINT_KIND {
            let note: Option<serde_json::Value> = serde_json::from_str(&row.payload).ok();
            scan.notes.push(CheckpointNote {
                seq,
                tree_size: note
                    .as_ref()
                    .and_then(|note| note.get("tree_size")?.as_i64()),
                signature: note
                    .as_ref()
                    .and_then(|note| Some(note.get("signature")?.as_str()?.to_string())),
            });
        }
        let leaf = match decode_hash(&row.hash) {
            Some(bytes) => merkle::leaf_hash(&bytes),
            None => {
                scan.chain_problems
                    .push(format!("entry {seq}: stored hash is not 64 hex digits"));
                // Still a leaf, so later sizes line up; no real hash leaf-hashes to this.
                merkle::leaf_hash(row.hash.as_bytes())
            }
        };
        scan.leaves.push(leaf);
        range.push(leaf);
        let size = scan.leaves.len() as u64;
        if sizes_wanted.contains(&size) {
            scan.roots.insert(size, range.root());
        }
        expected_seq = seq + 1;
        scan.head_hash = row.hash;
        Ok(())
    })?;
    if unlisted > 0 {
        scan.chain_problems
            .push(format!("… and {unlisted} more broken entries"));
    }
    Ok(scan)
}

/// How far from its place a moved entry is recognised as moved (rather than altered).
const MOVED_WINDOW: i64 = 64;

/// The seq an entry's content was hashed for, when it is intact but sits at another
/// seq: the hash covers the seq, so an entry moved (rows swapped, seqs renumbered)
/// hashes right only under its original one.
fn moved_from(
    seq: i64,
    stored_prev: &str,
    [at, kind, actor, payload]: [&str; 4],
    stored_hash: &str,
) -> Option<i64> {
    (seq.saturating_sub(MOVED_WINDOW).max(1)..=seq.saturating_add(MOVED_WINDOW))
        .filter(|&candidate| candidate != seq)
        .find(|&candidate| {
            HashChain::entry_hash(stored_prev, candidate, at, kind, actor, payload) == stored_hash
        })
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

fn read_stored_checkpoints(conn: &Connection) -> Result<Vec<StoredCheckpoint>> {
    let mut statement = conn.prepare(
        "SELECT tree_size, root_hash, signed_at, key_id, signature FROM audit_checkpoints
         ORDER BY tree_size",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(StoredCheckpoint {
            tree_size: row.get(0)?,
            root_hash: row.get(1)?,
            signed_at: row.get(2)?,
            key_id: row.get(3)?,
            signature: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn checkpoint_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Checkpoint> {
    Ok(Checkpoint {
        tree_size: row.get::<_, i64>(0)?.max(0) as u64,
        root_hash: row.get(1)?,
        signed_at: time_col(row, 2)?,
        key_id: row.get(3)?,
        signature: row.get(4)?,
    })
}

const CHECKPOINT_COLUMNS: &str = "tree_size, root_hash, signed_at, key_id, signature";

fn latest_checkpoint_in(conn: &Connection) -> Result<Option<Checkpoint>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints
                 ORDER BY tree_size DESC LIMIT 1"
            ),
            [],
            checkpoint_from_row,
        )
        .optional()?)
}

fn checkpoint_at(conn: &Connection, tree_size: u64) -> Result<Option<Checkpoint>> {
    Ok(conn
        .query_row(
            &format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tree_size = ?1"),
            [tree_size as i64],
            checkpoint_from_row,
        )
        .optional()?)
}

fn log_size(conn: &Connection) -> Result<u64> {
    let size: i64 = conn.query_row("SELECT count(*) FROM audit_log", [], |row| row.get(0))?;
    Ok(size as u64)
}

/// The leaf hashes of the whole log, in seq order, without judging the chain.
fn read_leaves(conn: &Connection) -> Result<Vec<Hash>> {
    let mut statement = conn.prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq")?;
    let mut rows = statement.query([])?;
    let mut leaves = Vec::new();
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let hash: String = row.get(1)?;
        let bytes = decode_hash(&hash).ok_or_else(|| {
            StoreError::Invalid(format!(
                "audit entry {seq}: stored hash is not 64 hex digits (run `vigil audit verify`)"
            ))
        })?;
        leaves.push(merkle::leaf_hash(&bytes));
    }
    Ok(leaves)
}

fn proof_hex(proof: &[Hash]) -> Vec<String> {
    proof.iter().map(hex::encode).collect()
}

// ---------------------------------------------------------------------------------
// The signing key.

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SIGNING_KEY_FILE)
}

/// Reads the signing key; `Ok(None)` only when the file does not exist.
fn read_signing_key(data_dir: &Path) -> Result<Option<SigningKey>> {
    let path = key_path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(key_error(&path, &format!("cannot read it: {error}"))),
    };
    if let Ok(metadata) = std::fs::metadata(&path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", metadata.permissions().mode() & 0o777),
            "audit signing key is readable by others; chmod 600 it"
        );
    }
    let mut decoded = hex::decode(text.trim()).unwrap_or_default();
    let mut text_bytes = text.into_bytes();
    let seed: Option<[u8; 32]> = decoded.as_slice().try_into().ok();
    // Best effort: do not leave copies of the seed in freed memory.
    decoded.fill(0);
    text_bytes.fill(0);
    std::hint::black_box((&decoded, &text_bytes));
    let Some(mut seed) = seed else {
        return Err(key_error(
            &path,
            "corrupt (expected 64 hex digits: an ed25519 seed)",
        ));
    };
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    std::hint::black_box(&seed);
    Ok(Some(key))
}

fn key_error(path: &Path, problem: &str) -> StoreError {
    StoreError::Invalid(format!(
        "audit signing key {}: {problem}; vigil will not make a new key in its place \
         (restore the file from a backup; a new key would not verify the existing checkpoints)",
        path.display()
    ))
}

/// Reads the signing key, creating it when the file does not exist: written to a
/// temporary file (mode 0600) and linked into place, so a reader never sees half a key
/// and two processes creating it at once end up with the same one.
fn load_or_create_signing_key(data_dir: &Path) -> Result<SigningKey> {
    if let Some(key) = read_signing_key(data_dir)? {
        return Ok(key);
    }
    let path = key_path(data_dir);
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let mut text = hex::encode(seed);
    seed.fill(0);
    text.push('\n');
    let mut suffix = [0u8; 8];
    rand::rng().fill_bytes(&mut suffix);
    let temp = data_dir.join(format!("{SIGNING_KEY_FILE}.tmp-{}", hex::encode(suffix)));
    let written = (|| -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        // A hard link, unlike a rename, never replaces a key another process made.
        match std::fs::hard_link(&temp, &path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(()),
            Err(error) => Err(error),
        }
    })();
    let mut text_bytes = text.into_bytes();
    text_bytes.fill(0);
    std::hint::black_box(&text_bytes);
    let removed = std::fs::remove_file(&temp);
    if let Err(error) = written {
        return Err(key_error(&path, &format!("cannot create it: {error}")));
    }
    if let Err(error) = removed
        && error.kind() != ErrorKind::NotFound
    {
        tracing::warn!(path = %temp.display(), %error, "cannot remove temporary key file");
    }
    if let Ok(dir) = std::fs::File::open(data_dir) {
        // Make the new name durable; failure only risks losing a key nothing used yet.
        let _ = dir.sync_all();
    }
    // Whoever won the race, use the key now on disk.
    let on_disk = read_signing_key(data_dir)?
        .ok_or_else(|| key_error(&path, "vanished right after it was created"))?;
    if on_disk.verifying_key() == key.verifying_key() {
        tracing::info!(
            path = %path.display(),
            key_id = %AuditPublicKey(key.verifying_key()).key_id(),
            "created the audit signing key"
        );
    }
    Ok(on_disk)
}

// ---------------------------------------------------------------------------------

impl Store {
    fn data_dir(&self) -> &Path {
        self.path.parent().unwrap_or_else(|| Path::new("."))
    }

    /// The public key checkpoints are signed with, creating the key pair on first use.
    pub fn audit_public_key(&self) -> Result<AuditPublicKey> {
        Ok(AuditPublicKey(
            load_or_create_signing_key(self.data_dir())?.verifying_key(),
        ))
    }

    /// Signs the current tree head (entries `1..=N`), stores it and records it as entry
    /// `N + 1`. Refuses (`Conflict`) when the chain is broken or the log no longer
    /// extends an earlier checkpoint.
    pub fn audit_checkpoint(&self, now: DateTime<Utc>) -> Result<Checkpoint> {
        let checkpoint = self.checkpoint_unless(now, |_, _| false)?;
        Ok(checkpoint.expect("signed unconditionally"))
    }

    /// Like [`Store::audit_checkpoint`], but only when the newest checkpoint is at least
    /// `every` old and entries other than its own record were appended since (or there
    /// is none yet and the log is not empty). Meant to be called on a timer.
    pub fn audit_checkpoint_if_due(
        &self,
        now: DateTime<Utc>,
        every: Duration,
    ) -> Result<Option<Checkpoint>> {
        let every = chrono::TimeDelta::from_std(every).unwrap_or(chrono::TimeDelta::MAX);
        self.checkpoint_unless(now, |latest, size| match latest {
            None => size == 0,
            Some(latest) => {
                now.signed_duration_since(latest.signed_at) < every || size <= latest.tree_size + 1
            }
        })
    }

    fn checkpoint_unless(
        &self,
        now: DateTime<Utc>,
        not_due: impl FnOnce(Option<&Checkpoint>, u64) -> bool,
    ) -> Result<Option<Checkpoint>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let latest = latest_checkpoint_in(&tx)?;
        if not_due(latest.as_ref(), log_size(&tx)?) {
            return Ok(None);
        }
        let key = load_or_create_signing_key(self.data_dir())?;
        let public_key = AuditPublicKey(key.verifying_key());
        let stored = read_stored_checkpoints(&tx)?;
        let sizes: Vec<u64> = stored.iter().map(|c| c.tree_size.max(0) as u64).collect();
        let scan = scan_log(&tx, &sizes)?;
        if let Some(problem) = scan.chain_problems.first() {
            return Err(StoreError::Conflict(format!(
                "refusing to sign an audit checkpoint over a broken log: {problem} \
                 (run `vigil audit verify`)"
            )));
        }
        for (checkpoint, size) in stored.iter().zip(&sizes) {
            let matches = scan
                .roots
                .get(size)
                .is_some_and(|root| hex::encode(root) == checkpoint.root_hash);
            if !matches {
                return Err(StoreError::Conflict(format!(
                    "refusing to sign an audit checkpoint: the log no longer extends the \
                     checkpoint of {} entries (run `vigil audit verify`)",
                    checkpoint.tree_size
                )));
            }
        }
        let tree_size = scan.leaves.len() as u64;
        let root_hash = hex::encode(merkle::root(&scan.leaves));
        let signed_at = format_time(now);
        let key_id = public_key.key_id();
        let message = checkpoint_message(tree_size, &root_hash, &signed_at, &key_id);
        let signature = hex::encode(key.sign(message.as_bytes()).to_bytes());
        tx.execute(
            "INSERT INTO audit_checkpoints (tree_size, root_hash, signed_at, key_id, signature)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![tree_size as i64, root_hash, signed_at, key_id, signature],
        )?;
        let checkpoint = Checkpoint {
            tree_size,
            root_hash,
            signed_at: parse_time(&signed_at)
                .map_err(|error| StoreError::Invalid(error.to_string()))?,
            key_id,
            signature,
        };
        append_in(
            &tx,
            now,
            AUDIT_CHECKPOINT_KIND,
            AUDIT_CHECKPOINT_ACTOR,
            &serde_json::json!({
                "tree_size": checkpoint.tree_size,
                "root_hash": checkpoint.root_hash,
                "key_id": checkpoint.key_id,
                "signature": checkpoint.signature,
            }),
        )?;
        tx.commit()?;
        tracing::info!(
            tree_size,
            key_id = %checkpoint.key_id,
            "signed an audit checkpoint"
        );
        Ok(Some(checkpoint))
    }

    /// The newest checkpoint (largest tree size), if any.
    pub fn latest_checkpoint(&self) -> Result<Option<Checkpoint>> {
        latest_checkpoint_in(&self.conn())
    }

    /// Every checkpoint, by tree size.
    pub fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY tree_size"
        ))?;
        let rows = statement.query_map([], checkpoint_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Entry `seq`, its inclusion proof in the tree of `tree_size` entries (default: the
    /// latest checkpoint covering it, else the whole log) and the checkpoint at that
    /// size if there is one.
    pub fn audit_inclusion_proof(
        &self,
        seq: i64,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let entry = tx
            .query_row(
                "SELECT seq, at, kind, actor, payload, prev_hash, hash FROM audit_log
                 WHERE seq = ?1",
                [seq],
                crate::audit::entry_from_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("audit entry {seq}")))?;
        let leaves = read_leaves(&tx)?;
        let index = (seq - 1) as usize;
        let entry_leaf = decode_hash(&entry.hash).map(|bytes| merkle::leaf_hash(&bytes));
        if leaves.get(index).copied() != entry_leaf || entry_leaf.is_none() {
            return Err(StoreError::Invalid(format!(
                "audit entry {seq} is not leaf {index}: the log has a gap or a bad hash \
                 (run `vigil audit verify`)"
            )));
        }
        let tree_size = match tree_size {
            Some(size) => size,
            None => latest_checkpoint_in(&tx)?
                .map(|c| c.tree_size)
                .filter(|&size| size >= seq as u64)
                .unwrap_or(leaves.len() as u64),
        };
        if tree_size < seq as u64 || tree_size > leaves.len() as u64 {
            return Err(StoreError::Invalid(format!(
                "tree size {tree_size}: must cover entry {seq} and be at most the log's {} entries",
                leaves.len()
            )));
        }
        let tree = &leaves[..tree_size as usize];
        let proof = merkle::inclusion_proof(tree, index).expect("index within the tree");
        let checkpoint = checkpoint_at(&tx, tree_size)?;
        tx.commit()?;
        Ok(InclusionProof {
            leaf_index: index as u64,
            leaf_hash: hex::encode(leaves[index]),
            tree_size,
            root_hash: hex::encode(merkle::root(tree)),
            proof: proof_hex(&proof),
            checkpoint,
            entry,
        })
    }

    /// The proof that the first `old_size` entries are a prefix of the first `new_size`
    /// (default: the latest checkpoint's size, else the whole log), with the checkpoints
    /// at both sizes when there are some.
    pub fn audit_consistency_proof(
        &self,
        old_size: u64,
        new_size: Option<u64>,
    ) -> Result<ConsistencyProof> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let leaves = read_leaves(&tx)?;
        let new_size = match new_size {
            Some(size) => size,
            None => latest_checkpoint_in(&tx)?
                .map(|c| c.tree_size)
                .unwrap_or(leaves.len() as u64),
        };
        if old_size > new_size || new_size > leaves.len() as u64 {
            return Err(StoreError::Invalid(format!(
                "sizes {old_size} → {new_size}: need old ≤ new ≤ the log's {} entries",
                leaves.len()
            )));
        }
        let tree = &leaves[..new_size as usize];
        let proof =
            merkle::consistency_proof(tree, old_size as usize).expect("old size within tree");
        let old_checkpoint = checkpoint_at(&tx, old_size)?;
        let new_checkpoint = checkpoint_at(&tx, new_size)?;
        tx.commit()?;
        Ok(ConsistencyProof {
            old_size,
            new_size,
            old_root: hex::encode(merkle::root(&tree[..old_size as usize])),
            new_root: hex::encode(merkle::root(tree)),
            proof: proof_hex(&proof),
            old_checkpoint,
            new_checkpoint,
        })
    }

    /// Everything an auditor checks, every problem named: the hash chain (all broken
    /// entries, moved ones told apart), then each checkpoint's key and signature (against
    /// `trusted_key` if given, so the key file need not be trusted, else the data dir's
    /// key), that its root matches the entries at its size (truncation and rewrites),
    /// that consecutive checkpoints extend one another (forks), and that every
    /// checkpoint the log records is still stored.
    pub fn verify_audit_full(&self, trusted_key: Option<&AuditPublicKey>) -> Result<AuditReport> {
        let mut problems = Vec::new();
        let file_key = match read_signing_key(self.data_dir()) {
            Ok(key) => key.map(|key| AuditPublicKey(key.verifying_key())),
            Err(error) => {
                problems.push(error.to_string());
                None
            }
        };
        if let (Some(trusted), Some(file_key)) = (trusted_key, &file_key)
            && trusted != file_key
        {
            problems.push(format!(
                "the signing key in the data dir (key id {}) is not the trusted key (key id {})",
                file_key.key_id(),
                trusted.key_id()
            ));
        }
        let key = trusted_key.copied().or(file_key);

        let mut conn = self.conn();
        // One read transaction: a consistent snapshot while appends continue elsewhere.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let stored = read_stored_checkpoints(&tx)?;
        let sizes: Vec<u64> = stored.iter().map(|c| c.tree_size.max(0) as u64).collect();
        let scan = scan_log(&tx, &sizes)?;
        let latest_checkpoint = latest_checkpoint_in(&tx).unwrap_or(None);
        tx.commit()?;
        drop(conn);
        problems.splice(0..0, scan.chain_problems.iter().cloned());

        if key.is_none() && !stored.is_empty() {
            problems.push(format!(
                "no signing key in {} and none given: {} checkpoint signatures cannot be checked",
                self.data_dir().display(),
                stored.len()
            ));
        }
        let log_entries = scan.leaves.len() as u64;
        // Whether each checkpoint's root matches the entries (None: it covers more than
        // the log holds).
        let mut root_ok: Vec<Option<bool>> = Vec::with_capacity(stored.len());
        for (index, checkpoint) in stored.iter().enumerate() {
            let name = format!("checkpoint {} (size {})", index + 1, checkpoint.tree_size);
            if checkpoint.tree_size < 0 {
                problems.push(format!("{name}: negative tree size"));
                root_ok.push(Some(false));
                continue;
            }
            if parse_time(&checkpoint.signed_at).is_err() {
                problems.push(format!(
                    "{name}: signed_at {:?} is not a time",
                    checkpoint.signed_at
                ));
            }
            if let Some(key) = &key {
                if checkpoint.key_id != key.key_id() {
                    problems.push(format!(
                        "{name}: signed by key {}, not the trusted key {}",
                        checkpoint.key_id,
                        key.key_id()
                    ));
                }
                if !key.verifies(&checkpoint.message(), &checkpoint.signature) {
                    problems.push(format!("{name}: signature invalid"));
                }
            }
            let size = checkpoint.tree_size as u64;
            match scan.roots.get(&size) {
                None => {
                    problems.push(format!(
                        "log truncated: checkpoint of {} covers {size} entries, the log has {log_entries}",
                        checkpoint.signed_at
                    ));
                    root_ok.push(None);
                }
                Some(root) => {
                    let matches = hex::encode(root) == checkpoint.root_hash;
                    if !matches {
                        problems.push(format!(
                            "{name}: root does not match the entries (log rewritten after it was signed)"
                        ));
                    }
                    root_ok.push(Some(matches));
                }
            }
            if index > 0 && stored[index - 1].signed_at > checkpoint.signed_at {
                problems.push(format!(
                    "{name}: signed before the smaller checkpoint {} (size {})",
                    index,
                    stored[index - 1].tree_size
                ));
            }
        }
        // Two checkpoints whose roots both match the entries are prefixes of one list;
        // otherwise ask for a proof from the stored entries.
        for (index, pair) in stored.windows(2).enumerate() {
            let (old, new) = (&pair[0], &pair[1]);
            let consistent = match (root_ok[index], root_ok[index + 1]) {
                (Some(true), Some(true)) => true,
                (Some(_), Some(_)) if old.tree_size >= 0 && new.tree_size >= 0 => {
                    let proof = merkle::consistency_proof(
                        &scan.leaves[..new.tree_size as usize],
                        old.tree_size as usize,
                    )
                    .unwrap_or_default();
                    match (decode_hash(&old.root_hash), decode_hash(&new.root_hash)) {
                        (Some(old_root), Some(new_root)) => merkle::verify_consistency(
                            old.tree_size as u64,
                            new.tree_size as u64,
                            &old_root,
                            &new_root,
                            &proof,
                        ),
                        _ => false,
                    }
                }
                // Truncated: already named, and there are no entries to prove from.
                _ => true,
            };
            if !consistent {
                problems.push(format!(
                    "checkpoint at size {} is not a prefix of the one at size {} (fork)",
                    old.tree_size, new.tree_size
                ));
            }
        }
        // Every checkpoint the log records must still be stored, unchanged.
        let by_size: std::collections::HashMap<i64, &StoredCheckpoint> =
            stored.iter().map(|c| (c.tree_size, c)).collect();
        for note in &scan.notes {
            let Some(size) = note.tree_size else {
                problems.push(format!(
                    "entry {}: audit_checkpoint entry without a tree size",
                    note.seq
                ));
                continue;
            };
            match by_size.get(&size) {
                None => problems.push(format!(
                    "checkpoint at size {size} (recorded in entry {}) is missing from audit_checkpoints",
                    note.seq
                )),
                Some(checkpoint) if note.signature.as_deref() != Some(&checkpoint.signature) => {
                    problems.push(format!(
                        "checkpoint at size {size} differs from the one recorded in entry {} (replaced)",
                        note.seq
                    ))
                }
                Some(_) => {}
            }
        }
        for problem in &problems {
            tracing::warn!(%problem, "audit log check failed");
        }
        Ok(AuditReport {
            entries: scan.entries,
            head_hash: scan.head_hash,
            first_bad: scan.first_bad,
            checkpoints: stored.len() as u64,
            latest_checkpoint,
            trusted_key_id: key.map(|key| key.key_id()),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| merkle::leaf_hash(format!("entry {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn compact_range_root_equals_the_tree_hash_at_every_size() {
        let all = leaves(70);
        let mut range = CompactRange::default();
        assert_eq!(range.root(), merkle::root(&[]));
        for (i, leaf) in all.iter().enumerate() {
            range.push(*leaf);
            assert_eq!(range.root(), merkle::root(&all[..=i]), "{} leaves", i + 1);
        }
    }

    #[test]
    fn message_is_the_documented_text() {
        assert_eq!(
            checkpoint_message(
                3,
                "ab",
                "2026-11-24T01:00:00.000000000Z",
                "0123456789abcdef"
            ),
            "vigil-audit-checkpoint v1\n3\nab\n2026-11-24T01:00:00.000000000Z\n0123456789abcdef\n"
        );
    }

    #[test]
    fn a_key_signs_and_only_it_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let key = load_or_create_signing_key(dir.path()).unwrap();
        let public = AuditPublicKey(key.verifying_key());
        assert_eq!(public.key_id().len(), 16);
        assert_eq!(AuditPublicKey::from_hex(&public.to_hex()).unwrap(), public);
        let signature = hex::encode(key.sign(b"message").to_bytes());
        assert!(public.verifies("message", &signature));
        assert!(!public.verifies("messagf", &signature));
        assert!(!public.verifies("message", "00"));
        let other = SigningKey::from_bytes(&[7u8; 32]);
        assert!(!AuditPublicKey(other.verifying_key()).verifies("message", &signature));
        // Loading again gives the same key; the file is private.
        let again = load_or_create_signing_key(dir.path()).unwrap();
        assert_eq!(again.verifying_key(), key.verifying_key());
        let mode = std::fs::metadata(key_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(AuditPublicKey::from_hex("zz").is_err());
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(key_path(dir.path()), "not hex\n").unwrap();
        let error = load_or_create_signing_key(dir.path()).unwrap_err();
        assert!(error.to_string().contains("corrupt"), "{error}");
        assert_eq!(
            std::fs::read_to_string(key_path(dir.path())).unwrap(),
            "not hex\n"
        );
    }
}
