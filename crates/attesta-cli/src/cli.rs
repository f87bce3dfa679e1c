//! Command-line definitions (clap derive); each flag is defined once here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Risk-calibrated human approval for AI agent actions.
#[derive(Debug, Parser)]
#[command(name = "attesta", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Score actions and explain the score.
    #[command(subcommand)]
    Risk(RiskCommand),
    /// Verify and inspect the audit log.
    Audit(AuditArgs),
    /// A guided tour in this terminal: sample actions at every risk level,
    /// each gated for real.
    Demo(DemoArgs),
    /// Print the version.
    Version,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RiskCommand {
    /// Score an action context (JSON) and show why, and what the gate would do.
    Score(ScoreArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ScoreArgs {
    /// Policy file (default: ./attesta.yaml, ./attesta.yml or ./attesta.toml
    /// if present, else the built-in policy).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, conflicts_with = "jsonl")]
    pub(crate) json: bool,
    /// Read one context per line and print one JSON result per line (for
    /// replaying an agent trace against a policy).
    #[arg(long)]
    pub(crate) jsonl: bool,
    /// Context file, or `-` for standard input. A context is a JSON object
    /// with `function_name` and optionally `args`, `kwargs`, `function_doc`,
    /// `hints`, `environment`, `agent_id`, `session_id`, `metadata`.
    #[arg(value_name = "FILE", default_value = "-")]
    pub(crate) input: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    #[command(subcommand)]
    pub(crate) command: Option<DemoCommand>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DemoCommand {
    /// Show the demo's second approver's current one-time code (run it in
    /// another terminal while the demo asks for Bob's code).
    Authenticator,
}

/// `attesta audit [--log PATH] <subcommand>`: options shared by every audit
/// subcommand live here and are accepted before or after the subcommand.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    #[command(subcommand)]
    pub(crate) command: AuditCommand,
}

#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Path to the audit log.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = ".attesta/audit.jsonl"
    )]
    pub(crate) log: PathBuf,
}

/// One variant (and one module under `commands/audit/`) per subcommand.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the hash chain of the audit log; exit 1 if any entry is broken.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Print the full report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Verify a segment (e.g. a rotated file): start from the first entry's
    /// previous_hash instead of the genesis hash.
    #[arg(long)]
    pub(crate) anchored: bool,
}
