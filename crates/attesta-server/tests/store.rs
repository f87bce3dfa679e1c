//! The store's guarantees, against a real SQLite file (the PostgreSQL
//! backend will run the same checks through `check_store`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use attesta_server::principal::{NewPrincipal, PrincipalKind, Token};
use attesta_server::store::{
    ApprovalState, Claim, NewApproval, NewSlot, PostgresStore, SqliteStore, Store, StoreError,
};
use serde_json::json;

fn principal(id: &str, kind: PrincipalKind) -> NewPrincipal {
    NewPrincipal {
        id: id.to_owned(),
        kind,
        groups: vec!["dba".to_owned()],
    }
}

fn approval(id: &str, requester: &str, key: &str, slots: usize) -> NewApproval {
    NewApproval {
        id: id.to_owned(),
        requester: requester.to_owned(),
        idempotency_key: key.to_owned(),
        action_digest: "sha256:aa".to_owned(),
        request: json!({"action": {"function_name": "drop_table"}}),
        created_at_ms: 1_000,
        deadline_ms: 61_000,
        slots: (0..slots)
            .map(|n| NewSlot {
                challenge: ["teach_back", "quiz", "confirm"][n % 3].to_owned(),
                prompt: json!({"n": n}),
                key: json!({"secret": n}),
            })
            .collect(),
    }
}

async fn check_principals(store: &dyn Store) {
    let token = Token::generate().unwrap();
    let alice = store
        .add_principal(
            &principal("alice", PrincipalKind::Approver),
            &token.hash(),
            None,
            5,
        )
        .await
        .unwrap();
    assert_eq!(alice.kind, PrincipalKind::Approver);
    assert_eq!(alice.groups, ["dba"]);
    assert!(alice.is_active() && !alice.has_totp);
    let again = store
        .add_principal(
            &principal("alice", PrincipalKind::Admin),
            &Token::generate().unwrap().hash(),
            None,
            6,
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let found = store
        .principal_by_token(&token.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, alice);
    let forged = Token::from_presented("attesta_0000");
    assert_eq!(
        store.principal_by_token(&forged.hash()).await.unwrap(),
        None
    );
    store
        .add_principal(
            &principal("bot", PrincipalKind::Requester),
            &Token::generate().unwrap().hash(),
            Some("JBSWY3DPEHPK3PXP"),
            7,
        )
        .await
        .unwrap();
    let all = store.principals().await.unwrap();
    assert_eq!(
        all.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["alice", "bot"]
    );
    assert!(all[1].has_totp);
    let revoked = store.revoke_principal("alice", 9).await.unwrap();
    assert_eq!(revoked.revoked_at_ms, Some(9));
    let twice = store.revoke_principal("alice", 10).await.unwrap();
    assert_eq!(twice.revoked_at_ms, Some(9), "the first revocation stands");
    let by_token = store
        .principal_by_token(&token.hash())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !by_token.is_active(),
        "a revoked token is known, and inactive"
    );
    assert!(matches!(
        store.revoke_principal("nobody", 1).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn check_submissions(store: Arc<dyn Store>) {
    store
        .add_principal(
            &principal("agent", PrincipalKind::Requester),
            &Token::generate().unwrap().hash(),
            None,
            1,
        )
        .await
        .unwrap();
    let first = store
        .submit(approval("a1", "agent", "k1", 3))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.approval.state, ApprovalState::Pending);
    assert_eq!(first.approval.slots.len(), 3);
    assert_eq!(first.approval.slots[1].challenge, "quiz");
    assert_eq!(first.approval.slots[2].key, json!({"secret": 2}));
    // The same key again: the same approval, not a second one.
    let again = store
        .submit(approval("a2", "agent", "k1", 3))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.approval.id, "a1");
    assert_eq!(store.approval("a2").await.unwrap(), None);
    // Concurrent submissions under one key create one approval.
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .submit(approval(&format!("c{n}"), "agent", "same", 2))
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let submitted = task.await.unwrap();
        created += usize::from(submitted.created);
        ids.insert(submitted.approval.id);
    }
    assert_eq!((created, ids.len()), (1, 1), "{ids:?}");
    assert_eq!(store.pending_count("agent").await.unwrap(), 2);
    let pending = store.pending(10).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].id, "a1", "oldest first");
}

async fn check_claims(store: &dyn Store) {
    store
        .add_principal(
            &principal("req", PrincipalKind::Requester),
            &Token::generate().unwrap().hash(),
            None,
            1,
        )
        .await
        .unwrap();
    store.submit(approval("m", "req", "k", 2)).await.unwrap();
    let Claim::Held(first) = store.claim_slot("m", "alice", 100, 0).await.unwrap() else {
        panic!("alice gets a slot");
    };
    assert_eq!((first.index, first.claimed_at_ms), (1, Some(100)));
    // Opening again keeps the same slot and the first opening time.
    let Claim::Held(same) = store.claim_slot("m", "alice", 150, 0).await.unwrap() else {
        panic!()
    };
    assert_eq!((same.index, same.claimed_at_ms), (1, Some(100)));
    // Another approver gets another slot; a third finds every slot held.
    let Claim::Held(second) = store.claim_slot("m", "bob", 200, 0).await.unwrap() else {
        panic!()
    };
    assert_eq!(second.index, 2);
    assert_eq!(
        store.claim_slot("m", "carol", 300, 0).await.unwrap(),
        Claim::Busy
    );
    // A claim that lapsed may be taken over; the new holder's clock starts then.
    let Claim::Held(taken) = store.claim_slot("m", "carol", 400, 150).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        (
            taken.index,
            taken.claimed_by.as_deref(),
            taken.claimed_at_ms
        ),
        (1, Some("carol"), Some(400))
    );
    assert!(matches!(
        store.claim_slot("nope", "alice", 1, 0).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Approvers claiming at the same moment each get a slot of their own,
/// every time: a claim never overwrites another (the store must read the
/// slots after it holds the approval's lock, not before).
async fn check_concurrent_claims(store: Arc<dyn Store>) {
    store
        .add_principal(
            &principal("racer", PrincipalKind::Requester),
            &Token::generate().unwrap().hash(),
            None,
            1,
        )
        .await
        .unwrap();
    for round in 0..30 {
        let id = format!("race-{round}");
        store
            .submit(approval(&id, "racer", &format!("k-{round}"), 3))
            .await
            .unwrap();
        let claims: Vec<_> = ["alice", "bob", "carol"]
            .into_iter()
            .map(|who| {
                let (store, id) = (Arc::clone(&store), id.clone());
                tokio::spawn(async move { store.claim_slot(&id, who, 100, 0).await.unwrap() })
            })
            .collect();
        let mut held = Vec::new();
        for claim in claims {
            let Claim::Held(slot) = claim.await.unwrap() else {
                panic!("round {round}: an approver got no slot of three");
            };
            held.push(slot.index);
        }
        held.sort_unstable();
        assert_eq!(held, [1, 2, 3], "round {round}");
        let stored = store.approval(&id).await.unwrap().unwrap();
        let mut holders: Vec<_> = stored
            .slots
            .iter()
            .filter_map(|s| s.claimed_by.clone())
            .collect();
        holders.sort();
        assert_eq!(
            holders,
            ["alice", "bob", "carol"],
            "round {round}: a claim was lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_every_store_guarantee() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("a.db")).unwrap();
    check_principals(&store).await;
    let dir = tempfile::tempdir().unwrap();
    check_submissions(Arc::new(
        SqliteStore::open(&dir.path().join("b.db")).unwrap(),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    check_claims(&SqliteStore::open(&dir.path().join("c.db")).unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    check_concurrent_claims(Arc::new(
        SqliteStore::open(&dir.path().join("d.db")).unwrap(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_database_keeps_everything_and_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 2);
        store
            .add_principal(
                &principal("agent", PrincipalKind::Requester),
                &Token::generate().unwrap().hash(),
                None,
                1,
            )
            .await
            .unwrap();
        store
            .submit(approval("kept", "agent", "k", 2))
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let kept = store.approval("kept").await.unwrap().unwrap();
    assert_eq!(kept.slots.len(), 2);
    drop(store);
    // As if a newer attesta had migrated it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE attesta_schema SET version = 99", [])
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("schema version 99") && err.contains("newer attesta"),
        "{err}"
    );
    assert!(err.contains("server.db"), "names the file: {err}");
}

/// A fresh, empty database on the test PostgreSQL server
/// (`ATTESTA_TEST_POSTGRES`, started by `./scripts/test`); `None` (the test
/// is skipped, saying so) when there is none and none is required.
async fn fresh_postgres() -> Option<String> {
    let Ok(base) = std::env::var("ATTESTA_TEST_POSTGRES") else {
        assert!(
            std::env::var("ATTESTA_REQUIRE_POSTGRES").is_err(),
            "ATTESTA_REQUIRE_POSTGRES is set but ATTESTA_TEST_POSTGRES is not"
        );
        eprintln!("skipped: no ATTESTA_TEST_POSTGRES (./scripts/test starts one)");
        return None;
    };
    let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("the test PostgreSQL server answers");
    tokio::spawn(connection);
    let name = format!("attesta_t_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some(format!("{prefix}/{name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_store_guarantee() {
    let Some(a) = fresh_postgres().await else {
        return;
    };
    check_principals(&PostgresStore::open(&a).await.unwrap()).await;
    let b = fresh_postgres().await.unwrap();
    check_submissions(Arc::new(PostgresStore::open(&b).await.unwrap())).await;
    let c = fresh_postgres().await.unwrap();
    check_claims(&PostgresStore::open(&c).await.unwrap()).await;
    let d = fresh_postgres().await.unwrap();
    check_concurrent_claims(Arc::new(PostgresStore::open(&d).await.unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrates_once_for_two_servers_and_refuses_a_newer_schema() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    // Two servers starting at once: both see the newest version, nothing fails.
    let (a, b) = tokio::join!(PostgresStore::open(&url), PostgresStore::open(&url));
    assert_eq!(a.unwrap().schema_version().await.unwrap(), 3);
    assert_eq!(b.unwrap().schema_version().await.unwrap(), 3);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("UPDATE attesta_schema SET version = 99")
        .await
        .unwrap();
    let err = PostgresStore::open(&url).await.unwrap_err().to_string();
    assert!(
        err.contains("schema version 99") && err.contains("newer attesta"),
        "{err}"
    );
}
