//! A deliberately small line editor: bytes from a raw terminal become keys,
//! and keys edit one line of text.
//!
//! Kept free of I/O so every key rule is unit-tested. What it understands:
//! printable UTF-8, Backspace, Ctrl-U (clear the line), Enter, Ctrl-C
//! (cancel), Ctrl-D on an empty line (end of input). Everything else
//! (other control bytes, arrow keys and other escape sequences) is ignored,
//! so a stray key can neither answer nor garble a prompt.

use unicode_width::UnicodeWidthChar;

use crate::channel::sanitize_for_display;

/// Longest answer kept, in characters; more typing is ignored. Generous for
/// an explanation, small enough that a stuck key cannot eat memory.
const MAX_LINE_CHARS: usize = 4_000;

/// Longest escape sequence skipped before giving up on it, so a malformed
/// sequence cannot swallow the rest of the input.
const MAX_ESCAPE_LEN: usize = 32;

/// One key press, as far as the editor cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    /// A printable character.
    Char(char),
    /// Backspace or Delete (terminals send either).
    Backspace,
    /// Ctrl-U.
    ClearLine,
    /// Enter.
    Enter,
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-D.
    EndOfFile,
}

/// Where the decoder is inside a multi-byte input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    /// After ESC.
    Escape,
    /// Inside `ESC [ ...` until its final byte; counts bytes seen.
    Csi(usize),
    /// After `ESC O`: one more byte (F1-F4, keypad).
    Ss3,
    /// Inside a UTF-8 sequence: bytes still needed.
    Utf8(usize),
}

/// Turns raw terminal bytes into [`Key`]s.
#[derive(Debug, Default)]
pub(super) struct KeyDecoder {
    state: State,
    utf8: Vec<u8>,
    /// The last byte was CR: a following LF belongs to the same Enter (a
    /// pasted CRLF must not answer the next question with an empty line).
    after_cr: bool,
}

impl KeyDecoder {
    /// Feeds one byte; returns a key when one is complete.
    pub(super) fn feed(&mut self, byte: u8) -> Option<Key> {
        let after_cr = std::mem::take(&mut self.after_cr);
        // Ctrl-C always works, even in the middle of a sequence.
        if byte == 0x03 {
            self.reset();
            return Some(Key::Interrupt);
        }
        match self.state {
            State::Ground => self.ground(byte, after_cr),
            State::Escape => {
                self.state = match byte {
                    b'[' => State::Csi(0),
                    b'O' => State::Ss3,
                    // ESC + key is Alt+key: ignored as a whole.
                    _ => State::Ground,
                };
                None
            }
            State::Csi(seen) => {
                let ends = (0x40..=0x7e).contains(&byte);
                let malformed = !(0x20..0x80).contains(&byte) || seen >= MAX_ESCAPE_LEN;
                self.state = if ends || malformed {
                    State::Ground
                } else {
                    State::Csi(seen + 1)
                };
                None
            }
            State::Ss3 => {
                self.state = State::Ground;
                None
            }
            State::Utf8(needed) => self.continuation(byte, needed, after_cr),
        }
    }

    /// Input paused: a lone ESC was just the Escape key, and a cut-off
    /// UTF-8 sequence will not be completed.
    pub(super) fn idle(&mut self) {
        self.reset();
    }

    fn reset(&mut self) {
        self.state = State::Ground;
        self.utf8.clear();
    }

    fn ground(&mut self, byte: u8, after_cr: bool) -> Option<Key> {
        match byte {
            b'\r' => {
                self.after_cr = true;
                Some(Key::Enter)
            }
            b'\n' if after_cr => None,
            b'\n' => Some(Key::Enter),
            0x04 => Some(Key::EndOfFile),
            0x08 | 0x7f => Some(Key::Backspace),
            0x15 => Some(Key::ClearLine),
            0x1b => {
                self.state = State::Escape;
                None
            }
            0x20..=0x7e => Some(Key::Char(char::from(byte))),
            0xc2..=0xdf => self.start_utf8(byte, 1),
            0xe0..=0xef => self.start_utf8(byte, 2),
            0xf0..=0xf4 => self.start_utf8(byte, 3),
            // Other control bytes, stray continuation bytes, invalid leads.
            _ => None,
        }
    }

    fn start_utf8(&mut self, byte: u8, needed: usize) -> Option<Key> {
        self.utf8.clear();
        self.utf8.push(byte);
        self.state = State::Utf8(needed);
        None
    }

    fn continuation(&mut self, byte: u8, needed: usize, after_cr: bool) -> Option<Key> {
        if !(0x80..=0xbf).contains(&byte) {
            // Broken sequence: drop it and read this byte afresh.
            self.reset();
            return self.ground(byte, after_cr);
        }
        self.utf8.push(byte);
        if needed > 1 {
            self.state = State::Utf8(needed - 1);
            return None;
        }
        let decoded = std::str::from_utf8(&self.utf8)
            .ok()
            .and_then(|s| s.chars().next());
        self.reset();
        decoded.filter(|&c| is_typeable(c)).map(Key::Char)
    }
}

/// Whether a decoded character may go into an answer: no C1 controls, no
/// bidi overrides or other invisible tricks (the same rule as for agent
/// text, so the screen shows exactly what is recorded).
fn is_typeable(c: char) -> bool {
    let mut buf = [0; 4];
    let text = c.encode_utf8(&mut buf);
    sanitize_for_display(text) == *text
}

/// What a key did to the line, for the caller to echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Edit {
    /// Nothing visible changed.
    Nothing,
    /// This character was appended.
    Inserted(char),
    /// Characters occupying this many columns were removed from the end.
    Erased(usize),
    /// The line is done; here it is.
    Submitted(String),
    /// Ctrl-C.
    Interrupted,
    /// Ctrl-D on an empty line.
    EndOfInput,
}

/// One line being typed.
#[derive(Debug, Default)]
pub(super) struct LineEditor {
    text: String,
}

impl LineEditor {
    /// Applies a key.
    pub(super) fn apply(&mut self, key: Key) -> Edit {
        match key {
            Key::Char(c) if self.text.chars().count() < MAX_LINE_CHARS => {
                self.text.push(c);
                Edit::Inserted(c)
            }
            Key::Backspace => match self.text.pop() {
                Some(c) => Edit::Erased(columns(c)),
                None => Edit::Nothing,
            },
            Key::ClearLine => {
                let width = self.text.chars().map(columns).sum();
                self.text.clear();
                if width == 0 {
                    Edit::Nothing
                } else {
                    Edit::Erased(width)
                }
            }
            Key::Enter => Edit::Submitted(std::mem::take(&mut self.text)),
            Key::Interrupt => Edit::Interrupted,
            // Like a shell: Ctrl-D ends input only on an empty line.
            Key::EndOfFile if self.text.is_empty() => Edit::EndOfInput,
            Key::Char(_) | Key::EndOfFile => Edit::Nothing,
        }
    }
}

/// Columns a character occupies on screen.
pub(super) fn columns(c: char) -> usize {
    c.width().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<Key> {
        let mut decoder = KeyDecoder::default();
        bytes.iter().filter_map(|&b| decoder.feed(b)).collect()
    }

    /// Types `bytes` into a fresh editor; returns the edits.
    fn edits(bytes: &[u8]) -> Vec<Edit> {
        let mut editor = LineEditor::default();
        keys(bytes).into_iter().map(|k| editor.apply(k)).collect()
    }

    fn submitted(bytes: &[u8]) -> Option<String> {
        edits(bytes).into_iter().find_map(|e| match e {
            Edit::Submitted(s) => Some(s),
            _ => None,
        })
    }

    #[test]
    fn plain_text_and_enter() {
        assert_eq!(submitted(b"yes\r"), Some("yes".to_owned()));
        assert_eq!(submitted(b"yes\n"), Some("yes".to_owned()));
    }

    #[test]
    fn crlf_is_one_enter() {
        assert_eq!(
            keys(b"a\r\nb\r"),
            [Key::Char('a'), Key::Enter, Key::Char('b'), Key::Enter]
        );
        // But two separate Enters are two.
        assert_eq!(keys(b"\r\r"), [Key::Enter, Key::Enter]);
        assert_eq!(keys(b"\n\n"), [Key::Enter, Key::Enter]);
    }

    #[test]
    fn backspace_and_delete_remove_the_last_character() {
        assert_eq!(submitted(b"yez\x7fs\r"), Some("yes".to_owned()));
        assert_eq!(submitted(b"yez\x08s\r"), Some("yes".to_owned()));
        assert_eq!(submitted(b"\x7f\x7fok\r"), Some("ok".to_owned()));
        assert_eq!(edits(b"\x7f"), [Edit::Nothing]);
    }

    #[test]
    fn backspace_removes_a_whole_multibyte_character() {
        let input = "caf\u{e9}\x7fe\r".as_bytes();
        assert_eq!(submitted(input), Some("cafe".to_owned()));
        // A double-width character takes two columns to erase.
        let e = edits("\u{4e2d}\x7f".as_bytes());
        assert_eq!(e, [Edit::Inserted('\u{4e2d}'), Edit::Erased(2)]);
    }

    #[test]
    fn ctrl_u_clears_the_line() {
        assert_eq!(submitted(b"no\x15yes\r"), Some("yes".to_owned()));
        assert_eq!(edits(b"ab\x15")[2], Edit::Erased(2));
        assert_eq!(edits(b"\x15"), [Edit::Nothing]);
    }

    #[test]
    fn ctrl_c_interrupts_even_inside_an_escape_sequence() {
        assert_eq!(edits(b"ye\x03").last(), Some(&Edit::Interrupted));
        assert_eq!(keys(b"\x1b[1\x03"), [Key::Interrupt]);
        // ... and in the middle of a UTF-8 character.
        let mut cut = "\u{e9}".as_bytes()[..1].to_vec();
        cut.push(0x03);
        assert_eq!(keys(&cut), [Key::Interrupt]);
    }

    #[test]
    fn ctrl_d_ends_input_only_on_an_empty_line() {
        assert_eq!(edits(b"\x04"), [Edit::EndOfInput]);
        assert_eq!(submitted(b"ab\x04c\r"), Some("abc".to_owned()));
    }

    #[test]
    fn arrow_keys_and_other_escapes_are_ignored() {
        // Up, Down, Right, Left, Home (SS3), Delete (CSI 3~), F5, Alt+x.
        let input = b"\x1b[A\x1b[B\x1b[C\x1b[Dy\x1bOH\x1b[3~\x1b[15~e\x1bxs\r";
        assert_eq!(submitted(input), Some("yes".to_owned()));
    }

    #[test]
    fn a_lone_escape_is_forgotten_when_input_pauses() {
        let mut decoder = KeyDecoder::default();
        assert_eq!(decoder.feed(0x1b), None);
        decoder.idle();
        assert_eq!(decoder.feed(b'y'), Some(Key::Char('y')));
    }

    #[test]
    fn a_runaway_escape_sequence_gives_up() {
        let mut input = b"\x1b[".to_vec();
        input.extend(std::iter::repeat_n(b'1', MAX_ESCAPE_LEN + 1));
        input.extend(b"ok\r");
        assert_eq!(submitted(&input), Some("ok".to_owned()));
    }

    #[test]
    fn other_control_bytes_are_ignored() {
        // Tab, Ctrl-A, Ctrl-Z, Ctrl-\, NUL, BEL.
        assert_eq!(
            submitted(b"y\t\x01e\x1a\x1c\x00\x07s\r"),
            Some("yes".to_owned())
        );
    }

    #[test]
    fn utf8_text_is_kept_and_invisible_tricks_are_dropped() {
        let input = "d\u{e9}j\u{e0} \u{2603}\u{202e}\u{200f}\u{85}!\r".as_bytes();
        assert_eq!(
            submitted(input),
            Some("d\u{e9}j\u{e0} \u{2603}!".to_owned())
        );
        // A truncated sequence followed by ASCII keeps the ASCII.
        assert_eq!(submitted(b"\xe2\x98ok\r"), Some("ok".to_owned()));
        // Stray continuation bytes and invalid leads are ignored.
        assert_eq!(submitted(b"\x80\xffok\r"), Some("ok".to_owned()));
    }

    #[test]
    fn very_long_lines_are_capped() {
        let mut input = vec![b'a'; MAX_LINE_CHARS + 10];
        input.push(b'\r');
        assert_eq!(submitted(&input).map(|s| s.len()), Some(MAX_LINE_CHARS));
    }
}
