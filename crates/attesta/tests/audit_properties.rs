//! Properties of the audit log: what `record_line` writes always verifies,
//! a flipped byte never goes unnoticed unless it leaves the entry the same,
//! and an independent Python checker agrees with `verify_file`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::path::{Path, PathBuf};
use std::process::Command;

use attesta::audit::json::{JsonString, JsonValue, parse};
use attesta::audit::verify::{VerifyOptions, VerifyReport, verify_file, verify_reader};
use attesta::audit::{AuditRecord, GENESIS_HASH, record_line};
use attesta::{Value, ValueMap};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_ ]{0,12}",
        any::<String>().prop_map(|s| s.chars().take(12).collect()),
        Just("Zoë ✓ 😀 \u{7f}\u{0}\"\\/\n".to_owned()),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::Float),
        arb_text().prop_map(Value::Str),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::List),
            prop::collection::vec((arb_text(), inner), 0..3)
                .prop_map(|kv| Value::Map(kv.into_iter().collect())),
        ]
    })
}

fn arb_record() -> impl Strategy<Value = AuditRecord> {
    (
        (
            "[0-9a-f]{32}",
            arb_text(),
            arb_text(),
            any::<f64>(),
            any::<Option<bool>>(),
        ),
        (
            prop::collection::vec(arb_text(), 0..3),
            any::<f64>(),
            any::<bool>(),
        ),
        prop::collection::vec((arb_text(), arb_value()), 0..3),
    )
        .prop_map(
            |((id, name, desc, risk, passed), (approvers, review, met), meta)| AuditRecord {
                entry_id: id,
                action_name: name,
                action_description: desc,
                agent_id: "agent".into(),
                risk_score: risk,
                risk_level: "high".into(),
                challenge_type: "quiz".into(),
                challenge_passed: passed,
                approver_ids: approvers,
                verdict: "approved".into(),
                review_duration_seconds: review,
                min_review_met: met,
                intercepted_at: "2025-01-15T14:30:00.123456".into(),
                decided_at: "2025-01-15T14:30:12".into(),
                executed_at: String::new(),
                session_id: String::new(),
                environment: "production".into(),
                metadata: meta.into_iter().collect::<ValueMap>(),
            },
        )
}

fn write_chain(records: &[AuditRecord]) -> String {
    let mut previous = GENESIS_HASH.to_owned();
    let mut out = String::new();
    for r in records {
        let line = record_line(r, &previous);
        out.push_str(&line.line);
        previous = line.chain_hash;
    }
    out
}

fn verify(text: &[u8]) -> VerifyReport {
    verify_reader(text, &VerifyOptions::default()).unwrap()
}

const KEYS: [(&str, &str); 20] = [
    ("action_description", "\"\""),
    ("action_name", "\"\""),
    ("agent_id", "\"\""),
    ("approver_ids", "[]"),
    ("chain_hash", "\"\""),
    ("challenge_passed", "null"),
    ("challenge_type", "\"\""),
    ("decided_at", "\"\""),
    ("entry_id", "<missing>"),
    ("environment", "\"\""),
    ("executed_at", "\"\""),
    ("intercepted_at", "\"\""),
    ("metadata", "{}"),
    ("min_review_met", "true"),
    ("previous_hash", "\"\""),
    ("review_duration_seconds", "0.0"),
    ("risk_level", "\"\""),
    ("risk_score", "0.0"),
    ("session_id", "\"\""),
    ("verdict", "\"\""),
];

/// The entry as the v1 format sees it: the 20 keys' canonical values, with
/// defaults for absent keys; `None` if the line is not a JSON object.
fn as_entry(line: &[u8]) -> Option<Vec<String>> {
    let JsonValue::Object(map) = parse(std::str::from_utf8(line).ok()?.trim()).ok()? else {
        return None;
    };
    Some(
        KEYS.iter()
            .map(|(k, default)| {
                map.get(&JsonString::from(*k))
                    .map_or_else(|| (*default).to_owned(), JsonValue::to_canonical)
            })
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn written_logs_always_verify(records in prop::collection::vec(arb_record(), 1..6)) {
        let text = write_chain(&records);
        let report = verify(text.as_bytes());
        prop_assert!(report.intact(), "{:?}", report.broken);
        prop_assert_eq!(report.entries, records.len() as u64);
    }

    /// Flipping one bit of one byte of a line is detected, unless the line
    /// still denotes the same v1 entry (same canonical value for each of the
    /// 20 keys, absent keys taking their defaults): e.g. `1e-05` -> `1E-05`,
    /// or a renamed key whose value was the default anyway.
    #[test]
    fn a_flipped_byte_is_detected_or_harmless(
        records in prop::collection::vec(arb_record(), 1..4),
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let text = write_chain(&records);
        let lines: Vec<&str> = text.lines().collect();
        let victim = which.index(lines.len());
        let mut bytes = lines[victim].as_bytes().to_vec();
        let pos = at.index(bytes.len());
        bytes[pos] ^= 1 << bit;
        let mut tampered = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            tampered.extend_from_slice(if i == victim { &bytes } else { l.as_bytes() });
            tampered.push(b'\n');
        }
        let report = verify(&tampered);
        if report.intact() {
            prop_assert_eq!(as_entry(&bytes), as_entry(lines[victim].as_bytes()));
        } else {
            prop_assert!(report.broken_lines().contains(&(victim as u64)));
        }
    }
}

fn python_checker(log: &Path) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/verify_chain.py");
    let out = match Command::new("python3").arg(&script).arg(log).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "this test needs python3 on PATH to run the independent checker {}: {e}",
            script.display()
        ),
    };
    assert!(
        out.status.success(),
        "checker failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn an_independent_python_checker_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let records: Vec<AuditRecord> = (0..200)
        .map(|_| arb_record().new_tree(&mut runner).unwrap().current())
        .collect();
    let text = write_chain(&records);
    let lines: Vec<&str> = text.lines().collect();

    let mut cases: Vec<(&str, String)> = vec![("intact", text.clone())];
    let mut edited = lines.clone();
    let changed = edited[17].replacen("\"verdict\":\"approved\"", "\"verdict\":\"denied\"", 1);
    edited[17] = &changed;
    cases.push(("edited", edited.join("\n") + "\n"));
    let mut removed = lines.clone();
    removed.remove(50);
    cases.push(("removed", removed.join("\n") + "\n"));
    let mut swapped = lines.clone();
    swapped.swap(100, 101);
    cases.push(("swapped", swapped.join("\n") + "\n"));
    let mut garbage = lines.clone();
    garbage.insert(7, "[1,2,3]");
    cases.push(("non-object", garbage.join("\n") + "\n"));

    for (name, content) in cases {
        let path = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&path, &content).unwrap();
        let ours = verify_file(&path, &VerifyOptions::default()).unwrap();
        let theirs = python_checker(&path);
        assert_eq!(theirs["intact"], ours.intact(), "{name}");
        assert_eq!(theirs["entries"], ours.entries, "{name}");
        assert_eq!(
            theirs["broken"],
            serde_json::json!(ours.broken_lines()),
            "{name}"
        );
        assert_eq!(ours.intact(), name == "intact", "{name}");
    }
}

/// Every double of the CPython corpus survives parse -> canonical as the
/// corpus's repr text (specials as the JSON tokens).
#[test]
fn float_corpus_round_trips_through_the_parser() {
    let corpus = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/python_float_repr_corpus.txt"),
    )
    .unwrap();
    let mut checked = 0;
    for line in corpus.lines() {
        let (bits, repr) = line.split_once(' ').unwrap();
        let x = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        let parsed = parse(repr).unwrap();
        assert_eq!(parsed.to_canonical(), repr, "{bits}");
        if let JsonValue::Float(y) = parsed {
            assert_eq!(y.to_bits(), x.to_bits(), "{bits}");
        } else {
            panic!("{repr} parsed as {parsed:?}");
        }
        checked += 1;
    }
    assert_eq!(checked, 11_963);
}
