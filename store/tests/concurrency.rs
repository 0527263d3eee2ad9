//! Two `Store`s on one file (the daemon and a CLI) appending at once must not fork the
//! audit chain.

mod common;

use std::sync::Arc;
use std::thread;

use common::{at, post};
use vigil_store::Store;

#[test]
fn two_stores_appending_from_threads_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Arc::new(Store::open(dir.path()).unwrap());
    let cli = Arc::new(Store::open(dir.path()).unwrap());
    let per_thread = 100;

    let mut handles = Vec::new();
    for (name, store) in [("daemon", daemon.clone()), ("cli", cli.clone())] {
        for worker in 0..2 {
            let store = store.clone();
            handles.push(thread::spawn(move || {
                for i in 0..per_thread {
                    store
                        .append_audit("test", name, &serde_json::json!({"worker": worker, "i": i}))
                        .unwrap();
                    if i % 10 == 0 {
                        // Interleave ingests, which append in the same chain.
                        let id = format!("{name}-{worker}-{i}");
                        store
                            .ingest(&[post(name, &id, &["acme"], at(9, 0, 0))], None, name)
                            .unwrap();
                    }
                }
            }));
        }
    }
    for handle in handles {
        handle.join().unwrap();
    }

    let expected = 4 * (per_thread + per_thread / 10) as u64;
    for store in [&daemon, &cli] {
        let verification = store.verify_audit().unwrap();
        assert_eq!(verification.first_bad, None);
        assert_eq!(verification.entries, expected);
    }
    assert_eq!(daemon.post_count().unwrap(), 40);
    // Seqs stayed unique and dense across both writers.
    let posts = cli.posts_after(0, 1000).unwrap();
    let seqs: Vec<i64> = posts.iter().map(|p| p.seq).collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
}
