//! `attesta demo`: a guided tour in the user's own terminal. Sample actions
//! at every level are gated for real: each challenge can be passed only by a
//! correct answer, and there is no flag that skips one.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use attesta::audit::JsonlAuditLog;
use attesta::challenge::{ConfiguredSecrets, TotpSecret, TotpVerifier};
use attesta::channel::{CodeVerifier, TerminalChannel, TerminalConfig};
use attesta::clock::SystemClock;
use attesta::policy::{ApproverConfig, SecretSource};
use attesta::{ActionContext, Attesta, ChallengeType, Decision, Policy, RiskLevel, Verdict};
use rand::TryRng as _;

use crate::cli::{DemoArgs, DemoCommand};

/// The second demo approver, who proves who they are with a one-time code.
const SECOND_APPROVER: &str = "bob";

/// Where the demo keeps its approver secret: beside the project, like the
/// rest of `.attesta/`, never in a shared temporary directory.
fn demo_dir() -> PathBuf {
    PathBuf::from(".attesta").join("demo")
}

pub(crate) fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    match (&args.command, &args.server) {
        (Some(DemoCommand::Authenticator), _) => authenticator(),
        (None, Some(server)) => super::demo_server::run(args, server),
        (None, None) => tour(),
    }
}

/// One step of the tour.
struct Step {
    title: &'static str,
    explains: &'static str,
    ctx: ActionContext,
    level: RiskLevel,
    challenge: ChallengeType,
}

fn steps() -> Vec<Step> {
    vec![
        Step {
            title: "LOW: list files",
            explains: "Low-risk actions run at once; nobody is asked.",
            ctx: ActionContext::new("list_files").with_arg("/srv/app"),
            level: RiskLevel::Low,
            challenge: ChallengeType::AutoApprove,
        },
        Step {
            title: "MEDIUM: change a setting",
            explains: "A confirmation: read the action, then type yes (anything else stops it).",
            ctx: ActionContext::new("update_config")
                .with_kwarg("key", "request_timeout")
                .with_kwarg("value", 30),
            level: RiskLevel::Medium,
            challenge: ChallengeType::Confirm,
        },
        Step {
            title: "HIGH: delete a report",
            explains: "A quiz generated from the action's own arguments: answer from what you see.",
            ctx: ActionContext::new("delete_file").with_arg("/var/data/reports/q3.csv"),
            level: RiskLevel::High,
            challenge: ChallengeType::Quiz,
        },
        Step {
            title: "HIGH: rotate credentials (teach-back)",
            explains: "Explain in your own words what the action does and what it affects.",
            ctx: ActionContext::new("rotate_credentials")
                .with_kwarg("service", "payments")
                .with_kwarg("keep_old_for_hours", 24),
            level: RiskLevel::High,
            challenge: ChallengeType::TeachBack,
        },
        Step {
            title: "CRITICAL: drop a table (two approvers)",
            explains: "Two different people, each passing a different challenge. You answer the \
                       first; Bob proves who he is with a one-time code: run \
                       `attesta demo authenticator` in another terminal to see his code.",
            ctx: ActionContext::new("drop_table")
                .with_kwarg("table", "user_sessions")
                .with_kwarg("database", "prod"),
            level: RiskLevel::Critical,
            challenge: ChallengeType::MultiParty,
        },
    ]
}

fn tour() -> anyhow::Result<ExitCode> {
    let me = attesta::channel::current_os_user();
    let secret_file = ensure_demo_secret(&demo_dir())?;
    let approvers = vec![
        ApproverConfig {
            id: me.clone(),
            totp_secret: None,
            os_user: Some(me.clone()),
        },
        ApproverConfig {
            id: SECOND_APPROVER.to_owned(),
            totp_secret: Some(SecretSource::File(secret_file)),
            os_user: None,
        },
    ];
    let clock = Arc::new(SystemClock::new());
    let policy = Policy::default();
    let secrets = Arc::new(ConfiguredSecrets::from_approvers(&approvers));
    let verifier: Arc<dyn CodeVerifier> =
        Arc::new(TotpVerifier::new(policy.totp, secrets, clock.clone()).context("TOTP settings")?);
    let config = TerminalConfig::default()
        .with_approvers(approvers)
        .with_code_verifier(verifier)
        .with_clock(clock.clone());
    let channel =
        Arc::new(TerminalChannel::open(config).map_err(|e| {
            anyhow::anyhow!("{e}\nattesta demo is interactive: run it in a terminal")
        })?);
    // The demo's decisions go where real ones would: the policy's audit log.
    let (site_policy, _) = crate::config::load_policy(None)?;
    let log_path = site_policy.audit.path.clone();
    let audit = Arc::new(JsonlAuditLog::new(log_path.clone()));

    let mut out = io::stdout();
    writeln!(
        out,
        "Attesta demo: five actions an agent wants to run, from harmless to critical.\n\
         Each one is gated for real. Answer carefully, or say no, and watch the decision.\n"
    )?;
    let mut decisions = Vec::new();
    for (n, step) in steps().into_iter().enumerate() {
        writeln!(out, "── {}. {} ──", n + 1, step.title)?;
        writeln!(out, "{}", step.explains)?;
        out.flush()?;
        let mut policy = Policy::default();
        policy.challenge_map.insert(step.level, step.challenge);
        let attesta = Attesta::builder()
            .policy(policy)
            .channel(channel.clone())
            .audit(audit.clone())
            .clock(clock.clone())
            .environment("demo")
            .build()?;
        let ctx = step
            .ctx
            .with_agent("demo-agent")
            .with_trusted_risk_override(step.level);
        let decision = attesta.evaluate(&ctx).await_blocking()?;
        print_decision(&mut out, &decision)?;
        decisions.push((step.title, decision));
    }
    writeln!(
        out,
        "Summary ({} decisions, each written to {} before its action could run):",
        decisions.len(),
        log_path.display()
    )?;
    for (title, decision) in &decisions {
        writeln!(out, "  {:<40} {}", title, decision.verdict)?;
    }
    seal_and_verify(&mut out, &site_policy, &log_path)?;
    Ok(ExitCode::SUCCESS)
}

/// Ends the tour the way an auditor would: sign a checkpoint of the log (if
/// `attesta init` created a key) and verify the chain and checkpoints.
fn seal_and_verify(out: &mut impl Write, policy: &Policy, log: &Path) -> anyhow::Result<()> {
    use attesta::audit::verify::{VerifyOptions, verify_file};
    use attesta::audit::{AuditPublicKey, AuditSigningKey, checkpoint_log, verify_checkpoints};
    writeln!(out)?;
    if let Ok(key) = AuditSigningKey::load(&policy.audit.key_path) {
        let checkpoint = checkpoint_log(log, &key, None, chrono::Local::now().fixed_offset())?;
        writeln!(
            out,
            "Signed a checkpoint: {} entries, head {}.",
            checkpoint.entries,
            &checkpoint.head_hash[..16]
        )?;
    } else {
        writeln!(
            out,
            "(No signing key: run `attesta init` to have the log sealed with signed checkpoints.)"
        )?;
    }
    let report = verify_file(log, &VerifyOptions::default())?;
    let checkpoints = AuditPublicKey::load(&policy.audit.public_key_path)
        .ok()
        .map(|public| verify_checkpoints(log, &public))
        .transpose()?;
    if report.intact()
        && checkpoints
            .as_ref()
            .is_none_or(attesta::audit::CheckpointReport::is_ok)
    {
        writeln!(
            out,
            "Audit log verified: {} entries in {}, chain intact{}.",
            report.entries,
            log.display(),
            if checkpoints.is_some() {
                ", signed checkpoints valid"
            } else {
                ""
            }
        )?;
        writeln!(out, "Check it yourself any time: attesta audit verify")?;
    } else {
        writeln!(
            out,
            "AUDIT LOG PROBLEM in {}: run `attesta audit verify` for details.",
            log.display()
        )?;
    }
    Ok(())
}

/// Runs a future to completion on a private runtime.
trait AwaitBlocking: std::future::Future + Sized {
    fn await_blocking(self) -> anyhow::Result<Self::Output> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("could not start the async runtime")?;
        Ok(runtime.block_on(self))
    }
}

impl<F: std::future::Future> AwaitBlocking for F {}

fn print_decision(out: &mut impl Write, d: &Decision) -> io::Result<()> {
    let mark = if d.verdict == Verdict::Approved {
        "✔"
    } else {
        "✘"
    };
    writeln!(
        out,
        "{mark} {} ({} {:.2}, {})",
        d.verdict, d.risk.level, d.risk.score, d.challenge
    )?;
    writeln!(out, "  why: {}", d.reason)?;
    if !d.approvers.is_empty() {
        writeln!(out, "  approvers: {}", d.approvers.join(", "))?;
    }
    if d.challenge_result.is_some() {
        let met = if d.min_review_met {
            "met"
        } else {
            "NOT met (recorded)"
        };
        writeln!(
            out,
            "  review: {:.1}s (minimum {:.0}s: {met})",
            d.review_time_seconds, d.min_review_seconds
        )?;
    }
    writeln!(out)
}

/// Prints the second approver's current one-time code: the demo's stand-in
/// for Bob's phone.
fn authenticator() -> anyhow::Result<ExitCode> {
    let path = demo_dir().join(format!("{SECOND_APPROVER}.totp"));
    let text = fs::read_to_string(&path).with_context(|| {
        format!(
            "no demo secret at {}; start `attesta demo` first (in this directory)",
            path.display()
        )
    })?;
    let secret = TotpSecret::from_base32(text.trim())
        .map_err(|e| anyhow::anyhow!("{} is not a valid secret: {e}", path.display()))?;
    let settings = Policy::default().totp;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    let code = secret.totp(&settings, now).context("computing the code")?;
    let left = u64::from(settings.period_seconds) - now % u64::from(settings.period_seconds);
    println!("{SECOND_APPROVER}'s one-time code: {code} (valid for {left} more seconds)");
    Ok(ExitCode::SUCCESS)
}

/// Creates the demo approver's secret (160 random bits, base32, mode 0600)
/// unless it exists.
fn ensure_demo_secret(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{SECOND_APPROVER}.totp"));
    if path.exists() {
        return Ok(path);
    }
    fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let mut bytes = [0u8; 20];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for the demo secret: {e}"))?;
    let encoded = base32(&bytes);
    write_private(&path, encoded.as_bytes())?;
    Ok(path)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("could not create {}", path.display()))?;
    file.write_all(contents)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    fs::write(path, contents).with_context(|| format!("could not create {}", path.display()))
}

/// RFC 4648 base32, no padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        let round = TotpSecret::from_base32(&base32(&[7u8; 20]));
        assert!(round.is_ok());
    }

    #[test]
    fn every_level_and_challenge_is_in_the_tour() {
        let steps = steps();
        let kinds: Vec<_> = steps.iter().map(|s| s.challenge).collect();
        assert_eq!(
            kinds,
            [
                ChallengeType::AutoApprove,
                ChallengeType::Confirm,
                ChallengeType::Quiz,
                ChallengeType::TeachBack,
                ChallengeType::MultiParty,
            ]
        );
    }
}
