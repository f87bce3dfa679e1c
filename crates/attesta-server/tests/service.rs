//! The service's fail-closed rules with an audit trail that cannot be
//! written, against a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use async_trait::async_trait;
use attesta::audit::{AuditError, AuditRecord, AuditSigningKey, AuditSink, MemoryAuditSink};
use attesta::{ActionContext, Attesta, RiskAssessment, RiskLevel};
use attesta_server::principal::{NewPrincipal, PrincipalKind, Token};
use attesta_server::service::{Limits, Service, ServiceError, SubmitRequest};
use attesta_server::store::{ApprovalState, SqliteStore, Store};
use attesta_server::trail::Trail;

/// A sink that accepts the first `ok` records, then fails.
#[derive(Debug)]
struct FailsAfter {
    ok: std::sync::atomic::AtomicUsize,
    inner: MemoryAuditSink,
}

#[async_trait]
impl AuditSink for FailsAfter {
    async fn append(&self, record: AuditRecord) -> Result<String, AuditError> {
        let left = self.ok.load(std::sync::atomic::Ordering::SeqCst);
        if left == 0 {
            return Err(AuditError::Write("disk full".into()));
        }
        self.ok.store(left - 1, std::sync::atomic::Ordering::SeqCst);
        self.inner.append(record).await
    }
}

fn service(ok: usize) -> (Service, Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
    let sink = Arc::new(FailsAfter {
        ok: ok.into(),
        inner: MemoryAuditSink::new(),
    });
    let service = Service::new(
        Arc::clone(&store),
        Attesta::builder().build().unwrap(),
        Limits::default(),
        AuditSigningKey::from_seed(&[9u8; 32]),
        Trail::new(sink),
    );
    (service, store, dir)
}

async fn requester(store: &dyn Store) -> attesta_server::principal::Principal {
    store
        .add_principal(
            &NewPrincipal {
                id: "bot".into(),
                kind: PrincipalKind::Requester,
                groups: vec![],
            },
            &Token::generate().unwrap().hash(),
            None,
            1,
        )
        .await
        .unwrap()
}

fn request(key: &str, timeout: u64) -> SubmitRequest {
    SubmitRequest {
        idempotency_key: key.into(),
        action: ActionContext::new("drop_table").with_kwarg("table", "users"),
        risk: RiskAssessment {
            score: 0.9,
            level: RiskLevel::Critical,
            factors: vec![],
            scorer_name: "test".into(),
        },
        required_approvers: 1,
        escalation: None,
        timeout_seconds: Some(timeout),
        challenge: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_the_trail_cannot_record_is_refused_and_withdrawn() {
    let (service, store, _dir) = service(0);
    let bot = requester(&*store).await;
    let err = service
        .submit(&bot, request("k", 60), 1_000)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(
        store.pending_count("bot").await.unwrap(),
        0,
        "nothing left pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_the_trail_cannot_record_is_not_made() {
    // The submission is recorded; the decision (expiry) is not.
    let (service, store, _dir) = service(1);
    let bot = requester(&*store).await;
    let (view, _) = service.submit(&bot, request("k", 1), 1_000).await.unwrap();
    let approval = store.approval(&view.id).await.unwrap().unwrap();
    let err = service.settle(approval, 5_000).await.unwrap_err();
    assert!(err.to_string().contains("stays undecided"), "{err}");
    let still = store.approval(&view.id).await.unwrap().unwrap();
    assert_eq!(
        still.state,
        ApprovalState::Pending,
        "no decision without its record"
    );
    assert_eq!(still.decision, None);
}
