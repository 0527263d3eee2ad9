//! Legal holds keep what retention would purge: a brand's posts, an incident's evidence.

mod common;

use chrono::Duration;
use common::{at, post};
use vigil_core::{AlertStore, EvidencePost, Label, NewIncident, Severity, Trigger};
use vigil_store::{HoldTarget, Store, StoreError};

fn evidence_of(id: &str) -> EvidencePost {
    EvidencePost {
        id: id.into(),
        url: None,
        source: "news".into(),
        author: None,
        published_at: at(1, 0, 0),
        text: "quoted".into(),
        label: Some(Label::Negative),
        score: Some(-0.8),
        reach: None,
        lang: None,
    }
}

fn ids(store: &Store) -> Vec<String> {
    let mut ids: Vec<String> = store
        .posts_after(0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|p| p.post.external_id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn holds_keep_posts_from_retention_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // All old: a brand under hold, another brand, and that brand's post quoted as an
    // incident's evidence.
    let acme = post("news", "acme-old", &["acme"], at(1, 0, 0));
    let globex = post("news", "globex-old", &["globex"], at(1, 0, 0));
    let quoted = post("news", "globex-quoted", &["globex"], at(1, 0, 0));
    let fresh = post("news", "globex-new", &["globex"], at(20, 0, 0));
    store
        .ingest(&[acme, globex, quoted.clone(), fresh], None, "crawler")
        .unwrap();
    let incident = store
        .create_incident(NewIncident {
            rule: "recall".into(),
            brand: "globex".into(),
            severity: Severity::Crisis,
            opened_at: at(2, 0, 0),
            response_deadline: at(2, 0, 0) + Duration::hours(24),
            trigger: Trigger {
                metric: "keyword".into(),
                value: 1.0,
                threshold: 1.0,
                baseline: None,
                window_secs: 3600,
                baseline_secs: None,
                mentions: 1,
                explanation: "recall".into(),
                context: Default::default(),
            },
            evidence: vec![evidence_of(&quoted.id)],
        })
        .unwrap();

    let brand_hold = store
        .add_legal_hold(
            HoldTarget::Brand("acme".into()),
            "litigation 2026-17",
            "counsel",
        )
        .unwrap();
    let incident_hold = store
        .add_legal_hold(
            HoldTarget::Incident(incident.id),
            "regulator inquiry",
            "counsel",
        )
        .unwrap();
    assert_eq!(store.legal_holds(false).unwrap().len(), 2);

    let purged = store
        .purge_published_before(at(12, 0, 0), "retention")
        .unwrap();
    assert_eq!(purged.ids.len(), 1, "only the unheld old post");
    assert_eq!(ids(&store), ["acme-old", "globex-new", "globex-quoted"]);

    // Released holds stop protecting; the next pass purges what they kept.
    store.release_legal_hold(brand_hold.id, "counsel").unwrap();
    let released = store
        .release_legal_hold(incident_hold.id, "counsel")
        .unwrap();
    assert_eq!(released.released_by.as_deref(), Some("counsel"));
    assert!(store.legal_holds(false).unwrap().is_empty());
    assert_eq!(store.legal_holds(true).unwrap().len(), 2);
    store
        .purge_published_before(at(12, 0, 0), "retention")
        .unwrap();
    assert_eq!(ids(&store), ["globex-new"]);

    // Placing and releasing are audited and attributed.
    let mut kinds = Vec::new();
    store
        .audit_entries(None, None, |entry| {
            kinds.push((entry.kind.clone(), entry.actor.clone()));
            Ok(())
        })
        .unwrap();
    let holds: Vec<&(String, String)> = kinds
        .iter()
        .filter(|(kind, _)| kind.starts_with("legal_hold"))
        .collect();
    assert_eq!(holds.len(), 4, "{kinds:?}");
    assert!(holds.iter().all(|(_, actor)| actor == "counsel"));
    assert!(store.verify_audit().unwrap().is_intact());
}

#[test]
fn bad_holds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(matches!(
        store.add_legal_hold(HoldTarget::Incident(404), "x", "counsel"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.add_legal_hold(HoldTarget::Brand("acme".into()), " ", "counsel"),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.add_legal_hold(HoldTarget::Brand(String::new()), "x", "counsel"),
        Err(StoreError::Invalid(_))
    ));
    let hold = store
        .add_legal_hold(HoldTarget::Brand("acme".into()), "x", "counsel")
        .unwrap();
    store.release_legal_hold(hold.id, "counsel").unwrap();
    assert!(matches!(
        store.release_legal_hold(hold.id, "counsel"),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.release_legal_hold(999, "counsel"),
        Err(StoreError::NotFound(_))
    ));
}
