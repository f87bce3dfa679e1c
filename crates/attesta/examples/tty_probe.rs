//! Asks one prompt at the controlling terminal and prints the outcome as one
//! JSON line on stdout. `tests/terminal_pty.rs` runs it under a
//! pseudo-terminal; run it yourself to see the terminal channel:
//!
//! ```text
//! cargo run -p attesta --example tty_probe            # a sample confirm prompt
//! cargo run -p attesta --example tty_probe -- --gate  # through the whole gate
//! ```
//!
//! Options:
//! - `--prompt JSON`: the `Prompt` to ask (default: a sample confirm).
//! - `--approvers JSON`: `[{"id": "bob", "code": "123456", "os_user": "bob"}]`;
//!   `code` makes a fake one-time-code verifier accept exactly that code.
//! - `--gate`: instead of asking directly, run an `Attesta` gate (medium
//!   risk, built-in confirm challenge) over this channel for a call whose
//!   argument is `--arg TEXT`, and print the decision.
//! - `--config PATH`: with `--gate`, build the gate from this policy file
//!   (`Attesta::config_builder`: its audit log, its terminal channel, its
//!   `policy.approvals` routes) instead, still at the fixed medium risk.
//! - `--color on|off`: force colour (default: from the environment).
//! - `--concurrent N`: ask the prompt N times at once (they must take
//!   turns) and print every outcome.
//! - `--timeout-ms N`: stop waiting for the first answer after N ms (as the
//!   gate does on its approval timeout), then ask again.
//! - `--attach-tty PATH`: first start a new session and make PATH its
//!   controlling terminal (how the tests give it a pseudo-terminal).
//! - `--background`: after `--attach-tty`, hand the terminal's foreground
//!   to another process group, leaving this process in the background.
//! - `--detach`: first start a new session with no terminal at all.
//! - `--wait-stdin`: before asking, wait for one line on stdin (so a test
//!   can type ahead first).
//! - `--report-stdin`: afterwards, read stdin to its end and report how many
//!   bytes were still there (the channel must not have read them).

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use attesta::channel::{
    ActionSummary, Channel, ChannelError, CodeVerifier, Prompt, Question, QuestionKind,
    TerminalChannel, TerminalConfig,
};
use attesta::policy::ApproverConfig;
use attesta::risk::FixedRiskScorer;
use attesta::{ActionContext, Attesta, ChallengeType, RiskLevel};
use serde_json::{Value, json};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tty_probe: {err}");
            ExitCode::from(2)
        }
    }
}

/// Which terminal the probe asks at.
#[derive(Debug, Default)]
enum TerminalSetup {
    /// Whatever this process already has.
    #[default]
    Inherit,
    /// None: a new session without a controlling terminal.
    Detach,
    /// A new session whose controlling terminal is this device; in the
    /// background of it if `background`.
    Attach { path: String, background: bool },
}

/// Parsed command line.
#[derive(Debug, Default)]
struct Options {
    prompt: Option<String>,
    approvers: Option<String>,
    gate: bool,
    config: Option<String>,
    arg: Option<String>,
    color: Option<bool>,
    concurrent: Option<usize>,
    timeout_ms: Option<u64>,
    terminal: TerminalSetup,
    report_stdin: bool,
    wait_stdin: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--prompt" => opts.prompt = Some(value()?),
            "--approvers" => opts.approvers = Some(value()?),
            "--gate" => opts.gate = true,
            "--config" => opts.config = Some(value()?),
            "--arg" => opts.arg = Some(value()?),
            "--color" => opts.color = Some(value()? == "on"),
            "--concurrent" => opts.concurrent = Some(number(&value()?)?),
            "--timeout-ms" => opts.timeout_ms = Some(number(&value()?)?),
            "--attach-tty" => {
                opts.terminal = TerminalSetup::Attach {
                    path: value()?,
                    background: false,
                }
            }
            "--detach" => opts.terminal = TerminalSetup::Detach,
            "--background" => match &mut opts.terminal {
                TerminalSetup::Attach { background, .. } => *background = true,
                _ => return Err("--background needs --attach-tty first".to_owned()),
            },
            "--report-stdin" => opts.report_stdin = true,
            "--wait-stdin" => opts.wait_stdin = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(opts)
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("{text} is not a number"))
}

fn run() -> Result<(), String> {
    let opts = parse_options()?;
    if !matches!(opts.terminal, TerminalSetup::Inherit) {
        rustix::process::setsid().map_err(|e| format!("setsid: {e}"))?;
    }
    let _foreground = match &opts.terminal {
        TerminalSetup::Attach { path, background } => {
            let tty = attach_terminal(path)?;
            background
                .then(|| ForegroundElsewhere::start(&tty))
                .transpose()?
        }
        TerminalSetup::Inherit | TerminalSetup::Detach => None,
    };
    let mut config = TerminalConfig::default();
    if let Some(json) = &opts.approvers {
        let (approvers, verifier) = approvers_from_json(json)?;
        config = config
            .with_approvers(approvers)
            .with_code_verifier(Arc::new(verifier));
    }
    if let Some(color) = opts.color {
        config = config.with_color(color);
    }
    if opts.wait_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("stdin: {e}"))?;
    }
    let channel = Arc::new(TerminalChannel::new(config));
    // IO too: `--config` may name an approval server.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let mut out = if opts.gate {
        let arg = opts.arg.clone().unwrap_or_else(|| "web-01".to_owned());
        runtime.block_on(gate(channel, &arg, opts.config.as_deref()))?
    } else {
        let prompt = match &opts.prompt {
            Some(json) => serde_json::from_str(json).map_err(|e| format!("--prompt: {e}"))?,
            None => sample_prompt(),
        };
        runtime.block_on(ask(channel, prompt, &opts))
    };
    if opts.report_stdin {
        let mut rest = Vec::new();
        std::io::stdin()
            .read_to_end(&mut rest)
            .map_err(|e| format!("stdin: {e}"))?;
        out["stdin_bytes"] = json!(rest.len());
    }
    println!("{out}");
    Ok(())
}

/// Asks directly, as `opts` says.
async fn ask(channel: Arc<TerminalChannel>, prompt: Prompt, opts: &Options) -> Value {
    if let Some(n) = opts.concurrent {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (channel, prompt) = (Arc::clone(&channel), prompt.clone());
                tokio::spawn(async move { outcome(channel.ask(&prompt).await) })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.push(
                task.await
                    .unwrap_or_else(|e| json!({ "join_error": e.to_string() })),
            );
        }
        return json!({ "responses": all });
    }
    if let Some(ms) = opts.timeout_ms {
        let first =
            match tokio::time::timeout(Duration::from_millis(ms), channel.ask(&prompt)).await {
                Ok(result) => outcome(result),
                Err(_) => json!({ "error": { "kind": "timed_out" } }),
            };
        let second = outcome(channel.ask(&prompt).await);
        return json!({ "first": first, "second": second });
    }
    outcome(channel.ask(&prompt).await)
}

fn outcome(result: Result<attesta::channel::Response, ChannelError>) -> Value {
    match result {
        Ok(response) => json!({ "response": response }),
        Err(err) => json!({ "error": error_json(&err) }),
    }
}

/// Makes `path` the controlling terminal of this (new) session.
fn attach_terminal(path: &str) -> Result<OwnedFd, String> {
    use rustix::fs::{Mode, OFlags};
    // Opened without NOCTTY: a session leader with no terminal acquires it.
    let fd = rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("open {path}: {e}"))?;
    // Explicitly too, in case the open did not.
    rustix::process::ioctl_tiocsctty(&fd).map_err(|e| format!("TIOCSCTTY: {e}"))?;
    Ok(fd)
}

/// A `sleep` in its own process group that holds the terminal's
/// foreground, so this process is a background job.
struct ForegroundElsewhere(Child);

impl ForegroundElsewhere {
    fn start(tty: &OwnedFd) -> Result<Self, String> {
        let child = Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .map_err(|e| format!("sleep: {e}"))?;
        let group = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .ok_or("bad pid")?;
        let holder = Self(child);
        rustix::termios::tcsetpgrp(tty, group).map_err(|e| format!("tcsetpgrp: {e}"))?;
        Ok(holder)
    }
}

impl Drop for ForegroundElsewhere {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the gate over the channel (or the policy file's own) and
/// describes the decision.
async fn gate(
    channel: Arc<TerminalChannel>,
    arg: &str,
    config: Option<&str>,
) -> Result<Value, String> {
    let builder = match config {
        Some(path) => Attesta::config_builder(path).map_err(|e| e.to_string())?,
        None => Attesta::builder().channel(channel),
    };
    let attesta = builder
        .scorer(Arc::new(
            FixedRiskScorer::new(0.45).map_err(|e| e.to_string())?,
        ))
        // Multiplier 1.0, so the fixed 0.45 stays MEDIUM: a confirm.
        .environment("ci")
        .build()
        .map_err(|e| e.to_string())?;
    let ctx = ActionContext::new("restart_service")
        .with_arg(arg)
        .with_agent("agent-7");
    let decision = attesta.evaluate(&ctx).await;
    Ok(json!({
        "verdict": decision.verdict.as_str(),
        "reason": decision.reason,
        "challenge": decision.challenge.as_str(),
        "approvers": decision.approvers,
        "review_time_seconds": decision.review_time_seconds,
        "route": decision
            .challenge_result
            .as_ref()
            .and_then(|r| r.details.get("approval_route"))
            .and_then(|v| v.as_str()),
        "unanswered": decision
            .challenge_result
            .as_ref()
            .and_then(|r| r.unanswered)
            .map(attesta::challenge::Unanswered::as_str),
        "responder": decision.challenge_result.map(|r| r.responder),
    }))
}

fn error_json(err: &ChannelError) -> Value {
    let kind = match err {
        ChannelError::Unavailable(_) => "unavailable",
        ChannelError::Failed(_) => "failed",
        ChannelError::Cancelled => "cancelled",
        _ => "other",
    };
    json!({ "kind": kind, "message": err.to_string() })
}

/// Accepts exactly the configured code for each approver.
#[derive(Debug)]
struct FixedCodes(HashMap<String, String>);

impl CodeVerifier for FixedCodes {
    fn has_code(&self, approver_id: &str) -> bool {
        self.0.contains_key(approver_id)
    }

    fn verify(&self, approver_id: &str, code: &str) -> Result<bool, String> {
        Ok(self.0.get(approver_id).is_some_and(|c| c == code))
    }
}

fn approvers_from_json(json: &str) -> Result<(Vec<ApproverConfig>, FixedCodes), String> {
    let list: Vec<Value> = serde_json::from_str(json).map_err(|e| format!("--approvers: {e}"))?;
    let mut approvers = Vec::new();
    let mut codes = HashMap::new();
    for entry in list {
        let field = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_owned);
        let id = field("id").ok_or("--approvers: every entry needs an id")?;
        if let Some(code) = field("code") {
            codes.insert(id.clone(), code);
        }
        approvers.push(ApproverConfig {
            id,
            totp_secret: None,
            os_user: field("os_user"),
        });
    }
    Ok((approvers, FixedCodes(codes)))
}

fn sample_prompt() -> Prompt {
    Prompt {
        challenge_type: ChallengeType::Confirm,
        action: ActionSummary {
            function_name: "restart_service".to_owned(),
            call: "restart_service('web-01')".to_owned(),
            doc: Some("Restarts a service; requests in flight are dropped.".to_owned()),
            environment: "production".to_owned(),
            agent_id: Some("agent-7".to_owned()),
            risk_factors: vec!["environment: production".to_owned()],
        },
        risk_level: RiskLevel::Medium,
        risk_score: 0.45,
        instructions: "Read the action above. Type 'yes' to let it run; anything else stops it."
            .to_owned(),
        questions: vec![Question {
            id: "approve".to_owned(),
            text: "Approve this action?".to_owned(),
            kind: QuestionKind::Choice,
            options: vec!["yes".to_owned(), "no".to_owned()],
        }],
        min_words: None,
        min_review: Duration::from_secs(3),
        approver: None,
    }
}
