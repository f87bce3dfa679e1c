//! Making agent-supplied text safe to show a human.

/// Removes what could make a prompt lie about the action it shows: control
/// characters (C0 other than tab and newline, DEL, C1), ANSI escape
/// sequences, and bidirectional overrides and isolates (which can reorder
/// text on screen, "Trojan Source"). Newlines become visible `⏎` so an
/// argument cannot fake extra lines of the prompt.
///
/// ```
/// use attesta::channel::sanitize_for_display;
/// assert_eq!(sanitize_for_display("rm \u{1b}[8mhidden\u{1b}[0m -rf"), "rm hidden -rf");
/// assert_eq!(sanitize_for_display("a\u{202e}cba"), "acba");
/// assert_eq!(sanitize_for_display("two\nlines"), "two⏎lines");
/// ```
pub fn sanitize_for_display(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape_sequence(&mut chars),
            '\n' => out.push('⏎'),
            '\t' => out.push(' '),
            c if is_unsafe_for_display(c) => {}
            c => out.push(c),
        }
    }
    out
}

fn is_unsafe_for_display(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200e}' | '\u{200f}'             // LRM, RLM
            | '\u{202a}'..='\u{202e}'           // embeddings and overrides
            | '\u{2066}'..='\u{2069}'           // isolates
            | '\u{061c}'                        // Arabic letter mark
            | '\u{feff}') // zero-width no-break space
}

/// Skips the rest of an escape sequence whose ESC was just read: CSI
/// (`ESC [ ... final`), OSC (`ESC ] ... BEL|ST`), or a two-byte escape.
fn skip_escape_sequence(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.peek() {
        Some('[') => {
            chars.next();
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                    chars.next();
                    break;
                }
            }
        }
        Some(_) => {
            chars.next();
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_osc_hyperlinks_and_c1_controls() {
        let s = "click \u{1b}]8;;http://evil\u{7}here\u{1b}]8;;\u{7} now\u{85}";
        assert_eq!(sanitize_for_display(s), "click here now");
        assert_eq!(sanitize_for_display("x\u{1b}]0;title\u{1b}\\y"), "xy");
    }

    #[test]
    fn keeps_ordinary_unicode() {
        assert_eq!(sanitize_for_display("café ☃ 😀"), "café ☃ 😀");
    }
}
