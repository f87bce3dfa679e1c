//! The operator's side of a prompt as one object: write text, read a line.
//!
//! [`Console`] works over any [`Terminal`] (the real `/dev/tty`, or a fake
//! in unit tests), keeps type-ahead between lines, and stops reading as
//! soon as the caller withdraws the request, so a prompt the gate has given
//! up on cannot swallow the operator's next keystrokes.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::editor::{Edit, Key, KeyDecoder, LineEditor};
use super::render::Layout;
use super::tty::Tty;
use crate::channel::ChannelError;

/// How often a waiting read checks whether the request was withdrawn.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Byte-level access to a terminal.
pub(super) trait Terminal {
    /// Waits up to `wait` for input and reads it into `buf`. `Ok(None)`: no
    /// input yet; `Ok(Some(0))`: the terminal is gone.
    fn read_input(&mut self, buf: &mut [u8], wait: Duration) -> io::Result<Option<usize>>;

    /// Shows `text`.
    fn write_text(&mut self, text: &str) -> io::Result<()>;
}

impl Terminal for &Tty {
    fn read_input(&mut self, buf: &mut [u8], wait: Duration) -> io::Result<Option<usize>> {
        if self.wait_readable(wait)? {
            self.read(buf).map(Some)
        } else {
            Ok(None)
        }
    }

    fn write_text(&mut self, text: &str) -> io::Result<()> {
        self.write_all(text.as_bytes())
    }
}

/// Why a prompt ended without a response.
#[derive(Debug)]
pub(super) enum Halt {
    /// The operator pressed Ctrl-C, or Ctrl-D on an empty line.
    Cancelled,
    /// The terminal went away (hang-up, end of input).
    HungUp,
    /// The caller stopped waiting (approval timeout, dropped request).
    Withdrawn,
    /// Reading or writing the terminal failed.
    Io(io::Error),
    /// The channel refuses to produce a response (no approvers configured,
    /// identity not proven).
    Refused(ChannelError),
}

impl Halt {
    /// What to tell the operator as the prompt ends.
    pub(super) fn farewell(&self) -> Option<&'static str> {
        match self {
            Self::Cancelled => Some("Cancelled. Nothing was approved at this prompt."),
            Self::Withdrawn => Some(
                "This request was withdrawn (it timed out or was cancelled); \
                 nothing typed now counts.",
            ),
            Self::Refused(_) => Some("No answer was recorded."),
            Self::HungUp | Self::Io(_) => None,
        }
    }

    /// The channel error the caller sees.
    pub(super) fn into_channel_error(self) -> ChannelError {
        match self {
            Self::Cancelled | Self::HungUp | Self::Withdrawn => ChannelError::Cancelled,
            Self::Io(err) => ChannelError::Failed(format!("terminal I/O failed: {err}")),
            Self::Refused(err) => err,
        }
    }
}

impl From<io::Error> for Halt {
    fn from(err: io::Error) -> Self {
        Self::Io(err)
    }
}

/// Writes prompts and reads answers on one terminal.
pub(super) struct Console<'t> {
    term: &'t mut dyn Terminal,
    withdrawn: &'t AtomicBool,
    decoder: KeyDecoder,
    /// Bytes read but not yet turned into keys (type-ahead for the next
    /// line).
    pending: VecDeque<u8>,
    layout: Layout,
}

impl std::fmt::Debug for Console<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("pending", &self.pending.len())
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl<'t> Console<'t> {
    /// A console on `term` that gives up once `withdrawn` is set.
    pub(super) fn new(
        term: &'t mut dyn Terminal,
        withdrawn: &'t AtomicBool,
        layout: Layout,
    ) -> Self {
        Self {
            term,
            withdrawn,
            decoder: KeyDecoder::default(),
            pending: VecDeque::new(),
            layout,
        }
    }

    /// How to lay out text for this terminal.
    pub(super) fn layout(&self) -> Layout {
        self.layout
    }

    /// Shows `text`.
    pub(super) fn say(&mut self, text: &str) -> Result<(), Halt> {
        Ok(self.term.write_text(text)?)
    }

    /// Reads one line. With `echo` off (one-time codes) nothing typed is
    /// shown.
    pub(super) fn read_line(&mut self, echo: bool) -> Result<String, Halt> {
        let mut editor = LineEditor::default();
        loop {
            let key = self.next_key()?;
            match editor.apply(key) {
                Edit::Inserted(c) if echo => {
                    let mut buf = [0; 4];
                    self.say(c.encode_utf8(&mut buf))?;
                }
                Edit::Erased(columns) if echo => {
                    // Back, blank, back: no cursor-movement escapes needed.
                    let back = "\u{8}".repeat(columns);
                    self.say(&format!("{back}{}{back}", " ".repeat(columns)))?;
                }
                Edit::Nothing | Edit::Inserted(_) | Edit::Erased(_) => {}
                Edit::Submitted(line) => {
                    self.say("\n")?;
                    return Ok(line);
                }
                Edit::Interrupted => {
                    self.say("^C\n")?;
                    return Err(Halt::Cancelled);
                }
                Edit::EndOfInput => {
                    self.say("^D\n")?;
                    return Err(Halt::Cancelled);
                }
            }
        }
    }

    fn next_key(&mut self) -> Result<Key, Halt> {
        loop {
            if self.withdrawn.load(Ordering::Acquire) {
                return Err(Halt::Withdrawn);
            }
            while let Some(byte) = self.pending.pop_front() {
                if let Some(key) = self.decoder.feed(byte) {
                    return Ok(key);
                }
            }
            let mut buf = [0; 256];
            match self.term.read_input(&mut buf, POLL_INTERVAL)? {
                None => self.decoder.idle(),
                Some(0) => return Err(Halt::HungUp),
                Some(n) => self.pending.extend(&buf[..n]),
            }
        }
    }
}

#[cfg(test)]
pub(super) mod fake {
    //! An in-memory terminal for unit tests.

    use super::*;

    /// Replays `input` in chunks and records everything written.
    #[derive(Debug, Default)]
    pub(crate) struct FakeTerminal {
        pub(crate) input: VecDeque<Vec<u8>>,
        pub(crate) output: String,
    }

    impl FakeTerminal {
        /// Input delivered as one chunk per element.
        pub(crate) fn typing<I: IntoIterator<Item = S>, S: AsRef<[u8]>>(chunks: I) -> Self {
            Self {
                input: chunks.into_iter().map(|c| c.as_ref().to_vec()).collect(),
                output: String::new(),
            }
        }
    }

    impl Terminal for FakeTerminal {
        fn read_input(&mut self, buf: &mut [u8], _wait: Duration) -> io::Result<Option<usize>> {
            // Exhausted input reads as a hang-up, so a test cannot spin.
            let Some(mut chunk) = self.input.pop_front() else {
                return Ok(Some(0));
            };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                self.input.push_front(chunk.split_off(n));
            }
            Ok(Some(n))
        }

        fn write_text(&mut self, text: &str) -> io::Result<()> {
            self.output.push_str(text);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeTerminal;
    use super::*;

    fn layout() -> Layout {
        Layout::new(Some(80), false)
    }

    #[test]
    fn type_ahead_carries_over_to_the_next_line() {
        let mut term = FakeTerminal::typing(["A\rsecond line\r"]);
        let flag = AtomicBool::new(false);
        let mut console = Console::new(&mut term, &flag, layout());
        assert_eq!(console.read_line(true).unwrap(), "A");
        assert_eq!(console.read_line(true).unwrap(), "second line");
        assert!(matches!(console.read_line(true), Err(Halt::HungUp)));
    }

    #[test]
    fn echo_shows_typing_and_erases_with_backspaces() {
        let mut term = FakeTerminal::typing(["nz\x7fo\r"]);
        let flag = AtomicBool::new(false);
        Console::new(&mut term, &flag, layout())
            .read_line(true)
            .unwrap();
        assert_eq!(term.output, "nz\u{8} \u{8}o\n");
    }

    #[test]
    fn secret_lines_are_not_echoed() {
        let mut term = FakeTerminal::typing(["123456\r"]);
        let flag = AtomicBool::new(false);
        let code = Console::new(&mut term, &flag, layout())
            .read_line(false)
            .unwrap();
        assert_eq!(code, "123456");
        assert!(!term.output.contains("123456"));
    }

    #[test]
    fn ctrl_c_and_ctrl_d_cancel() {
        for input in ["ye\x03", "\x04"] {
            let mut term = FakeTerminal::typing([input]);
            let flag = AtomicBool::new(false);
            let got = Console::new(&mut term, &flag, layout()).read_line(true);
            assert!(matches!(got, Err(Halt::Cancelled)), "{input:?}");
        }
    }

    #[test]
    fn a_withdrawn_request_stops_reading_at_once() {
        let mut term = FakeTerminal::typing(["yes\r"]);
        let flag = AtomicBool::new(true);
        let got = Console::new(&mut term, &flag, layout()).read_line(true);
        assert!(matches!(got, Err(Halt::Withdrawn)));
        assert_eq!(term.input.len(), 1, "the operator's typing was left alone");
    }

    #[test]
    fn halts_map_to_channel_errors() {
        assert_eq!(
            Halt::Cancelled.into_channel_error(),
            ChannelError::Cancelled
        );
        assert_eq!(Halt::HungUp.into_channel_error(), ChannelError::Cancelled);
        assert!(matches!(
            Halt::Io(io::Error::other("x")).into_channel_error(),
            ChannelError::Failed(_)
        ));
    }
}
