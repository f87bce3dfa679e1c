//! What the operator sees: the prompt laid out for the terminal's width,
//! coloured or not.
//!
//! Pure functions from a [`Prompt`] to text, so layout is unit-tested
//! without a terminal. Every piece of prompt text goes through
//! [`sanitize_for_display`] again here, even though challenges sanitise the
//! action already: the renderer is the last place that can stop an escape
//! sequence from reaching the screen, so it does not trust its input.

use std::time::Duration;

use unicode_width::UnicodeWidthStr;

use super::editor::columns;
use crate::channel::{Prompt, Question, QuestionKind, sanitize_for_display};
use crate::risk::RiskLevel;

/// Width used when the terminal does not report one.
pub(super) const FALLBACK_WIDTH: usize = 80;
/// Narrowest layout attempted (the risk line needs about 30 columns);
/// narrower terminals wrap our lines again.
const MIN_WIDTH: usize = 30;
/// Widest layout: longer lines are harder to read, not easier.
const MAX_WIDTH: usize = 100;
/// Below this width labels go on their own line instead of a column.
const COLUMN_LAYOUT_MIN_WIDTH: usize = 40;
/// Width of the label column ("Environment" plus a space).
const LABEL_WIDTH: usize = 12;
/// Longest call text shown in full; past it, the rest is announced, never
/// silently dropped.
const MAX_CALL_CHARS: usize = 4_000;

/// SGR codes used; nothing else is ever emitted.
const BOLD: &str = "1";
const DIM: &str = "2";
const WARNING: &str = "1;33";

/// How text is laid out and whether it is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    width: usize,
    color: bool,
}

impl Layout {
    /// A layout for a terminal `columns` wide (if known).
    pub(super) fn new(columns: Option<usize>, color: bool) -> Self {
        Self {
            width: columns
                .unwrap_or(FALLBACK_WIDTH)
                .clamp(MIN_WIDTH, MAX_WIDTH),
            color,
        }
    }

    /// `text` wrapped in an SGR colour when colour is on.
    fn paint(self, sgr: &str, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("\u{1b}[{sgr}m{text}\u{1b}[0m")
        } else {
            text.to_owned()
        }
    }

    /// A sanitised paragraph wrapped to the width, each line ending in "\n",
    /// continuation lines indented by `indent` spaces.
    pub(super) fn paragraph(self, text: &str, indent: usize) -> String {
        self.painted_paragraph(None, text, indent)
    }

    fn painted_paragraph(self, sgr: Option<&str>, text: &str, indent: usize) -> String {
        let pad = " ".repeat(indent);
        let room = self.width.saturating_sub(indent).max(MIN_WIDTH / 2);
        let mut out = String::new();
        for (i, line) in wrap(&sanitize_for_display(text), room).iter().enumerate() {
            if i > 0 {
                out.push_str(&pad);
            }
            match sgr {
                Some(sgr) => out.push_str(&self.paint(sgr, line)),
                None => out.push_str(line),
            }
            out.push('\n');
        }
        out
    }

    /// A highlighted warning paragraph.
    pub(super) fn warning(self, text: &str) -> String {
        self.painted_paragraph(Some(WARNING), &format!("Warning: {text}"), 2)
    }

    /// A bold line (a heading or a question).
    pub(super) fn heading(self, text: &str) -> String {
        self.painted_paragraph(Some(BOLD), text, 0)
    }

    /// A dim hint line.
    pub(super) fn hint(self, text: &str) -> String {
        self.painted_paragraph(Some(DIM), text, 0)
    }

    /// `Label       value`, the value wrapped beside the label (or below it
    /// on narrow terminals).
    fn field(self, label: &str, value: &str) -> String {
        let value = sanitize_for_display(value);
        let label_text = self.paint(DIM, label);
        if self.width < COLUMN_LAYOUT_MIN_WIDTH {
            let mut out = format!("{label_text}\n  ");
            out.push_str(&self.paragraph(&value, 2));
            return out;
        }
        let gap = " ".repeat(LABEL_WIDTH.saturating_sub(label.width()).max(1));
        format!("{label_text}{gap}{}", self.paragraph(&value, LABEL_WIDTH))
    }

    /// The width in use.
    pub(super) fn width(self) -> usize {
        self.width
    }
}

/// The colour of a risk level.
fn level_sgr(level: RiskLevel) -> &'static str {
    match level {
        RiskLevel::Low => "32",
        RiskLevel::Medium => "33",
        RiskLevel::High => "31",
        RiskLevel::Critical => "1;37;41",
    }
}

/// Ten cells, one per tenth of the score (rounded half to even), e.g.
/// `██████░░░░` for 0.62.
pub(super) fn risk_bar(score: f64) -> String {
    // In 0..=10 after the clamp, so the cast neither truncates nor wraps;
    // NaN becomes 0.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let filled = (score.clamp(0.0, 1.0) * 10.0).round_ties_even() as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(10 - filled))
}

/// The title rule and the risk line.
pub(super) fn header(prompt: &Prompt, layout: Layout) -> String {
    let kind = prompt.challenge_type.as_str().replace('_', "-");
    let level = prompt.risk_level.as_str().to_ascii_uppercase();
    let title = format!("ATTESTA · {} · {level} RISK", kind.to_ascii_uppercase());
    let mut out = String::from("\n");
    let used = title.width() + 4;
    if used <= layout.width() {
        let rule = "─".repeat(layout.width() - used);
        out.push_str(&layout.paint(BOLD, &format!("── {title} {rule}")));
        out.push('\n');
    } else {
        out.push_str(&layout.heading(&title));
    }
    let risk = format!(
        "{} {:.2} {level}",
        layout.paint(level_sgr(prompt.risk_level), &risk_bar(prompt.risk_score)),
        prompt.risk_score
    );
    let label = layout.paint(DIM, "Risk");
    let gap = " ".repeat(LABEL_WIDTH - "Risk".len());
    if layout.width() < COLUMN_LAYOUT_MIN_WIDTH {
        out.push_str(&label);
        out.push_str("\n  ");
    } else {
        out.push_str(&label);
        out.push_str(&gap);
    }
    out.push_str(&risk);
    out.push('\n');
    out
}

/// What the action is: function, call, documentation, environment, agent,
/// and why it is risky.
pub(super) fn action(prompt: &Prompt, layout: Layout) -> String {
    let a = &prompt.action;
    let mut out = layout.field("Action", &a.function_name);
    out.push_str(&layout.field("Call", &shorten(&a.call, MAX_CALL_CHARS)));
    if let Some(doc) = a.doc.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push_str(&layout.field("About", doc));
    }
    out.push_str(&layout.field("Environment", &a.environment));
    if let Some(agent) = a.agent_id.as_deref().filter(|s| !s.is_empty()) {
        out.push_str(&layout.field("Agent", agent));
    }
    if !a.risk_factors.is_empty() {
        out.push_str(&layout.paint(DIM, "Risk factors"));
        out.push('\n');
        for factor in &a.risk_factors {
            out.push_str("  - ");
            out.push_str(&layout.paragraph(factor, 4));
        }
    }
    out
}

/// The instructions and the review-time guidance.
pub(super) fn guidance(prompt: &Prompt, layout: Layout) -> String {
    let mut out = String::from("\n");
    if !prompt.instructions.trim().is_empty() {
        out.push_str(&layout.paragraph(&prompt.instructions, 0));
    }
    if !prompt.min_review.is_zero() {
        out.push_str(&layout.hint(&format!(
            "Take at least {} to review before answering; answering sooner is recorded.",
            seconds(prompt.min_review)
        )));
    }
    out
}

/// One question: its text, lettered options or the word minimum, and a
/// hint on how to answer. Ends without the input marker.
pub(super) fn question(
    q: &Question,
    number: usize,
    total: usize,
    min_words: Option<usize>,
    layout: Layout,
) -> String {
    let mut out = String::from("\n");
    if total > 1 {
        out.push_str(&layout.paint(DIM, &format!("Question {number} of {total}")));
        out.push('\n');
    }
    out.push_str(&layout.heading(&q.text));
    match q.kind {
        QuestionKind::Choice if !q.options.is_empty() => {
            for (i, option) in q.options.iter().enumerate() {
                out.push_str("  ");
                out.push_str(&option_label(i));
                out.push_str(") ");
                out.push_str(&layout.paragraph(option, 5));
            }
            let last = option_label(q.options.len().min(26) - 1);
            out.push_str(&layout.hint(&format!(
                "Type a letter (A-{last}) or the option itself, then Enter."
            )));
        }
        QuestionKind::Choice | QuestionKind::FreeText => {}
        QuestionKind::Explanation => {
            let words = match min_words {
                Some(n) if n > 0 => format!(" (at least {n} words)"),
                _ => String::new(),
            };
            out.push_str(&layout.hint(&format!(
                "Explain in your own words{words}, on one line, then Enter."
            )));
        }
    }
    out
}

/// The marker where the operator types.
pub(super) fn input_marker(layout: Layout) -> String {
    layout.paint(BOLD, "> ")
}

/// `A`, `B`, ... for the first 26 options, then `27`, `28`, ... (which
/// nobody should need, but must not panic).
pub(super) fn option_label(index: usize) -> String {
    u8::try_from(index).ok().filter(|&i| i < 26).map_or_else(
        || (index + 1).to_string(),
        |i| char::from(b'A' + i).to_string(),
    )
}

/// `10 s`, `2.5 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// `text` cut to `max` characters with an explicit note of what was cut.
fn shorten(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… ({} more characters not shown)", total - max)
}

/// Greedy word wrap to `width` columns. Words longer than a line are cut;
/// runs of spaces collapse. Always at least one (possibly empty) line.
pub(super) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = word.width();
        if used > 0 && used + 1 + w <= width {
            line.push(' ');
            line.push_str(word);
            used += 1 + w;
            continue;
        }
        if used > 0 {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        if w <= width {
            line.push_str(word);
            used = w;
            continue;
        }
        for c in word.chars() {
            let cw = columns(c);
            if used + cw > width && used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += cw;
        }
    }
    if used > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::ChallengeType;
    use crate::channel::ActionSummary;

    fn prompt() -> Prompt {
        Prompt {
            challenge_type: ChallengeType::TeachBack,
            action: ActionSummary {
                function_name: "delete_database".to_owned(),
                call: "delete_database('production', force=True)".to_owned(),
                doc: Some("Drops every table.".to_owned()),
                environment: "production".to_owned(),
                agent_id: Some("agent-7".to_owned()),
                risk_factors: vec!["arguments: destructive verb 'delete'".to_owned()],
            },
            risk_level: RiskLevel::High,
            risk_score: 0.62,
            instructions: "Explain what this does.".to_owned(),
            questions: vec![Question {
                id: "q".to_owned(),
                text: "What will happen?".to_owned(),
                kind: QuestionKind::Explanation,
                options: Vec::new(),
            }],
            min_words: Some(15),
            min_review: Duration::from_secs(10),
            approver: None,
        }
    }

    fn screen(p: &Prompt, layout: Layout) -> String {
        let mut s = header(p, layout);
        s.push_str(&action(p, layout));
        s.push_str(&guidance(p, layout));
        for (i, q) in p.questions.iter().enumerate() {
            s.push_str(&question(q, i + 1, p.questions.len(), p.min_words, layout));
        }
        s
    }

    #[test]
    fn risk_bar_rounds_half_to_even() {
        assert_eq!(risk_bar(0.62), "██████░░░░");
        assert_eq!(risk_bar(0.45), "████░░░░░░");
        assert_eq!(risk_bar(0.25), "██░░░░░░░░");
        assert_eq!(risk_bar(0.0), "░░░░░░░░░░");
        assert_eq!(risk_bar(1.0), "██████████");
        assert_eq!(risk_bar(1.7), "██████████");
        assert_eq!(risk_bar(f64::NAN), "░░░░░░░░░░");
    }

    #[test]
    fn shows_everything_the_operator_needs() {
        let s = screen(&prompt(), Layout::new(Some(80), false));
        for needle in [
            "ATTESTA · TEACH-BACK · HIGH RISK",
            "██████░░░░ 0.62 HIGH",
            "delete_database('production', force=True)",
            "Drops every table.",
            "production",
            "agent-7",
            "destructive verb",
            "Explain what this does.",
            "Take at least 10 s to review before answering; answering sooner is recorded.",
            "What will happen?",
            "at least 15 words",
        ] {
            assert!(s.contains(needle), "missing {needle:?} in\n{s}");
        }
        assert!(!s.contains('\u{1b}'), "no colour asked for: {s:?}");
    }

    #[test]
    fn every_line_fits_the_width() {
        let mut p = prompt();
        p.action.call = format!("run('{}')", "x".repeat(300));
        p.instructions = "word ".repeat(60);
        for width in [30, 40, 57, 80] {
            let s = screen(&p, Layout::new(Some(width), false));
            for line in s.lines() {
                assert!(line.width() <= width, "{width}: {line:?} is too wide");
            }
        }
    }

    #[test]
    fn choices_are_lettered() {
        let mut p = prompt();
        p.questions = vec![Question {
            id: "dir".to_owned(),
            text: "Which directory?".to_owned(),
            kind: QuestionKind::Choice,
            options: vec!["/srv/data".to_owned(), "/tmp".to_owned(), "/var".to_owned()],
        }];
        let s = screen(&p, Layout::new(Some(80), false));
        assert!(s.contains("  A) /srv/data\n  B) /tmp\n  C) /var\n"), "{s}");
        assert!(s.contains("(A-C)"));
        assert_eq!(option_label(0), "A");
        assert_eq!(option_label(25), "Z");
        assert_eq!(option_label(26), "27");
    }

    #[test]
    fn agent_text_cannot_smuggle_escapes_or_bidi() {
        let mut p = prompt();
        p.action.call =
            "rm \u{1b}[8mhidden\u{1b}[0m \u{202e}fr- \u{1b}]8;;http://x\u{7}y".to_owned();
        p.action.function_name = "\u{1b}[2Jwipe".to_owned();
        p.questions[0].text = "q\u{1b}[31m?".to_owned();
        let plain = screen(&p, Layout::new(Some(80), false));
        assert!(!plain.contains('\u{1b}'));
        assert!(!plain.contains('\u{202e}'));
        assert!(plain.contains("rm hidden fr- y"));
        // With colour, the only escapes are our own SGR codes.
        let coloured = screen(&p, Layout::new(Some(80), true));
        let sgr = regex::Regex::new("\u{1b}\\[[0-9;]*m").unwrap();
        assert!(!sgr.replace_all(&coloured, "").contains('\u{1b}'));
        assert!(coloured.contains("\u{1b}[31m██████░░░░\u{1b}[0m"));
    }

    #[test]
    fn narrow_terminals_stack_labels() {
        let s = screen(&prompt(), Layout::new(Some(30), false));
        assert!(s.contains("Action\n  delete_database\n"), "{s}");
    }

    #[test]
    fn long_calls_are_cut_with_a_note() {
        let mut p = prompt();
        p.action.call = "y".repeat(MAX_CALL_CHARS + 5);
        let s = action(&p, Layout::new(Some(100), false));
        assert!(s.contains("(5 more characters not shown)"));
    }

    #[test]
    fn wrap_cuts_long_words_and_keeps_short_lines() {
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(wrap("a  b", 10), ["a b"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        // Double-width characters count twice.
        assert_eq!(wrap("中中中", 4), ["中中", "中"]);
    }

    #[test]
    fn review_time_is_printed_plainly() {
        assert_eq!(seconds(Duration::from_secs(3)), "3 s");
        assert_eq!(seconds(Duration::from_millis(2500)), "2.5 s");
    }
}
