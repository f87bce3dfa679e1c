//! How fast `verify_file` checks a log of typical entries.
//!
//! Writes a 100,000-entry and a 1,000,000-entry log (about 700 bytes per
//! entry, like the reference's performance log: realistic field values,
//! `metadata {"source":"mcp_proxy"}`) to a temporary directory once, then
//! measures verifying each file (from the page cache) with every core.
//! Throughput is reported in entries per second.
//!
//! Run: `cargo bench -p attesta --bench verify`.

#![allow(clippy::expect_used, clippy::cast_precision_loss)] // bench setup: fail loudly

use std::io::{BufWriter, Write};
use std::path::Path;

use attesta::audit::verify::{VerifyOptions, verify_file};
use attesta::audit::{AuditRecord, GENESIS_HASH, record_line};
use attesta::{Value, ValueMap};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// A typical entry: an approved, medium-risk deployment with a confirm
/// challenge (about 700 bytes once chained).
fn typical_record(i: u64) -> AuditRecord {
    let mut metadata = ValueMap::new();
    metadata.insert("source".into(), Value::from("mcp_proxy"));
    AuditRecord {
        entry_id: format!(
            "{:032x}",
            0x5c08_4818_a900_439a_8376_ee6f_304d_c446_u128 ^ u128::from(i)
        ),
        action_name: "deploy_service".into(),
        action_description: format!(
            "deploy_service(service='billing-api-{}', version='2.{}.0')",
            i % 17,
            i % 40
        ),
        agent_id: "deploy-agent-7".into(),
        risk_score: 0.45 + (i % 50) as f64 / 1000.0,
        risk_level: "medium".into(),
        challenge_type: "confirm".into(),
        challenge_passed: Some(true),
        approver_ids: vec!["alice@company.com".into()],
        verdict: "approved".into(),
        review_duration_seconds: 12.5 + (i % 7) as f64 * 0.125,
        min_review_met: true,
        intercepted_at: "2025-01-15T14:30:00.123456".into(),
        decided_at: "2025-01-15T14:30:12.500000".into(),
        executed_at: "2025-01-15T14:30:12.512345".into(),
        session_id: "sess-8f14e45f".into(),
        environment: "production".into(),
        metadata,
    }
}

fn write_log(path: &Path, entries: u64) -> u64 {
    let file = std::fs::File::create(path).expect("temp file");
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut previous = GENESIS_HASH.to_owned();
    let mut bytes = 0;
    for i in 0..entries {
        let line = record_line(&typical_record(i), &previous);
        out.write_all(line.line.as_bytes()).expect("write");
        bytes += line.line.len() as u64;
        previous = line.chain_hash;
    }
    // Let write-back finish so the runs measure verification, not the disk.
    out.into_inner().expect("flush").sync_all().expect("sync");
    bytes
}

fn verify(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("verify_file");
    group.sample_size(10);
    // `cargo bench` passes `--bench`; `cargo test` runs each benchmark once
    // as a smoke test, which needs no 779 MB log.
    let measuring = std::env::args().any(|a| a == "--bench");
    let sizes: &[u64] = if measuring {
        &[100_000, 1_000_000]
    } else {
        &[10_000]
    };
    for &entries in sizes {
        let path = dir.path().join(format!("audit-{entries}.jsonl"));
        let bytes = write_log(&path, entries);
        eprintln!(
            "{entries} entries, {bytes} bytes ({} bytes/entry)",
            bytes / entries
        );
        let options = VerifyOptions::default();
        let report = verify_file(&path, &options).expect("verifies");
        assert!(report.intact() && report.entries == entries);
        group.throughput(Throughput::Elements(entries));
        group.bench_with_input(BenchmarkId::from_parameter(entries), &path, |b, path| {
            b.iter(|| verify_file(path, &options).expect("verifies"));
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
