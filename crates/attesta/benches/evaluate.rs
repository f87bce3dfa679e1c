//! `Attesta::evaluate` on the auto-approve path: score, environment, audit
//! record into the in-memory sink, no human. Target: ≤ 2 µs median.
#![allow(clippy::expect_used)] // benchmark set-up: fail loudly

use std::hint::black_box;
use std::sync::Arc;

use attesta::audit::MemoryAuditSink;
use attesta::{ActionContext, Attesta};
use criterion::{Criterion, criterion_group, criterion_main};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// A read a support agent makes: low risk, auto-approved.
fn typical_call() -> ActionContext {
    ActionContext::new("get_user_profile")
        .with_kwarg("user_id", 4711)
        .with_kwarg("fields", "name,email")
        .with_kwarg("include_deleted", false)
        .with_doc("Fetch a user's profile for display.")
        .with_agent("support-bot")
}

/// Warms novelty so every measured call is the steady state, and checks the
/// path measured is the auto-approve one.
fn warm(runtime: &tokio::runtime::Runtime, attesta: &Attesta, ctx: &ActionContext) {
    for _ in 0..20 {
        runtime.block_on(attesta.evaluate(ctx));
    }
    assert!(runtime.block_on(attesta.evaluate(ctx)).is_approved());
}

fn evaluate_auto_approve(c: &mut Criterion) {
    let runtime = runtime();
    let attesta = Attesta::builder()
        .audit(Arc::new(MemoryAuditSink::bounded(1024)))
        .environment("ci")
        .build()
        .expect("default engine");
    let ctx = typical_call();
    warm(&runtime, &attesta, &ctx);
    // Measured inside one runtime, as an async caller uses it.
    c.bench_function("evaluate/auto_approve/memory_sink", |b| {
        b.to_async(&runtime)
            .iter(|| attesta.evaluate(black_box(&ctx)));
    });
    // The same with a fresh `block_on` per call, for synchronous callers.
    c.bench_function("evaluate/auto_approve/memory_sink/block_on_each", |b| {
        b.iter(|| runtime.block_on(attesta.evaluate(black_box(&ctx))));
    });
}

/// The same call with the devops and data-pipeline presets active: the
/// domain scorer (29 patterns, 22 terms) and the escalation rules, twice
/// (on the scorer's own and the final assessment) when they differ.
fn evaluate_with_domains(c: &mut Criterion) {
    let runtime = runtime();
    let dir = std::env::temp_dir().join(format!("attesta-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let policy = dir.join("attesta.yaml");
    std::fs::write(&policy, "domain: [devops, data-pipeline]\n").expect("policy");
    let attesta = Attesta::config_builder(&policy)
        .expect("policy loads")
        .audit(Arc::new(MemoryAuditSink::bounded(1024)))
        .environment("ci")
        .build()
        .expect("engine");
    let ctx = typical_call();
    warm(&runtime, &attesta, &ctx);
    c.bench_function("evaluate/auto_approve/domains_devops_data_pipeline", |b| {
        b.to_async(&runtime)
            .iter(|| attesta.evaluate(black_box(&ctx)));
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, evaluate_auto_approve, evaluate_with_domains);
criterion_main!(benches);
