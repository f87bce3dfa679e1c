//! [`TerminalChannel`]: asks the human at the process's controlling
//! terminal (`/dev/tty`).
//!
//! It never touches stdin or stdout, so it works while they carry a
//! protocol (an MCP server speaks JSON-RPC on them) and cannot eat that
//! protocol's bytes. Input is read in raw mode with a small line editor, so
//! Ctrl-C is a clean cancellation the gate records rather than a signal
//! that kills the process before the audit record is written. What the
//! operator sees is described in `docs/terminal.md`.
//!
//! | module | job |
//! |---|---|
//! | `tty` | open `/dev/tty`, raw mode (always undone), width, waiting reads |
//! | `editor` | bytes → keys → one edited line (pure) |
//! | `console` | write text, read lines, stop when the request is withdrawn |
//! | `render` | the prompt as text for a given width, with or without colour |
//! | `identity` | the OS user; choosing and proving a configured approver |
//! | `session` | one prompt, start to finish |

mod console;
mod editor;
mod identity;
mod render;
mod session;
mod tty;

use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use crate::channel::{Channel, ChannelError, CodeVerifier, Prompt, Response};
use crate::clock::{Clock, SystemClock};
use crate::policy::{ApproverConfig, Policy};

use console::Console;
use identity::OsUser;
use render::Layout;
use tty::Tty;

/// There is one controlling terminal per process, so one prompt at a time
/// owns it, whichever channel instance asks.
static TERMINAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How a [`TerminalChannel`] asks and whom it accepts.
///
/// ```
/// use attesta::channel::TerminalConfig;
/// use attesta::Policy;
/// let config = TerminalConfig::from_policy(&Policy::default()).with_color(false);
/// assert!(config.approvers.is_empty());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TerminalConfig {
    /// People who may answer multi-party prompts (`approvers:` in
    /// `attesta.yaml`). Without them, multi-party prompts are refused as
    /// unavailable: a name typed at a keyboard proves nothing.
    pub approvers: Vec<ApproverConfig>,
    /// Checks approvers' one-time codes. Needed when any approver has a
    /// `totp_secret`; without one, such approvers are refused rather than
    /// accepted on weaker proof.
    pub code_verifier: Option<Arc<dyn CodeVerifier>>,
    /// Measures the review time, from the action being on screen to the
    /// last answer.
    pub clock: Arc<dyn Clock>,
    /// `Some(true)`/`Some(false)` forces colour on or off; `None` (the
    /// default) colours unless `NO_COLOR` is set to a non-empty value or
    /// `TERM` is unset or `dumb`.
    pub color: Option<bool>,
}

impl Default for TerminalConfig {
    fn default() -> Self {
        Self {
            approvers: Vec::new(),
            code_verifier: None,
            clock: Arc::new(SystemClock::new()),
            color: None,
        }
    }
}

impl TerminalConfig {
    /// The defaults, with the policy's approvers.
    pub fn from_policy(policy: &Policy) -> Self {
        Self::default().with_approvers(policy.approvers.clone())
    }

    /// Sets the approvers for multi-party prompts.
    #[must_use]
    pub fn with_approvers(mut self, approvers: Vec<ApproverConfig>) -> Self {
        self.approvers = approvers;
        self
    }

    /// Sets the one-time code verifier.
    #[must_use]
    pub fn with_code_verifier(mut self, verifier: Arc<dyn CodeVerifier>) -> Self {
        self.code_verifier = Some(verifier);
        self
    }

    /// Sets the clock that measures review time.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Forces colour on or off.
    #[must_use]
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = Some(color);
        self
    }

    fn use_color(&self) -> bool {
        self.color.unwrap_or_else(|| {
            color_from_env(std::env::var_os("NO_COLOR"), std::env::var_os("TERM"))
        })
    }
}

/// Colour unless `NO_COLOR` is non-empty (no-color.org) or the terminal
/// type says it cannot show it.
fn color_from_env(no_color: Option<OsString>, term: Option<OsString>) -> bool {
    let no_color = no_color.is_some_and(|v| !v.is_empty());
    let capable = term.is_some_and(|t| !t.is_empty() && t != "dumb");
    capable && !no_color
}

/// A [`Channel`] that asks at the controlling terminal. See the module
/// docs and `docs/terminal.md`.
///
/// ```no_run
/// use std::sync::Arc;
/// use attesta::Attesta;
/// use attesta::channel::{TerminalChannel, TerminalConfig};
/// let channel = TerminalChannel::open(TerminalConfig::default())?;
/// let attesta = Attesta::builder().channel(Arc::new(channel)).build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TerminalChannel {
    config: Arc<TerminalConfig>,
}

/// The name of the OS account this process runs as, as the terminal channel
/// resolves it (from the user id and `/etc/passwd`, not trusting `$USER`
/// alone).
pub fn current_os_user() -> String {
    identity::OsUser::current().name
}

impl TerminalChannel {
    /// A channel that looks for the terminal only when it asks.
    pub fn new(config: TerminalConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    /// A channel, after checking that there is a controlling terminal now;
    /// [`ChannelError::Unavailable`] if not, so a caller can pick another
    /// channel at startup.
    pub fn open(config: TerminalConfig) -> Result<Self, ChannelError> {
        Tty::open().map_err(|err| no_terminal(&err))?;
        Ok(Self::new(config))
    }
}

#[async_trait]
impl Channel for TerminalChannel {
    fn name(&self) -> &'static str {
        "terminal"
    }

    async fn ask(&self, prompt: &Prompt) -> Result<Response, ChannelError> {
        let turn = TERMINAL.lock().await;
        let withdrawn = Arc::new(AtomicBool::new(false));
        // If the caller stops waiting (approval timeout), the prompt must
        // stop reading too, or it would take the operator's next keystrokes.
        let _withdraw = WithdrawOnDrop(Arc::clone(&withdrawn));
        let config = Arc::clone(&self.config);
        let prompt = prompt.clone();
        let job = tokio::task::spawn_blocking(move || {
            // Held until the terminal is restored, even if nobody waits.
            let _turn = turn;
            ask_blocking(&config, &prompt, &withdrawn)
        });
        match job.await {
            Ok(outcome) => outcome,
            Err(err) if err.is_panic() => Err(ChannelError::Failed(
                "the terminal prompt failed unexpectedly".to_owned(),
            )),
            Err(_) => Err(ChannelError::Cancelled),
        }
    }
}

/// Sets the flag when the asking future is dropped (or finishes).
#[derive(Debug)]
struct WithdrawOnDrop(Arc<AtomicBool>);

impl Drop for WithdrawOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The whole prompt, on a blocking thread.
fn ask_blocking(
    config: &TerminalConfig,
    prompt: &Prompt,
    withdrawn: &AtomicBool,
) -> Result<Response, ChannelError> {
    if prompt.approver.is_some() {
        identity::require_approvers(&config.approvers)?;
    }
    let tty = Tty::open().map_err(|err| no_terminal(&err))?;
    if !tty.in_foreground() {
        return Err(ChannelError::Unavailable(
            "this process runs in the background of its terminal, where asking would stop \
             it; bring it to the foreground (fg), or use a channel that does not need the \
             terminal"
                .to_owned(),
        ));
    }
    let raw = tty
        .enter_raw()
        .map_err(|err| ChannelError::Failed(format!("could not set up the terminal: {err}")))?;
    let layout = Layout::new(tty.columns(), config.use_color());
    let os_user = OsUser::current();
    let mut term = raw.tty();
    let mut console = Console::new(&mut term, withdrawn, layout);
    let outcome = session::run(&mut console, prompt, config, &os_user);
    if let Err(halt) = &outcome
        && let Some(farewell) = halt.farewell()
    {
        // Best effort: the terminal may be the thing that failed.
        let _ = console.say(&layout.hint(farewell));
    }
    drop(console);
    drop(raw);
    outcome.map_err(console::Halt::into_channel_error)
}

/// The error for a process without a usable controlling terminal.
fn no_terminal(err: &std::io::Error) -> ChannelError {
    ChannelError::Unavailable(format!(
        "the terminal channel needs a controlling terminal ({} could not be opened: {err}); \
         run from an interactive terminal, or use a channel that does not need one, such as \
         MCP elicitation when Attesta runs as an MCP server",
        tty::TTY_PATH
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_no_color_and_term() {
        let os = |s: &str| Some(OsString::from(s));
        assert!(color_from_env(None, os("xterm-256color")));
        assert!(
            color_from_env(os(""), os("xterm")),
            "empty NO_COLOR is unset"
        );
        assert!(!color_from_env(os("1"), os("xterm")));
        assert!(!color_from_env(None, os("dumb")));
        assert!(!color_from_env(None, None));
        assert!(!TerminalConfig::default().with_color(false).use_color());
        assert!(TerminalConfig::default().with_color(true).use_color());
    }

    #[test]
    fn from_policy_takes_the_approvers() {
        let mut policy = Policy::default();
        policy.approvers.push(ApproverConfig {
            id: "alice".to_owned(),
            totp_secret: None,
            os_user: None,
        });
        assert_eq!(TerminalConfig::from_policy(&policy).approvers.len(), 1);
    }

    #[test]
    fn the_unavailable_message_says_what_would_work() {
        let err = no_terminal(&std::io::Error::other("No such device or address"));
        let ChannelError::Unavailable(msg) = err else {
            panic!()
        };
        assert!(
            msg.contains("/dev/tty") && msg.contains("MCP elicitation"),
            "{msg}"
        );
    }
}
