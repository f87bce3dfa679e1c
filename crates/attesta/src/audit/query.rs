//! Reading an audit log for people: a streaming reader of entries
//! ([`EntryReader`], [`LogScan`]) and the [`Filter`] the `attesta audit`
//! commands share.
//!
//! This is a *reader*, not a verifier: lines are parsed with `serde_json`
//! into a typed [`StoredEntry`], and nothing is hashed. Byte-exact parsing for
//! chain verification lives elsewhere.
//!
//! # Reading rules
//!
//! - Blank lines are skipped (the reference writer never produces them, but
//!   an editor might).
//! - A line that cannot be read (invalid UTF-8, not JSON, not a JSON object,
//!   a field of the wrong type) is never dropped silently: the reader yields
//!   it as [`ReadError::Unreadable`] with its 1-based line number, and
//!   [`LogScan`] counts it in [`UnreadableSummary`].
//! - Missing keys take the reference's defaults (§1.1): empty strings, `0.0`,
//!   `[]`, `{}`, `challenge_passed: null`, `min_review_met: true`, with one
//!   exception: a missing `entry_id` reads as `""`, not a fresh random id,
//!   because a reader must not invent data. Unknown keys are ignored; when a
//!   key repeats, the last value wins (as in Python).
//! - The reference writes non-finite floats as the bare tokens `NaN`,
//!   `Infinity` and `-Infinity`, which are not JSON. A pre-pass that skips
//!   string contents rewrites them so that `serde_json` accepts the line;
//!   they come back as non-finite `f64` values, in `risk_score`,
//!   `review_duration_seconds` and anywhere inside `metadata`
//!   ([`Value::Float`]). Exporters write them as `null` (JSON has no
//!   spelling for them).
//!
//! # Time
//!
//! The reference writes `intercepted_at` as a *naive local* time (Python
//! `datetime.isoformat()`, no offset). Time filters read such a timestamp in
//! the local time zone of the process reading the log (the `TZ` variable on
//! Unix), convert it to an instant, and compare instants. A timestamp that
//! carries an offset (RFC 3339) is used as is. See [`Filter`] for the rules.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{
    DateTime, Duration, FixedOffset, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use serde::{Deserialize, Deserializer, Serialize};

use crate::risk::RiskLevel;
use crate::value::{Value, ValueMap};

/// One entry as stored in a log: the 20 fields of the v1 record in the
/// reference's declaration order (which is also the export column order),
/// plus the line it was read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredEntry {
    /// 32 hex digits, or `""` when the key is missing.
    pub entry_id: String,
    /// The entry's chain hash as stored (not checked here).
    pub chain_hash: String,
    /// The previous entry's chain hash as stored (not checked here).
    pub previous_hash: String,
    /// The function or tool name.
    pub action_name: String,
    /// The call in Python repr form.
    pub action_description: String,
    /// Requesting agent, or empty.
    pub agent_id: String,
    /// Final risk score (may be non-finite in a hand-made log).
    #[serde(deserialize_with = "lenient_f64")]
    pub risk_score: f64,
    /// `low`, `medium`, `high`, `critical`, or anything else a writer put there.
    pub risk_level: String,
    /// The challenge presented, or empty.
    pub challenge_type: String,
    /// Whether the challenge was passed; `None` when there was none.
    pub challenge_passed: Option<bool>,
    /// Approving principals.
    pub approver_ids: Vec<String>,
    /// `approved`, `denied`, `modified`, `timed_out`, `escalated`.
    pub verdict: String,
    /// Seconds the human(s) spent reviewing.
    #[serde(deserialize_with = "lenient_f64")]
    pub review_duration_seconds: f64,
    /// Whether the minimum review time was respected.
    pub min_review_met: bool,
    /// When the action was intercepted (naive local time as written).
    pub intercepted_at: String,
    /// When the verdict was reached.
    pub decided_at: String,
    /// When the entry claims the action ran.
    pub executed_at: String,
    /// Session id, or empty.
    pub session_id: String,
    /// Environment the action was evaluated for.
    pub environment: String,
    /// The context's metadata.
    pub metadata: ValueMap,
    /// 1-based line number in the file it was read from (0 if it was not
    /// read from a file). Not part of the record, so never exported.
    #[serde(skip)]
    pub line: usize,
}

impl Default for StoredEntry {
    /// The reference's defaults for missing keys (§1.1), with `entry_id`
    /// empty instead of random.
    fn default() -> Self {
        Self {
            entry_id: String::new(),
            chain_hash: String::new(),
            previous_hash: String::new(),
            action_name: String::new(),
            action_description: String::new(),
            agent_id: String::new(),
            risk_score: 0.0,
            risk_level: String::new(),
            challenge_type: String::new(),
            challenge_passed: None,
            approver_ids: Vec::new(),
            verdict: String::new(),
            review_duration_seconds: 0.0,
            min_review_met: true,
            intercepted_at: String::new(),
            decided_at: String::new(),
            executed_at: String::new(),
            session_id: String::new(),
            environment: String::new(),
            metadata: ValueMap::new(),
            line: 0,
        }
    }
}

impl StoredEntry {
    /// Parses one log line (without or with its newline).
    ///
    /// ```
    /// use attesta::audit::StoredEntry;
    /// let e = StoredEntry::from_line(br#"{"verdict":"approved","metadata":{"x":NaN}}"#).unwrap();
    /// assert_eq!(e.verdict, "approved");
    /// assert!(e.min_review_met); // missing key: reference default
    /// assert!(e.metadata["x"].as_f64().unwrap().is_nan());
    /// ```
    pub fn from_line(line: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(line).map_err(|e| format!("not valid UTF-8 ({e})"))?;
        let rewritten;
        let text = if has_nonfinite_token(text) {
            rewritten = replace_nonfinite_tokens(text);
            rewritten.as_str()
        } else {
            text
        };
        // Through serde_json::Value first: it keeps the last of repeated
        // keys (as Python does), where a derived struct would reject them.
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
        if !value.is_object() {
            return Err("not a JSON object".to_owned());
        }
        let mut entry =
            StoredEntry::deserialize(value).map_err(|e| format!("unexpected field value ({e})"))?;
        for v in entry.metadata.values_mut() {
            restore_nonfinite(v);
        }
        Ok(entry)
    }

    /// The entry's risk level, if it is one of the four known ones (compared
    /// case-insensitively, as the reference does).
    pub fn level(&self) -> Option<RiskLevel> {
        RiskLevel::from_str(&self.risk_level.to_ascii_lowercase()).ok()
    }

    /// The instant of `intercepted_at`, naive times read as local time.
    pub fn intercepted_instant(&self) -> Option<DateTime<Utc>> {
        timestamp_instant(&self.intercepted_at, &Local)
    }
}

// Sentinels for non-finite tokens: a private-use character makes a clash
// with a real string practically impossible, and they are converted back
// right after parsing.
const NAN_SENTINEL: &str = "\u{F8FF}attesta-nonfinite:NaN";
const INF_SENTINEL: &str = "\u{F8FF}attesta-nonfinite:Infinity";
const NEG_INF_SENTINEL: &str = "\u{F8FF}attesta-nonfinite:-Infinity";

fn sentinel_value(s: &str) -> Option<f64> {
    match s {
        NAN_SENTINEL => Some(f64::NAN),
        INF_SENTINEL => Some(f64::INFINITY),
        NEG_INF_SENTINEL => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn has_nonfinite_token(text: &str) -> bool {
    text.contains("NaN") || text.contains("Infinity")
}

/// Rewrites the bare tokens `NaN`, `Infinity`, `-Infinity` outside strings
/// into sentinel strings; string contents are copied untouched.
fn replace_nonfinite_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else {
            let token = [
                ("-Infinity", NEG_INF_SENTINEL),
                ("Infinity", INF_SENTINEL),
                ("NaN", NAN_SENTINEL),
            ]
            .into_iter()
            .find(|(token, _)| rest.starts_with(token));
            if let Some((token, sentinel)) = token {
                out.push('"');
                out.push_str(sentinel);
                out.push('"');
                rest = &rest[token.len()..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn restore_nonfinite(value: &mut Value) {
    match value {
        Value::Str(s) => {
            if let Some(x) = sentinel_value(s) {
                *value = Value::Float(x);
            }
        }
        Value::List(items) => items.iter_mut().for_each(restore_nonfinite),
        Value::Map(map) => map.values_mut().for_each(restore_nonfinite),
        _ => {}
    }
}

/// A number, or one of the non-finite sentinels.
fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrToken {
        Number(f64),
        Token(String),
    }
    match NumberOrToken::deserialize(d)? {
        NumberOrToken::Number(x) => Ok(x),
        NumberOrToken::Token(s) => sentinel_value(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("expected a number, found {s:?}"))),
    }
}

/// A line that could not be read as an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadableLine {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong with it.
    pub reason: String,
}

impl fmt::Display for UnreadableLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What [`EntryReader`] yields besides entries.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// One line could not be read; reading can go on with the next line.
    Unreadable(UnreadableLine),
    /// The underlying reader failed; the iterator ends after this.
    Io(io::Error),
}

/// Reads entries one line at a time, in constant memory (apart from the
/// longest line).
#[derive(Debug)]
pub struct EntryReader<R> {
    /// The log being read.
    inner: R,
    /// Number of the last line read (1-based).
    line: usize,
    /// Bytes consumed so far, for progress reports.
    bytes: u64,
    /// Reused line buffer.
    buf: Vec<u8>,
    /// Set after an I/O error so that iteration stops.
    failed: bool,
}

impl<R: BufRead> EntryReader<R> {
    /// A reader over `inner`, starting at line 1.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            line: 0,
            bytes: 0,
            buf: Vec::with_capacity(1024),
            failed: false,
        }
    }

    /// Bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// Lines consumed so far (blank and unreadable ones included).
    pub fn lines_read(&self) -> usize {
        self.line
    }
}

impl<R: BufRead> Iterator for EntryReader<R> {
    type Item = Result<StoredEntry, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            self.buf.clear();
            match self.inner.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(n) => {
                    self.bytes += n as u64;
                    self.line += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(ReadError::Io(e)));
                }
            }
            let line = self.buf.trim_ascii();
            if line.is_empty() {
                continue;
            }
            return Some(match StoredEntry::from_line(line) {
                Ok(mut entry) => {
                    entry.line = self.line;
                    Ok(entry)
                }
                Err(reason) => Err(ReadError::Unreadable(UnreadableLine {
                    line: self.line,
                    reason,
                })),
            });
        }
    }
}

/// Why a log could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The path does not exist.
    #[error(
        "audit log {} not found: check the path (the default is .attesta/audit.jsonl, relative to the current directory)",
        .0.display()
    )]
    NotFound(PathBuf),
    /// The path exists but is a directory or another non-file.
    #[error("{} is not a file: give the path of the audit log file itself", .0.display())]
    NotAFile(PathBuf),
    /// Opening or reading the file failed.
    #[error("could not read audit log {}: {cause}", path.display())]
    Io {
        /// The log.
        path: PathBuf,
        /// The cause (shown in the message, not chained, so it prints once).
        cause: io::Error,
    },
}

/// How many unreadable lines [`UnreadableSummary`] keeps as examples.
pub const UNREADABLE_EXAMPLES: usize = 20;

/// Lines that could not be read during a scan: all counted, the first
/// [`UNREADABLE_EXAMPLES`] kept (so that a garbage file cannot exhaust
/// memory).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnreadableSummary {
    /// How many lines could not be read.
    pub count: usize,
    /// The first of them, in file order.
    pub first: Vec<UnreadableLine>,
}

impl UnreadableSummary {
    fn record(&mut self, line: UnreadableLine) {
        self.count += 1;
        if self.first.len() < UNREADABLE_EXAMPLES {
            self.first.push(line);
        }
    }
}

/// A filtered pass over a log file: yields matching entries in file order,
/// counts unreadable lines, and reports progress in bytes.
///
/// ```no_run
/// use attesta::audit::{Filter, LogScan};
/// let mut scan = LogScan::open(".attesta/audit.jsonl".as_ref(), Filter::default())?;
/// for entry in &mut scan {
///     println!("{}", entry?.action_name);
/// }
/// eprintln!("{} unreadable lines", scan.unreadable().count);
/// # Ok::<(), attesta::audit::LogError>(())
/// ```
#[derive(Debug)]
pub struct LogScan {
    /// The log, for error messages.
    path: PathBuf,
    /// Entries outside this are skipped.
    filter: Filter,
    /// The line reader.
    reader: EntryReader<BufReader<File>>,
    /// File size when opened, for progress.
    size: u64,
    /// Readable entries seen, matching or not.
    read: usize,
    /// Lines that could not be read.
    unreadable: UnreadableSummary,
}

impl LogScan {
    /// Opens `path`. A missing file is an error ([`LogError::NotFound`]), not
    /// an empty log: a mistyped path must not look like a clean record.
    pub fn open(path: &Path, filter: Filter) -> Result<Self, LogError> {
        let meta = std::fs::metadata(path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                LogError::NotFound(path.to_owned())
            } else {
                LogError::Io {
                    path: path.to_owned(),
                    cause: source,
                }
            }
        })?;
        if !meta.is_file() {
            return Err(LogError::NotAFile(path.to_owned()));
        }
        let file = File::open(path).map_err(|source| LogError::Io {
            path: path.to_owned(),
            cause: source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            filter,
            reader: EntryReader::new(BufReader::with_capacity(64 * 1024, file)),
            size: meta.len(),
            read: 0,
            unreadable: UnreadableSummary::default(),
        })
    }

    /// The lines that could not be read so far.
    pub fn unreadable(&self) -> &UnreadableSummary {
        &self.unreadable
    }

    /// Readable entries seen so far, matching the filter or not.
    pub fn entries_read(&self) -> usize {
        self.read
    }

    /// Bytes read so far and the file's size when opened.
    pub fn progress(&self) -> (u64, u64) {
        (self.reader.bytes_read(), self.size)
    }

    /// Lines read so far (blank and unreadable ones included): the number of
    /// the last line read.
    pub fn lines_read(&self) -> usize {
        self.reader.lines_read()
    }
}

impl Iterator for LogScan {
    type Item = Result<StoredEntry, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.reader.next()? {
                Ok(entry) => {
                    self.read += 1;
                    if self.filter.matches(&entry) {
                        return Some(Ok(entry));
                    }
                }
                Err(ReadError::Unreadable(line)) => self.unreadable.record(line),
                Err(ReadError::Io(source)) => {
                    return Some(Err(LogError::Io {
                        path: self.path.clone(),
                        cause: source,
                    }));
                }
            }
        }
    }
}

/// Every matching entry of a log, in file order, with the unreadable lines.
/// Holds all matches in memory: for large logs iterate a [`LogScan`].
pub fn query(
    path: &Path,
    filter: Filter,
) -> Result<(Vec<StoredEntry>, UnreadableSummary), LogError> {
    let mut scan = LogScan::open(path, filter)?;
    let entries = scan.by_ref().collect::<Result<Vec<_>, _>>()?;
    Ok((entries, scan.unreadable))
}

/// Which risk levels a [`Filter`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelFilter {
    /// This level or higher (`--level high` keeps high and critical).
    AtLeast(RiskLevel),
    /// Exactly this level (`--level =high`).
    Exactly(RiskLevel),
}

impl LevelFilter {
    /// Whether an entry's level passes. Entries with an unknown level never
    /// pass a level filter.
    pub fn accepts(self, level: Option<RiskLevel>) -> bool {
        match (self, level) {
            (_, None) => false,
            (Self::AtLeast(min), Some(l)) => l >= min,
            (Self::Exactly(want), Some(l)) => l == want,
        }
    }
}

impl FromStr for LevelFilter {
    type Err = String;

    /// `high` means high or above; `=high` means exactly high. Case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (exact, name) = match s.strip_prefix('=') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let level = RiskLevel::from_str(&name.to_ascii_lowercase()).map_err(|_| {
            format!(
                "'{s}' is not a risk level: use low, medium, high or critical (or =LEVEL for exactly that level)"
            )
        })?;
        Ok(if exact {
            Self::Exactly(level)
        } else {
            Self::AtLeast(level)
        })
    }
}

/// A shell-style pattern for action names: `*` matches any run of
/// characters, `?` one character; everything else matches itself, so a
/// pattern without wildcards is an exact match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPattern(String);

impl ActionPattern {
    /// A pattern from its text.
    pub fn new(pattern: impl Into<String>) -> Self {
        Self(pattern.into())
    }

    /// Whether `name` matches the whole pattern.
    ///
    /// ```
    /// use attesta::audit::ActionPattern;
    /// assert!(ActionPattern::new("delete_*").matches("delete_user"));
    /// assert!(!ActionPattern::new("delete").matches("delete_user"));
    /// ```
    pub fn matches(&self, name: &str) -> bool {
        glob_match(
            &self.0.chars().collect::<Vec<_>>(),
            &name.chars().collect::<Vec<_>>(),
        )
    }
}

/// Iterative wildcard match with single-star backtracking: linear in
/// practice, never exponential.
fn glob_match(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Which entries a query keeps; every set field must match (AND), and an
/// empty filter keeps everything.
///
/// - `agent`, `verdict`: exact, case-sensitive string equality.
/// - `level`: see [`LevelFilter`] (minimum by default).
/// - `action`: an [`ActionPattern`] on `action_name`.
/// - `since`, `until`: inclusive instants compared with the entry's
///   `intercepted_at` (naive times read as local time). When either is set,
///   entries whose timestamp cannot be parsed are left out. Build them with
///   [`parse_time_bound`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Exact `agent_id`.
    pub agent: Option<String>,
    /// Exact `verdict`.
    pub verdict: Option<String>,
    /// Risk level bound.
    pub level: Option<LevelFilter>,
    /// Pattern for `action_name`.
    pub action: Option<ActionPattern>,
    /// Earliest `intercepted_at`, inclusive.
    pub since: Option<DateTime<Utc>>,
    /// Latest `intercepted_at`, inclusive.
    pub until: Option<DateTime<Utc>>,
}

impl Filter {
    /// Whether `entry` passes, reading naive timestamps as local time.
    pub fn matches(&self, entry: &StoredEntry) -> bool {
        self.matches_in(entry, &Local)
    }

    /// Whether `entry` passes, reading naive timestamps in `zone`.
    pub fn matches_in<Tz: TimeZone>(&self, entry: &StoredEntry, zone: &Tz) -> bool {
        if self.agent.as_ref().is_some_and(|a| *a != entry.agent_id)
            || self.verdict.as_ref().is_some_and(|v| *v != entry.verdict)
            || self.level.is_some_and(|l| !l.accepts(entry.level()))
            || self
                .action
                .as_ref()
                .is_some_and(|p| !p.matches(&entry.action_name))
        {
            return false;
        }
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(at) = timestamp_instant(&entry.intercepted_at, zone) else {
            return false;
        };
        self.since.is_none_or(|s| at >= s) && self.until.is_none_or(|u| at <= u)
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Which end of a range a time bound is for: a bare date means the start
/// of that day for `Since` and its last instant for `Until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundEdge {
    /// Lower bound (`--since`).
    Since,
    /// Upper bound (`--until`).
    Until,
}

/// A `--since`/`--until` value that is not a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a time: use RFC 3339 with an offset (2025-01-15T14:30:00+01:00 or ...Z), a date (2025-01-15), or a local date and time (2025-01-15T14:30)"
)]
pub struct TimeParseError(pub String);

/// Parses a time bound: RFC 3339 with an offset or `Z`; a date
/// (`YYYY-MM-DD`, local); or a naive date-time (`YYYY-MM-DDTHH:MM[:SS[.f]]`,
/// `T` or a space, local).
///
/// ```
/// use attesta::audit::{BoundEdge, parse_time_bound};
/// let t = parse_time_bound("2025-01-15T14:30:00+01:00", BoundEdge::Since).unwrap();
/// assert_eq!(t.to_rfc3339(), "2025-01-15T13:30:00+00:00");
/// ```
pub fn parse_time_bound(text: &str, edge: BoundEdge) -> Result<DateTime<Utc>, TimeParseError> {
    parse_time_bound_in(text, edge, &Local)
}

/// [`parse_time_bound`] with naive values read in `zone`.
pub fn parse_time_bound_in<Tz: TimeZone>(
    text: &str,
    edge: BoundEdge,
    zone: &Tz,
) -> Result<DateTime<Utc>, TimeParseError> {
    let err = || TimeParseError(text.to_owned());
    let trimmed = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        let start = local_instant(date.and_time(NaiveTime::MIN), zone);
        return match edge {
            BoundEdge::Since => Ok(start),
            BoundEdge::Until => {
                let next = date.succ_opt().ok_or_else(err)?;
                Ok(local_instant(next.and_time(NaiveTime::MIN), zone) - Duration::nanoseconds(1))
            }
        };
    }
    timestamp_instant(trimmed, zone).ok_or_else(err)
}

/// The instant of a stored or given timestamp: RFC 3339 with an offset as
/// is, a naive date-time read in `zone`.
fn timestamp_instant<Tz: TimeZone>(text: &str, zone: &Tz) -> Option<DateTime<Utc>> {
    let normalised;
    let text = if text.len() > 10 && text.as_bytes().get(10) == Some(&b' ') {
        normalised = format!("{}T{}", &text[..10], &text[11..]);
        normalised.as_str()
    } else {
        text
    };
    if let Ok(t) = DateTime::<FixedOffset>::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(text, fmt).ok())
        .map(|naive| local_instant(naive, zone))
}

/// A naive wall-clock time in `zone` as an instant. In a repeated hour (DST
/// ends) the earlier instant is taken, like Python's `fold=0`; a time in a
/// skipped hour (DST starts) is read with the offset in force before the
/// gap, also like Python.
fn local_instant<Tz: TimeZone>(naive: NaiveDateTime, zone: &Tz) -> DateTime<Utc> {
    if let Some(t) = zone.from_local_datetime(&naive).earliest() {
        return t.with_timezone(&Utc);
    }
    let before = naive - Duration::hours(3);
    let offset = zone
        .offset_from_local_datetime(&before)
        .earliest()
        .map_or(0, |o| chrono::Offset::fix(&o).local_minus_utc());
    Utc.from_utc_datetime(&(naive - Duration::seconds(i64::from(offset))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: &str) -> StoredEntry {
        StoredEntry::from_line(json.as_bytes()).unwrap()
    }

    #[test]
    fn missing_keys_take_reference_defaults() {
        let e = entry("{}");
        assert_eq!(e, StoredEntry::default());
        assert!(e.min_review_met);
        assert_eq!(e.challenge_passed, None);
        assert_eq!(e.entry_id, "");
    }

    #[test]
    fn repeated_key_last_wins_and_unknown_keys_ignored() {
        let e = entry(r#"{"verdict":"denied","verdict":"approved","extra":1}"#);
        assert_eq!(e.verdict, "approved");
    }

    #[test]
    fn nonfinite_tokens_are_read_outside_strings_only() {
        let e = entry(
            r#"{"risk_score":NaN,"review_duration_seconds":-Infinity,"action_name":"NaN Infinity \"NaN\"","metadata":{"a":[Infinity,"NaN"],"b":{"c":NaN}}}"#,
        );
        assert!(e.risk_score.is_nan());
        assert_eq!(e.review_duration_seconds, f64::NEG_INFINITY);
        assert_eq!(e.action_name, "NaN Infinity \"NaN\"");
        assert_eq!(
            e.metadata["a"],
            Value::List(vec![Value::Float(f64::INFINITY), Value::from("NaN")])
        );
        let Value::Map(b) = &e.metadata["b"] else {
            panic!("map")
        };
        assert!(b["c"].as_f64().unwrap().is_nan());
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(
            StoredEntry::from_line(b"[1]")
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(
            StoredEntry::from_line(b"{\"a\":")
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            StoredEntry::from_line(b"\xff\xfe")
                .unwrap_err()
                .contains("UTF-8")
        );
        assert!(
            StoredEntry::from_line(br#"{"risk_score":"high"}"#)
                .unwrap_err()
                .contains("unexpected field value")
        );
    }

    #[test]
    fn reader_numbers_lines_and_skips_blank_ones() {
        let text = b"{\"verdict\":\"a\"}\n\n  \nnot json\n{\"verdict\":\"b\"}";
        let items: Vec<_> = EntryReader::new(&text[..]).collect();
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[0], Ok(e) if e.line == 1 && e.verdict == "a"));
        assert!(matches!(&items[1], Err(ReadError::Unreadable(u)) if u.line == 4));
        assert!(matches!(&items[2], Ok(e) if e.line == 5 && e.verdict == "b"));
    }

    #[test]
    fn glob_patterns() {
        let cases = [
            ("delete_user", "delete_user", true),
            ("delete_*", "delete_user", true),
            ("delete_*", "delete_", true),
            ("*_user", "delete_user", true),
            ("d?lete*", "delete_user", true),
            ("*a*b*c", "xaybzc", true),
            ("*a*b*c", "xaybzcd", false),
            ("delete", "delete_user", false),
            ("", "", true),
            ("*", "", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                ActionPattern::new(pattern).matches(name),
                want,
                "{pattern} {name}"
            );
        }
    }

    #[test]
    fn level_filter_parse_and_accept() {
        let at_least: LevelFilter = "HIGH".parse().unwrap();
        assert_eq!(at_least, LevelFilter::AtLeast(RiskLevel::High));
        assert!(at_least.accepts(Some(RiskLevel::Critical)));
        assert!(!at_least.accepts(Some(RiskLevel::Medium)));
        assert!(!at_least.accepts(None));
        let exact: LevelFilter = "=high".parse().unwrap();
        assert!(!exact.accepts(Some(RiskLevel::Critical)));
        assert!(exact.accepts(Some(RiskLevel::High)));
        assert!("severe".parse::<LevelFilter>().is_err());
    }

    #[test]
    fn time_bounds_in_a_fixed_zone() {
        let plus2 = FixedOffset::east_opt(2 * 3600).unwrap();
        let since = parse_time_bound_in("2025-01-15", BoundEdge::Since, &plus2).unwrap();
        assert_eq!(since.to_rfc3339(), "2025-01-14T22:00:00+00:00");
        let until = parse_time_bound_in("2025-01-15", BoundEdge::Until, &plus2).unwrap();
        assert_eq!(
            until.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "2025-01-15T21:59:59.999999999Z"
        );
        let naive = parse_time_bound_in("2025-01-15 14:30", BoundEdge::Since, &plus2).unwrap();
        assert_eq!(naive.to_rfc3339(), "2025-01-15T12:30:00+00:00");
        let aware = parse_time_bound_in("2025-01-15T14:30:00Z", BoundEdge::Since, &plus2).unwrap();
        assert_eq!(aware.to_rfc3339(), "2025-01-15T14:30:00+00:00");
        assert!(parse_time_bound_in("yesterday", BoundEdge::Since, &plus2).is_err());
    }

    #[test]
    fn time_filter_reads_naive_entries_in_the_given_zone() {
        let e = entry(r#"{"intercepted_at":"2025-01-15T14:30:00.123456"}"#);
        let filter = Filter {
            since: Some(parse_time_bound("2025-01-15T13:00:00Z", BoundEdge::Since).unwrap()),
            until: Some(parse_time_bound("2025-01-15T13:59:59Z", BoundEdge::Until).unwrap()),
            ..Filter::default()
        };
        // 14:30 at +01:00 is 13:30Z: inside; at UTC it is 14:30Z: outside.
        assert!(filter.matches_in(&e, &FixedOffset::east_opt(3600).unwrap()));
        assert!(!filter.matches_in(&e, &Utc));
        // Unparsable timestamps are excluded by a time filter.
        assert!(!filter.matches_in(&entry(r#"{"intercepted_at":"soon"}"#), &Utc));
        assert!(Filter::default().matches(&entry(r#"{"intercepted_at":"soon"}"#)));
    }
}
