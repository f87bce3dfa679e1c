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
    /// A guided tour in this terminal: sample actions at every risk level,
    /// each gated for real.
    Demo(DemoArgs),
    /// Print the version.
    Version,
    /// Create a commented attesta.yaml and the audit signing key pair.
    Init(InitArgs),
    /// Work with the audit log.
    Audit(AuditArgs),
    /// Show, list, revoke or reset agents' trust.
    Trust(TrustArgs),
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Overwrite an existing attesta.yaml and replace the signing key pair.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Audit log (default: audit.path from ./attesta.yaml, else
    /// .attesta/audit.jsonl). Accepted before or after the subcommand.
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) log: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Sign a checkpoint of the log's length and last hash and append it to
    /// <log>.checkpoints.
    Checkpoint(CheckpointArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CheckpointArgs {
    /// Signing key (default: audit.key from ./attesta.yaml, else
    /// .attesta/audit.key).
    #[arg(long, value_name = "PATH")]
    pub(crate) key: Option<PathBuf>,
    /// Print the checkpoint as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TrustArgs {
    /// Trust store (default: trust.store from ./attesta.yaml, else
    /// .attesta/trust.json). Accepted before or after the subcommand.
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) store: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: TrustCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TrustCommand {
    /// Show one agent's trust profile.
    Show {
        /// The agent id (exact, case-sensitive).
        agent: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every agent in the store.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an agent: its trust is 0 until reset.
    Revoke {
        /// The agent id (exact, case-sensitive).
        agent: String,
        /// Do not ask for confirmation (needed without a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Start an agent over: lift a revocation and forget its history.
    Reset {
        /// The agent id (exact, case-sensitive).
        agent: String,
        /// Do not ask for confirmation (needed without a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
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
