//! Reading, filtering, statistics and export of audit logs, on the
//! reference-written five-entry log (spec Appendix A.1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use attesta::RiskLevel;
use attesta::audit::export::{COLUMNS, export_to_file};
use attesta::audit::{
    ActionPattern, BoundEdge, ExportError, ExportFormat, Filter, LevelFilter, LogError, LogScan,
    RubberStampRule, StatsBuilder, StoredEntry, parse_time_bound, query,
};
use attesta::value::Value;

fn five() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/audit/five.jsonl")
}

/// Line numbers of the entries of five.jsonl that pass `filter`.
fn lines(filter: Filter) -> Vec<usize> {
    let (entries, unreadable) = query(&five(), filter).unwrap();
    assert_eq!(unreadable.count, 0);
    entries.iter().map(|e| e.line).collect()
}

#[test]
fn reads_all_five_entries_with_their_fields() {
    let (entries, _) = query(&five(), Filter::default()).unwrap();
    assert_eq!(entries.len(), 5);
    let e = &entries[2];
    assert_eq!(e.line, 3);
    assert_eq!(e.entry_id, "7941549ca4b04a4eb7921445cde40c15");
    assert_eq!(e.approver_ids, ["alice@company.com", "bob@company.com"]);
    assert_eq!(e.metadata["ticket"], Value::Int(42));
    assert_eq!(e.risk_score, 0.9);
    assert_eq!(e.challenge_passed, Some(true));
    assert_eq!(
        entries[4].action_description,
        "transfer_funds(amount=10000.0, to='Zoë ✓')"
    );
    assert_eq!(
        entries[1].previous_hash,
        "122b49070387b38a3d1f291863b4b92a46395728acb23f47e452be825315d0fe"
    );
}

#[test]
fn filter_by_each_field() {
    let by = |f: Filter| lines(f);
    assert_eq!(
        by(Filter {
            agent: Some("db-bot".into()),
            ..Filter::default()
        }),
        [2]
    );
    assert_eq!(
        by(Filter {
            verdict: Some("approved".into()),
            ..Filter::default()
        }),
        [1, 3, 4]
    );
    assert_eq!(
        by(Filter {
            level: Some(LevelFilter::AtLeast(RiskLevel::High)),
            ..Filter::default()
        }),
        [2, 3, 4, 5]
    );
    assert_eq!(
        by(Filter {
            level: Some(LevelFilter::Exactly(RiskLevel::High)),
            ..Filter::default()
        }),
        [2, 4]
    );
    assert_eq!(
        by(Filter {
            action: Some(ActionPattern::new("d*")),
            ..Filter::default()
        }),
        [1, 2, 3]
    );
    assert_eq!(
        by(Filter {
            action: Some(ActionPattern::new("transfer_funds")),
            ..Filter::default()
        }),
        [5]
    );
    // AND of several fields.
    assert_eq!(
        by(Filter {
            verdict: Some("approved".into()),
            level: Some("high".parse().unwrap()),
            ..Filter::default()
        }),
        [3, 4]
    );
    // Aware bounds: the answer depends on the zone, so only check that an
    // empty range is empty and a wide one keeps everything.
    assert_eq!(
        by(Filter {
            since: Some(parse_time_bound("2000-01-01", BoundEdge::Since).unwrap()),
            until: Some(parse_time_bound("2100-01-01", BoundEdge::Until).unwrap()),
            ..Filter::default()
        }),
        [1, 2, 3, 4, 5]
    );
}

/// Runs the ignored probe test below in a child process with `TZ` set, and
/// returns the line numbers it printed.
fn probe_in_zone(tz: &str, since: &str, until: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tz_probe",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TZ", tz)
        .env("ATTESTA_PROBE_SINCE", since)
        .env("ATTESTA_PROBE_UNTIL", until)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    // The harness prints `test tz_probe ... ` on the same line first.
    let (_, rest) = stdout
        .split_once("MATCHED [")
        .unwrap_or_else(|| panic!("probe output: {stdout}"));
    rest.split(']').next().unwrap_or_default().to_owned()
}

/// Helper for `time_filter_reads_naive_timestamps_as_local_time`: only does
/// something in a child process that was given the bounds.
#[test]
#[ignore = "run by time_filter_reads_naive_timestamps_as_local_time in a child process"]
fn tz_probe() {
    let (Ok(since), Ok(until)) = (
        std::env::var("ATTESTA_PROBE_SINCE"),
        std::env::var("ATTESTA_PROBE_UNTIL"),
    ) else {
        return;
    };
    let filter = Filter {
        since: Some(parse_time_bound(&since, BoundEdge::Since).unwrap()),
        until: Some(parse_time_bound(&until, BoundEdge::Until).unwrap()),
        ..Filter::default()
    };
    let found: Vec<String> = lines(filter).iter().map(ToString::to_string).collect();
    println!("MATCHED [{}]", found.join(","));
}

#[test]
fn time_filter_reads_naive_timestamps_as_local_time() {
    // Entries were intercepted at 14:30:00.123456, 14:31, 14:32, 14:33, 14:34
    // local time. The same UTC window selects different entries depending on
    // the reader's zone; POSIX TZ strings need no tz database.
    let (since, until) = ("2025-01-15T14:31:30Z", "2025-01-15T14:33:00Z");
    assert_eq!(probe_in_zone("UTC0", since, until), "3,4");
    assert_eq!(probe_in_zone("JST-9", since, until), "");
    assert_eq!(
        probe_in_zone("JST-9", "2025-01-15T05:31:30Z", "2025-01-15T05:33:00Z"),
        "3,4"
    );
    // An offset in the bound itself, and naive bounds read locally too.
    assert_eq!(
        probe_in_zone("JST-9", "2025-01-15T14:31:30+09:00", "2025-01-15T14:33"),
        "3,4"
    );
    // A bare date covers that whole local day, wherever the reader is.
    assert_eq!(
        probe_in_zone("EST5", "2025-01-15", "2025-01-15"),
        "1,2,3,4,5"
    );
    assert_eq!(probe_in_zone("EST5", "2025-01-16", "2025-01-16"), "");
}

#[test]
fn stats_on_five_entries() {
    let mut scan = LogScan::open(&five(), Filter::default()).unwrap();
    let mut builder = StatsBuilder::new(RubberStampRule::default());
    for e in &mut scan {
        builder.add(&e.unwrap());
    }
    let s = builder.finish();
    assert_eq!(s.total, 5);
    assert_eq!(s.verdict_count("approved"), 3);
    assert_eq!(s.verdict_count("denied"), 1);
    assert_eq!(s.verdict_count("escalated"), 1);
    assert_eq!(s.by_verdict.len(), 3);
    assert_eq!(s.by_level["medium"], 1);
    assert_eq!(s.by_level["high"], 2);
    assert_eq!(s.by_level["critical"], 2);
    assert_eq!(s.by_level.len(), 3);
    assert_eq!(s.by_challenge["confirm"], 1);
    assert_eq!(s.by_challenge["quiz"], 2);
    assert_eq!(s.by_challenge["multi_party"], 2);
    assert_eq!(s.approval_rate, 0.6);
    // Review times sorted: 1.2, 12.5, 20.25, 47.3, 600.002.
    assert_eq!(s.review.reviewed, 5);
    assert_eq!(s.review.median_seconds, Some(20.25));
    // Nearest rank ceil(0.9 * 5) = 5th value.
    assert_eq!(s.review.p90_seconds, Some(600.002));
    assert_eq!(s.review.min_review_not_met, 0);
    assert_eq!(s.review.min_review_not_met_share, 0.0);
    // Scores 0.45, 0.72, 0.9, 0.7, 0.85 -> bins 4, 7, 9, 7, 8.
    assert_eq!(s.risk_histogram, [0, 0, 0, 0, 1, 0, 0, 2, 1, 1]);
    assert_eq!(s.risk_out_of_range, 0);
    assert_eq!(s.rubber_stamps, 1);
    assert_eq!(s.rubber_stamp_rate, 1.0 / 3.0);
    assert_eq!(s.agents.len(), 5);
    let top = attesta::audit::Stats::top(&s.agents, 2);
    assert_eq!(
        top,
        [("admin-bot".to_owned(), 1), ("agent-1".to_owned(), 1)]
    );
    assert_eq!(s.actions["modify_firewall"], 1);
}

#[test]
fn rubber_stamps_on_five_entries() {
    let stamps = |rule: RubberStampRule| -> Vec<usize> {
        let (entries, _) = query(&five(), Filter::default()).unwrap();
        entries
            .iter()
            .filter(|e| rule.matches(e))
            .map(|e| e.line)
            .collect()
    };
    // Entry 3 (line 4): high risk approved after 1.2 s.
    assert_eq!(stamps(RubberStampRule::default()), [4]);
    assert_eq!(
        stamps(RubberStampRule {
            max_seconds: 15.0,
            min_risk: RiskLevel::Medium
        }),
        [1, 4]
    );
    assert_eq!(
        stamps(RubberStampRule {
            max_seconds: 1.2,
            min_risk: RiskLevel::High
        }),
        Vec::<usize>::new()
    );
    assert_eq!(
        stamps(RubberStampRule {
            max_seconds: 60.0,
            min_risk: RiskLevel::Critical
        }),
        [3]
    );
}

#[test]
fn unreadable_lines_are_counted_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let good = fs::read_to_string(five()).unwrap();
    let mut good_lines = good.lines();
    let text = format!(
        "{}\n{{\"verdict\": \n{}\n[1,2]\n\n\u{1}garbage\n{}\n{{\"risk_score\":\"high\"}}",
        good_lines.next().unwrap(),
        good_lines.next().unwrap(),
        good_lines.next().unwrap()
    );
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe{}\n");
    fs::write(&path, bytes).unwrap();
    let (entries, unreadable) = query(&path, Filter::default()).unwrap();
    assert_eq!(
        entries.iter().map(|e| e.line).collect::<Vec<_>>(),
        [1, 3, 7]
    );
    assert_eq!(unreadable.count, 5);
    let named: Vec<usize> = unreadable.first.iter().map(|u| u.line).collect();
    assert_eq!(named, [2, 4, 6, 8, 9]);
    assert!(unreadable.first[1].reason.contains("not a JSON object"));
    assert!(unreadable.first[4].reason.contains("UTF-8"));
    assert_eq!(
        unreadable.first[0].to_string().split(':').next(),
        Some("line 2")
    );
}

#[test]
fn nonfinite_metadata_from_the_reference_vectors() {
    // Line 4 of the spec's canonical vectors.
    let line = br#"{"action_description":"","action_name":"vec","agent_id":"","approver_ids":["\u00fc","a b"],"chain_hash":"c780ca05c575b270796377b2b4eac20ef8680dc3a05b2283f38eb04a5783be24","challenge_passed":null,"challenge_type":"","decided_at":"2025-01-01T00:00:01","entry_id":"00000000000000000000000000000004","environment":"","executed_at":"","intercepted_at":"2025-01-01T00:00:00","metadata":{"inf":Infinity,"nan":NaN,"ninf":-Infinity},"min_review_met":true,"previous_hash":"69fd1fba9d9c38aaf3927fcf74cb2ed9f700af8e45b6885a300cfcd7928ec30e","review_duration_seconds":0.0,"risk_level":"","risk_score":0.0,"session_id":"","verdict":""}"#;
    let e = StoredEntry::from_line(line).unwrap();
    assert_eq!(e.metadata["inf"], Value::Float(f64::INFINITY));
    assert_eq!(e.metadata["ninf"], Value::Float(f64::NEG_INFINITY));
    assert!(e.metadata["nan"].as_f64().unwrap().is_nan());
    assert_eq!(e.approver_ids, ["ü", "a b"]);
    // Exports write them as null.
    let mut w = attesta::audit::ExportWriter::new(ExportFormat::Jsonl, Vec::new()).unwrap();
    w.write(&e).unwrap();
    let (bytes, _) = w.finish().unwrap();
    let back: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        back["metadata"],
        serde_json::json!({"inf": null, "nan": null, "ninf": null})
    );
}

fn export_bytes(format: ExportFormat) -> Vec<u8> {
    let (out, summary) = attesta::audit::export::export_to_writer(
        &five(),
        Filter::default(),
        format,
        Vec::new(),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(summary.entries, 5);
    out
}

/// RFC 4180 parser, enough for the tests: quoted fields with doubled quotes,
/// CRLF record ends.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR must be followed by LF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (_, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && row.is_empty(),
        "last record ends in CRLF"
    );
    rows
}

#[test]
fn csv_export_round_trips() {
    let text = String::from_utf8(export_bytes(ExportFormat::Csv)).unwrap();
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0], COLUMNS);
    let (entries, _) = query(&five(), Filter::default()).unwrap();
    for (row, e) in rows[1..].iter().zip(&entries) {
        assert_eq!(row.len(), 20);
        assert_eq!(row[0], e.entry_id);
        assert_eq!(row[4], e.action_description);
        assert_eq!(row[6].parse::<f64>().unwrap(), e.risk_score);
        assert_eq!(row[12].parse::<f64>().unwrap(), e.review_duration_seconds);
    }
    // Spot checks of cell rendering.
    assert_eq!(rows[3][10], "alice@company.com;bob@company.com");
    assert_eq!(rows[3][19], r#"{"reason":"GDPR erasure","ticket":42}"#);
    assert_eq!(rows[2][9], "false");
    assert_eq!(rows[5][12], "600.002");
    // A description with a comma is quoted on disk.
    assert!(text.contains(r#","deploy_service(service='api', version='2.1.0')","#));
}

#[test]
fn json_and_jsonl_exports_round_trip() {
    let (entries, _) = query(&five(), Filter::default()).unwrap();
    let originals: Vec<serde_json::Value> = fs::read_to_string(five())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let json: serde_json::Value =
        serde_json::from_slice(&export_bytes(ExportFormat::Json)).unwrap();
    let array = json.as_array().unwrap();
    let jsonl_text = String::from_utf8(export_bytes(ExportFormat::Jsonl)).unwrap();
    let jsonl: Vec<serde_json::Value> = jsonl_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(array.len(), 5);
    assert_eq!(jsonl.len(), 5);
    for ((a, b), original) in array.iter().zip(&jsonl).zip(&originals) {
        assert_eq!(a, b);
        // Keys in declaration order, values as in the log.
        let keys: Vec<&String> = a.as_object().unwrap().keys().collect();
        assert_eq!(keys, COLUMNS);
        assert_eq!(a, original);
    }
    // And back into entries.
    for (value, e) in jsonl.iter().zip(&entries) {
        let back: StoredEntry = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(back.entry_id, e.entry_id);
        assert_eq!(back.metadata, e.metadata);
    }
}

fn log_copy(dir: &Path) -> PathBuf {
    let log = dir.join("audit.jsonl");
    fs::copy(five(), &log).unwrap();
    log
}

#[test]
fn export_refuses_the_log_itself_in_every_disguise() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_copy(dir.path());
    let before = fs::read(&log).unwrap();
    let refuse = |dest: &Path, force: bool| {
        let err = export_to_file(
            &log,
            Filter::default(),
            ExportFormat::Csv,
            dest,
            force,
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(
            matches!(err, ExportError::IsTheLog { .. }),
            "{dest:?}: {err}"
        );
        assert!(err.to_string().contains("refusing"));
    };
    refuse(&log, true);
    refuse(&dir.path().join(".").join("audit.jsonl"), true);
    #[cfg(unix)]
    {
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&log, &link).unwrap();
        refuse(&link, true);
        let hard = dir.path().join("hard.jsonl");
        fs::hard_link(&log, &hard).unwrap();
        refuse(&hard, true);
    }
    assert_eq!(fs::read(&log).unwrap(), before);
    // No temporary files left behind.
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("attesta-export"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn export_refuses_existing_files_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_copy(dir.path());
    let dest = dir.path().join("out.csv");
    fs::write(&dest, "keep me").unwrap();
    let run = |force: bool| {
        export_to_file(
            &log,
            Filter::default(),
            ExportFormat::Jsonl,
            &dest,
            force,
            &mut |_, _| {},
        )
    };
    let err = run(false).unwrap_err();
    assert!(matches!(err, ExportError::Exists(_)), "{err}");
    assert!(err.to_string().contains("--force"));
    assert_eq!(fs::read_to_string(&dest).unwrap(), "keep me");
    let summary = run(true).unwrap();
    assert_eq!(summary.entries, 5);
    assert_eq!(fs::read_to_string(&dest).unwrap().lines().count(), 5);
    // A fresh file is written without --force.
    let fresh = dir.path().join("fresh.json");
    export_to_file(
        &log,
        Filter::default(),
        ExportFormat::Json,
        &fresh,
        false,
        &mut |_, _| {},
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&fresh).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
    assert_eq!(fs::read(&log).unwrap(), fs::read(five()).unwrap());
}

#[test]
fn failed_export_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out.csv");
    let err = export_to_file(
        &dir.path().join("missing.jsonl"),
        Filter::default(),
        ExportFormat::Csv,
        &dest,
        false,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, ExportError::Log(LogError::NotFound(_))),
        "{err}"
    );
    assert!(err.to_string().contains("missing.jsonl"));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_missing_log_or_a_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = LogScan::open(&dir.path().join("nope.jsonl"), Filter::default()).unwrap_err();
    assert!(matches!(err, LogError::NotFound(_)));
    assert!(err.to_string().contains("nope.jsonl"));
    let err = LogScan::open(dir.path(), Filter::default()).unwrap_err();
    assert!(matches!(err, LogError::NotAFile(_)), "{err}");
}
