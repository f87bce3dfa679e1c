//! The approval server's in-process pieces, without HTTP: what a
//! submission, a status read and a confirm answered end to end cost in the
//! service over SQLite, and what signing and checking a decision cost.
//! The whole-server load run (HTTP, wrk) is `scripts/bench-server`; both
//! sets of figures are in `docs/performance.md`.
//!
//! The trail is the JSONL file with `fsync: never` and the SQLite file
//! lives in a temporary directory, so the figures are the service's and
//! the store's own work, not the disk's flush latency.
//!
//! Run: `cargo bench -p attesta-server --bench service`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // bench setup: fail loudly

use std::sync::Arc;

use attesta::audit::{AuditSigningKey, FsyncMode, JsonlAuditLog};
use attesta::{ActionContext, Attesta, RiskAssessment, RiskScorer};
use attesta_server::principal::{NewPrincipal, Principal, PrincipalKind, Token};
use attesta_server::service::{AnswerRequest, Limits, Service, SubmitRequest};
use attesta_server::store::{SqliteStore, Store};
use attesta_server::trail::Trail;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

/// Pending approvals seeded before the status reads (the figure).
const PENDING: usize = 1_000;

struct Fixture {
    service: Service,
    requester: Principal,
    approver: Principal,
    _dir: tempfile::TempDir,
}

async fn principal(store: &dyn Store, id: &str, kind: PrincipalKind) -> Principal {
    let token = Token::generate().unwrap();
    let new = NewPrincipal {
        id: id.to_owned(),
        kind,
        groups: Vec::new(),
    };
    store
        .add_principal(&new, &token.hash(), None, now_ms())
        .await
        .unwrap()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("server.db")).unwrap());
    let requester = principal(&*store, "bench-agent", PrincipalKind::Requester).await;
    let approver = principal(&*store, "alice", PrincipalKind::Approver).await;
    let log =
        JsonlAuditLog::new(dir.path().join("server-audit.jsonl")).with_fsync(FsyncMode::Never);
    let limits = Limits {
        // Room for the seeded approvals and every iteration's own.
        max_pending_per_requester: u64::MAX,
        ..Limits::default()
    };
    let service = Service::new(
        store,
        Attesta::builder().build().unwrap(),
        limits,
        AuditSigningKey::generate().unwrap(),
        Trail::new(Arc::new(log)),
    );
    Fixture {
        service,
        requester,
        approver,
        _dir: dir,
    }
}

fn risk(ctx: &ActionContext) -> RiskAssessment {
    attesta::risk::FixedRiskScorer::new(0.45)
        .unwrap()
        .assess(ctx)
}

/// A confirm-level submission with its own idempotency key.
fn submission(key: &str) -> SubmitRequest {
    let action = ActionContext::new("restart_service")
        .with_arg("web-01")
        .with_agent("ops-agent")
        .with_environment("production");
    serde_json::from_value(json!({
        "idempotency_key": key,
        "risk": risk(&action),
        "action": action,
        "challenge": "confirm",
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fx = runtime.block_on(fixture());
    let ids: Vec<String> = runtime.block_on(async {
        let mut ids = Vec::with_capacity(PENDING);
        for i in 0..PENDING {
            let (view, _) = fx
                .service
                .submit(&fx.requester, submission(&format!("seed-{i}")), now_ms())
                .await
                .unwrap();
            ids.push(view.id);
        }
        ids
    });

    let mut group = c.benchmark_group("server");
    let mut submitted = 0_u64;
    group.bench_function("submit (sqlite)", |b| {
        b.to_async(&runtime).iter(|| {
            submitted += 1;
            let request = submission(&format!("submit-{submitted}"));
            let (service, who) = (&fx.service, &fx.requester);
            async move { service.submit(who, request, now_ms()).await.unwrap() }
        });
    });
    let mut at = 0_usize;
    group.bench_function("status of 1 of 1,000 pending (sqlite)", |b| {
        b.to_async(&runtime).iter(|| {
            at = (at + 7919) % ids.len();
            let (service, who, id) = (&fx.service, &fx.requester, ids[at].as_str());
            async move { service.status(who, id).await.unwrap() }
        });
    });
    let mut answered = 0_u64;
    group.bench_function("confirm: submit, open, answer, decide (sqlite)", |b| {
        b.to_async(&runtime).iter(|| {
            answered += 1;
            let request = submission(&format!("answer-{answered}"));
            let (service, requester, approver) = (&fx.service, &fx.requester, &fx.approver);
            async move {
                let (view, _) = service.submit(requester, request, now_ms()).await.unwrap();
                let opened = now_ms();
                service.open_slot(approver, &view.id, opened).await.unwrap();
                // Answered after the minimum review time, on the server's
                // clock as the service sees it.
                let answer = AnswerRequest {
                    answers: vec!["yes".to_owned()],
                    totp: None,
                };
                let done = service
                    .answer(approver, &view.id, answer, opened + 10_000)
                    .await
                    .unwrap();
                assert!(done.passed, "{done:?}");
            }
        });
    });

    let key = AuditSigningKey::generate().unwrap();
    let public = key.public_key();
    let content = json!({
        "approval_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "action_digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "verdict": "approved",
        "approvers": ["alice", "bob"],
        "slots": [{"index": 1, "challenge": "teach_back", "passed": true},
                  {"index": 2, "challenge": "quiz", "passed": true}],
        "decided_at_ms": 1_764_700_000_000_i64,
    });
    let signed = attesta::approval::sign(&key, content.clone());
    group.bench_function("sign a decision", |b| {
        b.iter(|| attesta::approval::sign(&key, content.clone()));
    });
    group.bench_function("verify a signed decision", |b| {
        b.iter(|| assert!(attesta::approval::verify(&public, &signed)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
