//! How long the default scorer takes per action.
//!
//! * `typical`: a call with three keyword arguments and a docstring, on a
//!   scorer that has seen the function before (novelty warmed), through both
//!   `score` and `assess`. This is the per-action cost every gated call pays.
//! * `adversarial_80k`: 80,000-character arguments built to be worst cases
//!   for the reference's e-mail pattern (quadratic in Python, seconds per
//!   call); here they must cost time linear in their length.
//! * `arguments_scaling`: the same benign argument at 16 KiB, 128 KiB and
//!   1 MiB; the per-byte throughput should stay flat.
//! * `names`: `attesta::names::fold` on short names, ASCII and not. It runs
//!   whenever overrides or domain rules compare a name by its fold.
//!
//! Run: `cargo bench -p attesta --bench scoring`.

use std::hint::black_box;

use attesta::{ActionContext, DefaultRiskScorer, RiskScorer, names};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// A scorer that has already seen `ctx`'s function often enough for novelty
/// to be at its floor, as in a long-running gate.
fn warmed_scorer(ctx: &ActionContext) -> DefaultRiskScorer {
    let scorer = DefaultRiskScorer::new();
    for _ in 0..20 {
        scorer.score(ctx);
    }
    scorer
}

fn typical_context() -> ActionContext {
    ActionContext::new("update_config")
        .with_kwarg("service", "billing-api")
        .with_kwarg("retries", 3)
        .with_kwarg("dry_run", false)
        .with_doc("Update a service's configuration. Changes apply to new requests only.")
}

fn typical(c: &mut Criterion) {
    let ctx = typical_context();
    let scorer = warmed_scorer(&ctx);
    let mut group = c.benchmark_group("typical");
    group.bench_function("score/3_kwargs_and_doc", |b| {
        b.iter(|| scorer.score(black_box(&ctx)));
    });
    group.bench_function("assess/3_kwargs_and_doc", |b| {
        b.iter(|| scorer.assess(black_box(&ctx)));
    });
    group.finish();
}

fn adversarial(c: &mut Criterion) {
    const LEN: usize = 80_000;
    let cases = [
        ("a_x80000", "a".repeat(LEN)),
        (
            "a_x40000_at_a_x39999",
            format!("{}@{}", "a".repeat(40_000), "a".repeat(39_999)),
        ),
        ("a_at_x40000", "a@".repeat(LEN / 2)),
        ("a.a.a.@-_x10000", "a.a.a.@-".repeat(LEN / 8)),
        ("1._x40000", "1.".repeat(LEN / 2)),
    ];
    let mut group = c.benchmark_group("adversarial_80k");
    group.throughput(Throughput::Bytes(LEN as u64));
    for (name, text) in cases {
        let ctx = ActionContext::new("process").with_arg(text);
        let scorer = warmed_scorer(&ctx);
        group.bench_function(BenchmarkId::new("assess", name), |b| {
            b.iter(|| scorer.assess(black_box(&ctx)));
        });
    }
    group.finish();
}

fn scaling(c: &mut Criterion) {
    // Prose that triggers no pattern, so every pattern scans all of it.
    const PROSE: &str = "the quick brown fox jumps over the lazy dog and naps. ";
    let mut group = c.benchmark_group("arguments_scaling");
    for size in [16 << 10, 128 << 10, 1 << 20] {
        let text: String = PROSE.chars().cycle().take(size).collect();
        let ctx = ActionContext::new("process").with_arg(text);
        let scorer = warmed_scorer(&ctx);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(
            BenchmarkId::new("assess", format!("{}KiB", size >> 10)),
            |b| {
                b.iter(|| scorer.assess(black_box(&ctx)));
            },
        );
    }
    group.finish();
}

fn folding(c: &mut Criterion) {
    let mut group = c.benchmark_group("names");
    for (label, name) in [
        ("fold/ascii_delete_note", "delete_note"),
        ("fold/ascii_terraform_destroy", "TERRAFORM_DESTROY"),
        ("fold/cyrillic_terraform_destroy", "terraform_d\u{435}stroy"),
        ("fold/fullwidth_zwsp_danger", "\u{ff44}an\u{200b}ger"),
    ] {
        group.bench_function(label, |b| b.iter(|| names::fold(black_box(name))));
    }
    group.finish();
}

criterion_group!(benches, typical, adversarial, scaling, folding);
criterion_main!(benches);
