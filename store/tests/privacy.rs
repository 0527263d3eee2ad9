//! Privacy before storage, on a real SQLite file: redaction, pseudonyms, the key file
//! and its rotation, and that the raw values reach no byte of the data dir.

mod common;

use std::path::Path;

use common::{at, post};
use vigil_core::Post;
use vigil_store::{AuditEntry, PSEUDONYM_KEY_FILE, Store};

const EMAIL: &str = "zhang.wei@example.com";
const MOBILE: &str = "13812345678";
const ID_NUMBER: &str = "11010519491231002X";
const AUTHOR: &str = "@Zhang_Wei";

/// A Weibo-style complaint carrying an address, a mobile and an ID number.
fn personal_post(external_id: &str, author: &str) -> Post {
    let mut post = post("weibo", external_id, &["acme"], at(10, 0, 0));
    post.author = Some(author.to_string());
    post.title = Some(format!("艾克米退款 联系{MOBILE}"));
    post.text = format!(
        "艾克米客服太差了，退款三周没到账。我的电话{MOBILE}请联系，邮箱{EMAIL}，\
         身份证号{ID_NUMBER}都给了。价格¥1299，订单2024-05-01。"
    );
    post
}

fn audit_of_kind(store: &Store, kind: &str) -> Vec<AuditEntry> {
    let mut entries = Vec::new();
    store
        .audit_entries(None, None, |entry| {
            if entry.kind == kind {
                entries.push(entry.clone());
            }
            Ok(())
        })
        .unwrap();
    entries
}

/// Every file in the data dir, after the WAL is folded into the database.
fn data_dir_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let raw = rusqlite::Connection::open(dir.join(vigil_store::DB_FILE_NAME)).unwrap();
    raw.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(raw);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.push((name, std::fs::read(&path).unwrap()));
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn key_hex(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn personal_data_is_masked_and_never_reaches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.set_privacy(true, true).unwrap();
    let original = personal_post("p1", AUTHOR);

    let report = store
        .ingest(std::slice::from_ref(&original), None, "crawler")
        .unwrap();
    assert_eq!(report.stored.len(), 1);

    let stored = store.get_post(&original.id).unwrap().unwrap().post;
    assert_eq!(
        report.stored[0].post, stored,
        "the report carries what was stored"
    );
    assert_eq!(
        stored.text,
        "艾克米客服太差了，退款三周没到账。我的电话[phone]请联系，邮箱[email]，\
         身份证号[id]都给了。价格¥1299，订单2024-05-01。"
    );
    assert_eq!(stored.title.as_deref(), Some("艾克米退款 联系[phone]"));
    let author = stored.author.clone().unwrap();
    assert!(
        author.starts_with("anon-") && author.len() == 21,
        "{author}"
    );
    // What the fetch was, and what dedups it, is unchanged.
    assert_eq!(stored.provenance, original.provenance);
    assert_eq!(stored.id, original.id);
    assert_eq!(stored.url, original.url);
    assert_eq!(stored.canonical_url, original.canonical_url);

    // The ingest audit entry counts what was masked.
    let ingests = audit_of_kind(&store, "ingest");
    assert_eq!(ingests.len(), 1);
    let payload: serde_json::Value = serde_json::from_str(&ingests[0].payload).unwrap();
    let privacy = &payload["privacy"];
    assert_eq!(privacy["redacted"]["emails"], 1);
    assert_eq!(privacy["redacted"]["phones"], 2, "text and title");
    assert_eq!(privacy["redacted"]["id_numbers"], 1);
    assert_eq!(privacy["authors_pseudonymized"], 1);
    assert_eq!(privacy["pseudonym_key_id"].as_str().unwrap().len(), 16);
    assert_eq!(audit_of_kind(&store, "pseudonym_key_created").len(), 1);

    // Re-fetching the same item is still a duplicate.
    let again = store
        .ingest(std::slice::from_ref(&original), None, "crawler")
        .unwrap();
    assert_eq!((again.stored.len(), again.duplicates), (0, 1));
    drop(store);

    let files = data_dir_bytes(dir.path());
    assert!(files.iter().any(|(name, _)| name == "vigil.db"));
    assert!(files.iter().any(|(name, _)| name == PSEUDONYM_KEY_FILE));
    for (name, bytes) in &files {
        for raw in [
            EMAIL,
            MOBILE,
            ID_NUMBER,
            "Zhang_Wei",
            "zhang_wei",
            "zhang.wei",
        ] {
            assert!(!contains(bytes, raw), "{raw:?} found in {name}");
        }
    }
    // The check can fail: the masked text's neighbours are in the file.
    let db = &files.iter().find(|(name, _)| name == "vigil.db").unwrap().1;
    assert!(contains(db, "请联系，邮箱[email]"));
}

#[test]
fn privacy_off_stores_posts_verbatim_and_makes_no_key() {
    for explicit in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        if explicit {
            store.set_privacy(false, false).unwrap();
        }
        let original = personal_post("p1", AUTHOR);
        store
            .ingest(std::slice::from_ref(&original), None, "import")
            .unwrap();
        assert_eq!(
            store.get_post(&original.id).unwrap().unwrap().post,
            original
        );
        let payload = &audit_of_kind(&store, "ingest")[0].payload;
        assert!(!payload.contains("privacy"), "{payload}");
        assert!(!dir.path().join(PSEUDONYM_KEY_FILE).exists());
    }
}

#[test]
fn redaction_alone_keeps_handles_and_needs_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.set_privacy(true, false).unwrap();
    let handle = personal_post("p1", AUTHOR);
    let address = personal_post("p2", "li.na@example.com");
    store
        .ingest_owned(vec![handle.clone(), address.clone()], None, "import")
        .unwrap();
    let stored_handle = store.get_post(&handle.id).unwrap().unwrap().post;
    assert_eq!(stored_handle.author.as_deref(), Some(AUTHOR));
    assert!(stored_handle.text.contains("[phone]"));
    let stored_address = store.get_post(&address.id).unwrap().unwrap().post;
    assert_eq!(stored_address.author.as_deref(), Some("[email]"));
    assert!(!dir.path().join(PSEUDONYM_KEY_FILE).exists());
    let payload: serde_json::Value =
        serde_json::from_str(&audit_of_kind(&store, "ingest")[0].payload).unwrap();
    assert_eq!(
        payload["privacy"]["redacted"]["emails"], 3,
        "two texts, one author"
    );
    assert!(payload["privacy"].get("authors_pseudonymized").is_none());
}

#[test]
fn same_author_same_pseudonym_across_ingests_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.set_privacy(true, true).unwrap();
    let first = store
        .ingest(&[personal_post("p1", "@Zhang_Wei")], None, "crawler")
        .unwrap();
    let second = store
        .ingest(&[personal_post("p2", " zhang_wei ")], None, "crawler")
        .unwrap();
    let other = store
        .ingest(&[personal_post("p3", "@Li_Na")], None, "crawler")
        .unwrap();
    let pseudonym = first.stored[0].post.author.clone().unwrap();
    assert_eq!(second.stored[0].post.author.as_ref(), Some(&pseudonym));
    assert_ne!(other.stored[0].post.author.as_ref(), Some(&pseudonym));
    drop(store);

    let key = key_hex(dir.path(), PSEUDONYM_KEY_FILE);
    assert_eq!(key.len(), 64);
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(PSEUDONYM_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let reopened = Store::open(dir.path()).unwrap();
    reopened.set_privacy(true, true).unwrap();
    let later = reopened
        .ingest(&[personal_post("p4", "ZHANG_WEI")], None, "crawler")
        .unwrap();
    assert_eq!(later.stored[0].post.author.as_ref(), Some(&pseudonym));
    assert_eq!(key_hex(dir.path(), PSEUDONYM_KEY_FILE), key, "key kept");
    assert_eq!(audit_of_kind(&reopened, "pseudonym_key_created").len(), 1);
}

#[test]
fn rotation_gives_new_pseudonyms_keeps_old_ones_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // A second process (the daemon) using the same data dir.
    let daemon = Store::open(dir.path()).unwrap();
    store.set_privacy(true, true).unwrap();
    daemon.set_privacy(true, true).unwrap();
    let before = store
        .ingest(&[personal_post("p1", AUTHOR)], None, "crawler")
        .unwrap();
    let old_pseudonym = before.stored[0].post.author.clone().unwrap();
    let old_key = key_hex(dir.path(), PSEUDONYM_KEY_FILE);
    assert_eq!(
        store.pseudonyms_of(AUTHOR).unwrap(),
        vec![old_pseudonym.clone()]
    );

    let rotation = store.rotate_pseudonym_key("admin").unwrap();

    let archived = rotation.archived.clone().unwrap();
    let archived_name = archived.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        archived_name.starts_with(&format!("{PSEUDONYM_KEY_FILE}."))
            && archived_name[PSEUDONYM_KEY_FILE.len() + 1..]
                .chars()
                .all(|c| c.is_ascii_digit()),
        "{archived_name}"
    );
    assert_eq!(key_hex(dir.path(), &archived_name), old_key);
    let new_key = key_hex(dir.path(), PSEUDONYM_KEY_FILE);
    assert_ne!(new_key, old_key);
    assert_ne!(rotation.previous_key_id, Some(rotation.key_id.clone()));

    let after = store
        .ingest(&[personal_post("p2", AUTHOR)], None, "crawler")
        .unwrap();
    let new_pseudonym = after.stored[0].post.author.clone().unwrap();
    assert!(new_pseudonym.starts_with("anon-"));
    assert_ne!(new_pseudonym, old_pseudonym);
    // The other process follows the rotation at its next batch.
    let from_daemon = daemon
        .ingest(&[personal_post("p3", AUTHOR)], None, "crawler")
        .unwrap();
    assert_eq!(
        from_daemon.stored[0].post.author.as_ref(),
        Some(&new_pseudonym)
    );
    // Stored posts keep their pseudonyms, and both can be found from the handle (for
    // an erasure request), newest key first.
    let first_id = &before.stored[0].post.id;
    assert_eq!(
        store.get_post(first_id).unwrap().unwrap().post.author,
        Some(old_pseudonym.clone())
    );
    assert_eq!(
        store.pseudonyms_of("zhang_wei").unwrap(),
        vec![new_pseudonym.clone(), old_pseudonym]
    );

    let rotations = audit_of_kind(&store, "pseudonym_key_rotated");
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0].actor, "admin");
    let payload: serde_json::Value = serde_json::from_str(&rotations[0].payload).unwrap();
    assert_eq!(payload["archived_as"], archived_name.as_str());
    assert_eq!(payload["key_id"], rotation.key_id.as_str());
    assert_eq!(
        payload["previous_key_id"],
        rotation.previous_key_id.as_deref().unwrap()
    );
    assert!(!rotations[0].payload.contains(&old_key));
    assert!(!rotations[0].payload.contains(&new_key));
    // The ingest audit entries name the key each batch used.
    let key_ids: Vec<String> = audit_of_kind(&store, "ingest")
        .iter()
        .map(|entry| {
            let payload: serde_json::Value = serde_json::from_str(&entry.payload).unwrap();
            payload["privacy"]["pseudonym_key_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(key_ids.len(), 3);
    assert_eq!(Some(&key_ids[0]), rotation.previous_key_id.as_ref());
    assert_eq!(key_ids[1], rotation.key_id);
    assert_eq!(key_ids[2], rotation.key_id);
    assert!(store.verify_audit().unwrap().is_intact());
}

#[test]
fn a_corrupt_or_unreadable_key_is_an_error_naming_the_file_never_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join(PSEUDONYM_KEY_FILE);
    let store = Store::open(dir.path()).unwrap();
    store.set_privacy(true, true).unwrap();
    store
        .ingest(&[personal_post("p1", AUTHOR)], None, "crawler")
        .unwrap();

    // Damaged while running: the next ingest fails and stores nothing.
    std::fs::write(&key_path, "not a key\n").unwrap();
    let error = store
        .ingest(&[personal_post("p2", AUTHOR)], None, "crawler")
        .unwrap_err()
        .to_string();
    assert!(error.contains(&key_path.display().to_string()), "{error}");
    assert!(error.contains("corrupt"), "{error}");
    assert_eq!(store.post_count().unwrap(), 1);
    assert_eq!(std::fs::read_to_string(&key_path).unwrap(), "not a key\n");

    // Found damaged at start-up.
    std::fs::write(&key_path, "ab".repeat(31)).unwrap(); // 31 bytes, not 32
    let reopened = Store::open(dir.path()).unwrap();
    let error = reopened.set_privacy(true, true).unwrap_err().to_string();
    assert!(error.contains(&key_path.display().to_string()), "{error}");
    // Rotation does not paper over it either.
    assert!(reopened.rotate_pseudonym_key("admin").is_err());
    assert_eq!(std::fs::read_to_string(&key_path).unwrap(), "ab".repeat(31));

    // Unreadable (a directory where the file should be).
    std::fs::remove_file(&key_path).unwrap();
    std::fs::create_dir(&key_path).unwrap();
    let error = reopened.set_privacy(true, true).unwrap_err().to_string();
    assert!(error.contains(&key_path.display().to_string()), "{error}");
    assert!(error.contains("cannot be read"), "{error}");

    // Without pseudonyms the key is not needed, so it is not read.
    reopened.set_privacy(true, false).unwrap();

    // Missing after this store has had a key: an error, in a new process too.
    std::fs::remove_dir(&key_path).unwrap();
    let error = reopened.set_privacy(true, true).unwrap_err().to_string();
    assert!(error.contains(&key_path.display().to_string()), "{error}");
    assert!(error.contains("missing"), "{error}");
    assert!(!key_path.exists());
    // Starting over is a deliberate, audited rotation.
    let rotation = reopened.rotate_pseudonym_key("admin").unwrap();
    assert_eq!((rotation.archived, rotation.previous_key_id), (None, None));
    reopened.set_privacy(true, true).unwrap();
    reopened
        .ingest(&[personal_post("p3", AUTHOR)], None, "crawler")
        .unwrap();
    assert_eq!(reopened.post_count().unwrap(), 2);
}
