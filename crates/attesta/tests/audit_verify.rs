//! Log verification against the reference's own files and its tamper matrix
//! (spec audit-cli-mcp.md §1.4 and Appendix A).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::path::PathBuf;

use attesta::audit::verify::{
    BreakReason, VerifyOptions, VerifyReport, verify_file, verify_reader,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/audit")
        .join(name)
}

fn five_lines() -> Vec<String> {
    std::fs::read_to_string(data("five.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn verify_bytes(bytes: &[u8]) -> VerifyReport {
    verify_reader(bytes, &VerifyOptions::default()).unwrap()
}

/// The reference's `(intact, total, broken_indices)` triple.
type Triple = (bool, u64, Vec<u64>);

fn triple(report: &VerifyReport) -> Triple {
    (report.intact(), report.entries, report.broken_lines())
}

fn join(lines: &[String]) -> String {
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[test]
fn reference_vectors_verify_as_appendix_a_says() {
    let opts = VerifyOptions::default();
    let five = verify_file(&data("five.jsonl"), &opts).unwrap();
    assert_eq!(triple(&five), (true, 5, vec![]));
    assert_eq!(
        five.head_hash,
        "3db220c37f4787eba379d5bf6e96f256226604775a6b684b20379ec3b7711d6b"
    );
    let canonical = verify_file(&data("canonical.jsonl"), &opts).unwrap();
    assert_eq!(triple(&canonical), (true, 5, vec![]));
    let intkeys = verify_file(&data("intkeys.jsonl"), &opts).unwrap();
    assert_eq!(triple(&intkeys), (false, 1, vec![0]));
    assert_eq!(intkeys.broken[0].reason, BreakReason::HashMismatch);
    assert_eq!(intkeys.broken[0].entry_id.as_deref(), Some("x"));
}

#[test]
fn single_threaded_and_parallel_runs_agree() {
    let one = VerifyOptions {
        threads: std::num::NonZeroUsize::new(1),
        ..Default::default()
    };
    let four = VerifyOptions {
        threads: std::num::NonZeroUsize::new(4),
        ..Default::default()
    };
    for name in ["five.jsonl", "canonical.jsonl", "intkeys.jsonl"] {
        assert_eq!(
            verify_file(&data(name), &one).unwrap(),
            verify_file(&data(name), &four).unwrap()
        );
    }
}

fn edit(line: &str, from: &str, to: &str) -> String {
    assert!(line.contains(from), "{from} not in line");
    line.replacen(from, to, 1)
}

/// Every row of the tamper matrix whose reference result is a triple.
#[test]
#[allow(clippy::too_many_lines)] // one row per line of the spec's table
fn tamper_matrix_matches_the_reference() {
    let l = five_lines();
    let hash = |i: usize| {
        let at = l[i].find("\"chain_hash\":\"").unwrap() + 14;
        l[i][at..at + 64].to_owned()
    };
    let mut rows: Vec<(&str, String, Triple)> = Vec::new();
    rows.push(("none", join(&l), (true, 5, vec![])));

    let mut v = l.clone();
    v[1] = edit(&v[1], "\"verdict\":\"denied\"", "\"verdict\":\"approved\"");
    rows.push(("edit verdict of line 1", join(&v), (false, 5, vec![1])));

    let mut v = l.clone();
    v[4] = edit(&v[4], "\"risk_score\":0.85", "\"risk_score\":0.5");
    rows.push((
        "edit risk_score of last line",
        join(&v),
        (false, 5, vec![4]),
    ));

    let mut v = l.clone();
    v[2] = edit(&v[2], &hash(2), &"a".repeat(64));
    rows.push((
        "replace chain_hash of line 2",
        join(&v),
        (false, 5, vec![2, 3]),
    ));

    let mut v = l.clone();
    v[2] = edit(
        &v[2],
        &format!("\"previous_hash\":\"{}\"", hash(1)),
        &format!("\"previous_hash\":\"{}\"", "b".repeat(64)),
    );
    rows.push((
        "replace previous_hash of line 2",
        join(&v),
        (false, 5, vec![2]),
    ));

    let mut v = l.clone();
    v.remove(2);
    rows.push(("delete line 2", join(&v), (false, 4, vec![2])));

    let mut v = l.clone();
    v.remove(0);
    rows.push(("delete line 0", join(&v), (false, 4, vec![0])));

    let mut v = l.clone();
    v.pop();
    rows.push(("delete last line", join(&v), (true, 4, vec![])));

    let mut v = l.clone();
    v.swap(1, 2);
    rows.push(("swap 1 and 2", join(&v), (false, 5, vec![1, 2, 3])));

    let mut v = l.clone();
    v.swap(3, 4);
    rows.push(("swap 3 and 4", join(&v), (false, 5, vec![3, 4])));

    let mut v = l.clone();
    let last = v.pop().unwrap();
    v.insert(0, last);
    rows.push(("move last to front", join(&v), (false, 5, vec![0, 1])));

    let mut text = join(&l[..4]);
    text.push_str(&l[4][..l[4].len() / 2]);
    rows.push(("truncate last line mid-JSON", text, (false, 5, vec![4])));

    let mut v = l.clone();
    v[2] = v[2][..v[2].len() / 2].to_owned();
    rows.push(("truncate line 2 mid-JSON", join(&v), (false, 5, vec![2, 3])));

    let mut v = l.clone();
    v.insert(2, String::new());
    rows.push(("blank line before 2", join(&v), (true, 5, vec![])));

    let mut v = l.clone();
    v.insert(2, String::new());
    v.insert(2, String::new());
    v[5] = edit(&v[5], "\"risk_score\":0.7", "\"risk_score\":0.1");
    rows.push((
        "two blanks then edit physical 5",
        join(&v),
        (false, 5, vec![5]),
    ));

    let mut v = l.clone();
    v.insert(2, "this is not json".to_owned());
    rows.push(("garbage line at 2", join(&v), (false, 6, vec![2])));

    // Re-serialised unsorted with spaces: semantic, not byte, verification.
    let mut v = l.clone();
    let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&v[1]).unwrap();
    let mut members: Vec<String> = parsed
        .iter()
        .map(|(k, val)| format!("\"{k}\": {val}"))
        .collect();
    members.reverse();
    v[1] = format!("{{ {} }}", members.join(", "));
    rows.push(("line 1 unsorted with spaces", join(&v), (true, 5, vec![])));

    let mut v = l.clone();
    v[3] = edit(
        &v[3],
        "{\"action_description\"",
        "{\"injected\":\"evil\",\"action_description\"",
    );
    rows.push(("unknown key added", join(&v), (true, 5, vec![])));

    let mut v = l.clone();
    v[1] = edit(&v[1], "\"metadata\":{},", "");
    v[1] = edit(&v[1], "\"approver_ids\":[],", "");
    v[1] = edit(&v[1], "\"executed_at\":\"\",", "");
    rows.push(("default-valued keys deleted", join(&v), (true, 5, vec![])));

    let mut v = l.clone();
    v[2] = edit(&v[2], "\"risk_score\":0.9", "\"risk_score\":0.90");
    v[1] = edit(
        &v[1],
        "\"review_duration_seconds\":20.25",
        "\"review_duration_seconds\":2025e-2",
    );
    rows.push(("0.90 and 2025e-2", join(&v), (true, 5, vec![])));
    let mut v = l.clone();
    v[2] = edit(&v[2], "\"risk_score\":0.9", "\"risk_score\":9e-1");
    rows.push(("9e-1", join(&v), (true, 5, vec![])));

    let mut v = l.clone();
    v[4] = edit(&v[4], "Zo\\u00eb \\u2713", "Zoë ✓");
    rows.push(("raw non-ASCII", join(&v), (true, 5, vec![])));

    let mut v = l.clone();
    v[0] = edit(&v[0], "\"challenge_passed\":true", "\"challenge_passed\":1");
    rows.push(("true replaced by 1", join(&v), (false, 5, vec![0])));

    rows.push(("CRLF", l.join("\r\n") + "\r\n", (true, 5, vec![])));
    rows.push(("lone CR", l.join("\r") + "\r", (true, 5, vec![])));

    for (name, text, expected) in rows {
        assert_eq!(
            triple(&verify_bytes(text.as_bytes())),
            expected,
            "row: {name}"
        );
    }
}

/// Rewriting history with recomputed hashes is not detectable (no secret is
/// involved): the matrix's two forgery rows.
#[test]
fn recomputed_chains_are_forgeries_the_format_cannot_detect() {
    use attesta::audit::json::{JsonString, JsonValue, parse};
    use attesta::audit::{GENESIS_HASH, chain_hash};
    // Re-chain the given lines: set previous_hash, recompute chain_hash.
    fn rechain(lines: &[String]) -> String {
        let mut p = GENESIS_HASH.to_owned();
        let mut out = String::new();
        for line in lines {
            let JsonValue::Object(mut map) = parse(line).unwrap() else {
                panic!()
            };
            map.insert(
                JsonString::from("previous_hash"),
                JsonValue::Str(JsonString::from(p.as_str())),
            );
            map.shift_remove(&JsonString::from("chain_hash"));
            let h = chain_hash(&p, &JsonValue::Object(map.clone()).to_canonical());
            map.insert(
                JsonString::from("chain_hash"),
                JsonValue::Str(JsonString::from(h.as_str())),
            );
            out.push_str(&JsonValue::Object(map).to_canonical());
            out.push('\n');
            p = h;
        }
        out
    }
    let l = five_lines();
    let mut v = l.clone();
    v[1] = edit(&v[1], "\"verdict\":\"denied\"", "\"verdict\":\"approved\"");
    assert_eq!(
        triple(&verify_bytes(rechain(&v).as_bytes())),
        (true, 5, vec![])
    );
    let mut v = l.clone();
    v.remove(1);
    assert_eq!(
        triple(&verify_bytes(rechain(&v).as_bytes())),
        (true, 4, vec![])
    );
}

/// The rows where the reference crashes: we report the line and go on.
#[test]
fn lines_that_crash_the_reference_are_reported() {
    let l = five_lines();
    for (inserted, found) in [("[1,2,3]", "an array"), ("42", "a number")] {
        let mut v = l.clone();
        v.insert(2, inserted.to_owned());
        let report = verify_bytes(join(&v).as_bytes());
        assert_eq!(triple(&report), (false, 6, vec![2]), "{inserted}");
        assert_eq!(report.broken[0].reason, BreakReason::NotAnObject { found });
    }

    let mut bytes = join(&l[..2]).into_bytes();
    bytes.extend_from_slice(b"\xff\xfe\n");
    bytes.extend_from_slice(join(&l[2..]).as_bytes());
    let report = verify_bytes(&bytes);
    assert_eq!(triple(&report), (false, 6, vec![2]));
    assert_eq!(
        report.broken[0].reason,
        BreakReason::InvalidUtf8 { offset: 0 }
    );

    // A non-string chain_hash: broken, and P stays put so the next line
    // (which chains from line 1) still verifies.
    let mut v = l.clone();
    v.insert(2, r#"{"entry_id":"e","chain_hash":42}"#.to_owned());
    let report = verify_bytes(join(&v).as_bytes());
    assert_eq!(triple(&report), (false, 6, vec![2]));
    assert_eq!(report.broken[0].reason, BreakReason::ChainHashNotString);
}

#[test]
fn reasons_name_what_happened() {
    let l = five_lines();
    let mut v = l.clone();
    v.remove(2);
    let report = verify_bytes(join(&v).as_bytes());
    let first = report.first_broken().unwrap();
    assert!(matches!(first.reason, BreakReason::BrokenLink { .. }));
    assert_eq!(
        first.entry_id.as_deref(),
        Some("3d274cd4de874a53a29b7f508f4a831e")
    );
    assert_eq!(first.entry_number, 3);

    let mut v = l.clone();
    v[1] = edit(
        &v[1],
        "\"entry_id\":\"5b0d577090804180a46f0cec16194c54\",",
        "",
    );
    let report = verify_bytes(join(&v).as_bytes());
    assert_eq!(report.broken_lines(), vec![1]);
    assert_eq!(report.broken[0].reason, BreakReason::MissingEntryId);

    let mut v = l.clone();
    v[1] = v[1][..40].to_owned();
    let report = verify_bytes(join(&v).as_bytes());
    assert!(matches!(
        report.broken[0].reason,
        BreakReason::BadJson { .. }
    ));
    assert!(report.broken[0].reason.is_unreadable());
}

#[test]
fn anchored_segments_start_from_the_first_previous_hash() {
    let l = five_lines();
    let tail = join(&l[2..]);
    let plain = verify_bytes(tail.as_bytes());
    assert_eq!(triple(&plain), (false, 3, vec![0]));
    assert_eq!(plain.anchor, None);
    let anchored = verify_reader(
        tail.as_bytes(),
        &VerifyOptions {
            anchored: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(triple(&anchored), (true, 3, vec![]));
    let expected_anchor = {
        let at = l[1].find("\"chain_hash\":\"").unwrap() + 14;
        l[1][at..at + 64].to_owned()
    };
    assert_eq!(anchored.anchor.as_deref(), Some(expected_anchor.as_str()));
}

#[test]
fn missing_files_are_an_error_naming_the_path() {
    let err = verify_file(&data("no-such-log.jsonl"), &VerifyOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no-such-log.jsonl"), "{err}");
}

#[test]
fn progress_reaches_the_file_size() {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let opts = VerifyOptions {
        progress: Some(Arc::new(move |done, total| {
            sink.lock().unwrap().push((done, total));
        })),
        ..Default::default()
    };
    verify_file(&data("five.jsonl"), &opts).unwrap();
    assert_eq!(seen.lock().unwrap().last().copied(), Some((3525, 3525)));
}
