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
    /// Domain profiles: list the built-in ones, show one in full, check
    /// profile files.
    #[command(subcommand)]
    Domains(DomainsCommand),
    /// A guided tour in this terminal: sample actions at every risk level,
    /// each gated for real.
    Demo(DemoArgs),
    /// Create a commented attesta.yaml and the audit signing key pair.
    Init(InitArgs),
    /// Work with the audit log: verify, statistics, export, rubber stamps,
    /// tail, checkpoints, repair.
    Audit(AuditArgs),
    /// Show, list, revoke or reset agents' trust.
    Trust(TrustArgs),
    /// Put Attesta in front of an MCP server (stdio).
    #[command(subcommand)]
    Mcp(McpCommand),
    /// Run the approval server: pending approvals that approvers answer
    /// from their own devices, decided and signed by the server.
    Serve(ServeArgs),
    /// Administer the approval server's database (principals and tokens).
    Server(ServerArgs),
    /// For approvers: list the approvals waiting for you, show one, answer
    /// your slot at this terminal; for requesters: cancel one.
    Approvals(ApprovalsArgs),
    /// Print the version.
    Version,
}

#[derive(Debug, Args)]
pub(crate) struct ApprovalsArgs {
    /// The approval server's URL. Default: $ATTESTA_SERVER, else
    /// policy.approvals.server in attesta.yaml.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) server: Option<String>,
    /// A file (owner-only) holding your token. Default: $ATTESTA_TOKEN.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// Policy file for the server, the token and the terminal's approvers.
    /// Default: ./attesta.yaml (or .yml/.toml) if present.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: ApprovalsCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApprovalsCommand {
    /// The pending approvals you may answer, oldest first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open your slot of an approval and show it: the action, why it is
    /// risky, and your questions. Your review time starts now.
    Show {
        /// The approval's id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Answer your slot of an approval at this terminal.
    Answer {
        /// The approval's id.
        id: String,
    },
    /// Withdraw an approval you requested (a requester's token).
    Cancel {
        /// The approval's id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where the approval server keeps its state.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServerDatabaseArgs {
    /// Policy file (must exist and be valid) whose challenge settings the
    /// server uses; its directory holds the default database. Default:
    /// ./attesta.yaml (or .yml/.toml) if present, else built-in defaults.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The database: an SQLite file path (or `sqlite:PATH`), or a
    /// `postgres://USER@HOST/DB` URL shared by several servers. Default:
    /// .attesta/server.db beside the policy (or in the current directory).
    /// Add `?sslmode=require` for TLS with the server's certificate
    /// verified.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) database: Option<String>,
    /// With `sslmode=require`: a PEM file of CA certificates to trust for
    /// the PostgreSQL server, besides the system's roots.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) database_ca: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) db: ServerDatabaseArgs,
    /// Address to listen on (put TLS in front; see docs/server.md).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub(crate) listen: String,
    /// Reserve actions for groups of approvers: ACTIONS=GROUP[,GROUP]
    /// (e.g. `drop_*=dba`); repeatable. Actions no scope names are open to
    /// every approver.
    #[arg(long = "scope", value_name = "ACTIONS=GROUPS")]
    pub(crate) scopes: Vec<String>,
    /// A command (run with `sh -c`) for every new approval, to notify its
    /// approvers; it gets ATTESTA_APPROVAL_ID, _ACTION, _RISK, _REQUESTER,
    /// _APPROVERS, _NOTIFY and ATTESTA_SERVER_URL in its environment.
    #[arg(long, value_name = "COMMAND")]
    pub(crate) notify_command: Option<String>,
    /// Most pending approvals one requester may have at once (a requester
    /// past it gets 429 until some are decided).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) max_pending: u64,
}

#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    #[command(flatten)]
    pub(crate) db: ServerDatabaseArgs,
    #[command(subcommand)]
    pub(crate) command: ServerCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServerCommand {
    /// Requesters, approvers and admins: add (shows the token once), list,
    /// revoke.
    #[command(subcommand)]
    Principals(PrincipalsCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum PrincipalsCommand {
    /// Add a principal and print its token (shown this once; only its hash
    /// is stored).
    Add {
        /// Unique name: ASCII letters, digits, `.`, `_`, `-`, `@`.
        id: String,
        /// requester (agents, gateways), approver (people) or admin.
        #[arg(long, value_name = "KIND")]
        kind: String,
        /// A group for approval scopes; repeatable.
        #[arg(long = "group", value_name = "NAME")]
        groups: Vec<String>,
        /// Enrol an authenticator: every answer then needs its one-time
        /// code too (a second factor). Prints the secret once.
        #[arg(long)]
        totp: bool,
        /// Print JSON (`{"id", "kind", "token"}`).
        #[arg(long)]
        json: bool,
    },
    /// List every principal (never tokens).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a principal's token: its next request is refused.
    Revoke {
        /// The principal's name.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
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
    /// Check the hash chain (and any signed checkpoints) of the audit log;
    /// exit 1 if anything is broken.
    Verify(VerifyArgs),
    /// Sign a checkpoint of the log's length and last hash and append it to
    /// <log>.checkpoints.
    Checkpoint(CheckpointArgs),
    /// Show approval statistics: verdicts, risk levels, review times,
    /// rubber stamps, top agents and actions.
    Stats(AuditStatsArgs),
    /// Export entries to CSV, JSON or JSON Lines (stdout unless -o).
    Export(AuditExportArgs),
    /// List approvals of risky actions that were waved through.
    RubberStamps(AuditRubberStampsArgs),
    /// Show the last entries, optionally following new ones.
    Tail(AuditTailArgs),
    /// Move a torn last line (left by a writer that died mid-append) into a
    /// quarantine file beside the log, so appends can continue.
    Repair(AuditRepairArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AuditRepairArgs {
    /// Print the outcome as JSON.
    #[arg(long)]
    pub(crate) json: bool,
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
    /// Also score with this domain profile: a built-in name or alias
    /// (`devops`, `ops`, `healthcare`, ...) or a profile file. Repeatable or
    /// comma-separated; several are merged as `domain: [A, B]` would be.
    /// Added to the domains the policy already activates (a profile the
    /// policy already has is not added twice).
    #[arg(
        long = "domain",
        value_name = "NAME|FILE",
        value_delimiter = ',',
        action = clap::ArgAction::Append
    )]
    pub(crate) domains: Vec<String>,
    /// Context file, or `-` for standard input. A context is a JSON object
    /// with `function_name` and optionally `args`, `kwargs`, `function_doc`,
    /// `hints`, `environment`, `agent_id`, `session_id`, `metadata`.
    #[arg(value_name = "FILE", default_value = "-")]
    pub(crate) input: PathBuf,
}

// ---- attesta domains -----------------------------------------------------

#[derive(Debug, Subcommand)]
pub(crate) enum DomainsCommand {
    /// List the built-in profiles: name, aliases, what each holds.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one profile in full: patterns, terms, critical and safe actions,
    /// escalation rules, challenge templates, vocabulary.
    Show {
        /// A built-in name or alias, or a profile file (a path containing
        /// `/` or ending in `.yaml`/`.yml` is always read as a file).
        #[arg(value_name = "NAME|FILE")]
        profile: String,
        /// Print the profile as JSON (the same shape as the YAML file).
        #[arg(long)]
        json: bool,
    },
    /// Check profile files with the loader the policy uses; exit 1 if any
    /// is invalid, 2 if any cannot be read.
    Check {
        /// Profile files (YAML).
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// Print one JSON result per file, as an array.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    #[command(subcommand)]
    pub(crate) command: Option<DemoCommand>,
    /// Instead of the tour: act as an agent asking the approval server at
    /// URL to approve one CRITICAL action, and wait for its signed
    /// decision (approvers answer with `attesta approvals answer`). The
    /// requester token comes from $ATTESTA_TOKEN or --token-file.
    #[arg(long, value_name = "URL")]
    pub(crate) server: Option<String>,
    /// With --server: the server's public key file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = ".attesta/server-signing.pub"
    )]
    pub(crate) public_key: PathBuf,
    /// With --server: a file (owner-only) holding the requester token.
    #[arg(long, value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// With --server: how many distinct approvers the action needs.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub(crate) approvers: u32,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DemoCommand {
    /// Show the demo's second approver's current one-time code (run it in
    /// another terminal while the demo asks for Bob's code).
    Authenticator,
}

// ---- attesta audit -------------------------------------------------------

/// Entry filters shared by `stats`, `export` and `tail` (all must match).
#[derive(Debug, Args)]
pub(crate) struct AuditFilterArgs {
    /// Only entries of this agent id (exact).
    #[arg(long, value_name = "ID")]
    pub(crate) agent: Option<String>,
    /// Only entries with this verdict (exact: approved, denied, modified,
    /// timed_out, escalated).
    #[arg(long, value_name = "VERDICT")]
    pub(crate) verdict: Option<String>,
    /// Only entries at this risk level or above; `=LEVEL` for exactly that
    /// level (low, medium, high, critical).
    #[arg(long, value_name = "LEVEL", value_parser = clap::value_parser!(attesta::audit::LevelFilter))]
    pub(crate) level: Option<attesta::audit::LevelFilter>,
    /// Only entries whose action name matches (exact, or a glob with `*`
    /// and `?`).
    #[arg(long, value_name = "PATTERN")]
    pub(crate) action: Option<String>,
    /// Only entries intercepted at or after this time: RFC 3339 with an
    /// offset, a date, or a local date and time.
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Only entries intercepted at or before this time (a date includes
    /// that whole day).
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct AuditStatsArgs {
    #[command(flatten)]
    pub(crate) filter: AuditFilterArgs,
    /// How many top agents and actions to list.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub(crate) top: usize,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AuditExportArgs {
    #[command(flatten)]
    pub(crate) filter: AuditFilterArgs,
    /// Output format.
    #[arg(long, short = 'f', value_name = "FORMAT", default_value = "csv")]
    pub(crate) format: attesta::audit::ExportFormat,
    /// Write to FILE instead of stdout (never onto the log itself).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long, requires = "output")]
    pub(crate) force: bool,
    /// With -o: print a JSON summary of the export on stdout.
    #[arg(long, requires = "output")]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AuditRubberStampsArgs {
    /// Reviews shorter than this many seconds are rubber stamps.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub(crate) max_seconds: f64,
    /// Only entries at this risk level or above.
    #[arg(long, value_name = "LEVEL", default_value = "high", value_parser = parse_risk_level)]
    pub(crate) min_risk: attesta::RiskLevel,
    /// Exit with status 1 when any rubber stamp is found (for CI).
    #[arg(long)]
    pub(crate) fail_on_found: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AuditTailArgs {
    #[command(flatten)]
    pub(crate) filter: AuditFilterArgs,
    /// How many entries to show.
    #[arg(long = "lines", short = 'n', value_name = "N", default_value_t = 10)]
    pub(crate) lines: usize,
    /// Keep watching the log and print new entries (stop with Ctrl-C).
    #[arg(long, short = 'f')]
    pub(crate) follow: bool,
    /// With --follow: stop after this many seconds.
    #[arg(long, value_name = "SECONDS", requires = "follow")]
    pub(crate) follow_for: Option<f64>,
    /// Print one JSON object per entry (JSON Lines).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum McpCommand {
    /// Run an MCP server over stdio behind Attesta: every tools/call is
    /// scored and, above LOW, needs a human at this terminal (otherwise it is
    /// denied); everything else is relayed unchanged. Exits with the server's
    /// exit status.
    #[command(
        after_help = "Example: attesta mcp wrap -- npx @modelcontextprotocol/server-filesystem /tmp"
    )]
    Wrap(McpWrapArgs),
    /// Show, accept or forget pinned tool definitions. `wrap` pins each
    /// tool's definition when its server first lists it; a tool whose
    /// definition changes afterwards is CRITICAL until accepted here.
    Pins(McpPinsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct McpPinsArgs {
    /// Policy file whose audit.path locates the pins (mcp-pins.json beside
    /// the audit log). Default: ./attesta.yaml (or .yml/.toml) if present,
    /// else built-in defaults (.attesta/mcp-pins.json). Accepted before or
    /// after the subcommand.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: McpPinsCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum McpPinsCommand {
    /// List every pinned tool: server, tool, status (pinned, or changed
    /// and waiting for accept), fingerprints and dates.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Accept a changed tool's new definition, after reviewing it: its
    /// calls are scored normally again.
    Accept(PinTarget),
    /// Remove a tool's pin: its server's next tools/list pins whatever
    /// definition it then reports (trust on first use again).
    Forget(PinTarget),
}

#[derive(Debug, Args)]
pub(crate) struct PinTarget {
    /// The tool's name (exact, case-sensitive).
    pub(crate) tool: String,
    /// The server the tool belongs to (its serverInfo.name); needed when
    /// several servers have a tool of that name.
    #[arg(long, value_name = "NAME")]
    pub(crate) server: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct McpWrapArgs {
    /// Policy file (must exist and be valid). Default: ./attesta.yaml (or
    /// .yml/.toml) if present, else built-in defaults with the audit log at
    /// .attesta/audit.jsonl.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Agent id for audit records and trust (default: the MCP client's
    /// clientInfo.name from initialize).
    #[arg(long, value_name = "ID")]
    pub(crate) agent_id: Option<String>,
    /// Environment the calls run in (default: the policy's
    /// default_environment, else detected).
    #[arg(long, value_name = "ENV")]
    pub(crate) environment: Option<String>,
    /// Pin a tool to exactly this risk level (low, medium, high, critical).
    /// Repeatable.
    #[arg(long = "risk-override", value_name = "TOOL=LEVEL", value_parser = parse_risk_override)]
    pub(crate) risk_overrides: Vec<(String, attesta::RiskLevel)>,
    /// The longest JSON-RPC message accepted from the client or the server,
    /// in bytes (suffixes KiB, MiB accepted). A longer one is answered with
    /// an error and skipped without being held in memory.
    #[arg(
        long,
        value_name = "BYTES",
        default_value = "8MiB",
        value_parser = parse_byte_size
    )]
    pub(crate) max_line_bytes: usize,
    /// The MCP server to run, after `--`: program and arguments (no shell).
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<std::ffi::OsString>,
}

/// `8388608`, `8MiB`, `512KiB` (binary units; a bare number is bytes).
fn parse_byte_size(s: &str) -> Result<usize, String> {
    let text = s.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`; write bytes, or a number with KiB, MiB or GiB"
            ));
        }
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size; write e.g. 8388608 or 8MiB"))?;
    match n.checked_mul(scale) {
        Some(0) => Err("the limit must be at least 1 byte".to_owned()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("`{s}` is too large")),
    }
}

fn parse_risk_override(s: &str) -> Result<(String, attesta::RiskLevel), String> {
    let Some((tool, level)) = s.split_once('=') else {
        return Err(format!(
            "expected TOOL=LEVEL (e.g. delete_file=critical), got `{s}`"
        ));
    };
    let tool = tool.trim();
    if tool.is_empty() {
        return Err("the tool name before `=` is empty; use TOOL=LEVEL".to_owned());
    }
    let level = parse_risk_level(level.trim())
        .map_err(|e| format!("{e}; LEVEL must be one of low, medium, high, critical"))?;
    Ok((tool.to_owned(), level))
}

fn parse_risk_level(s: &str) -> Result<attesta::RiskLevel, String> {
    s.to_ascii_lowercase()
        .parse::<attesta::RiskLevel>()
        .map_err(|e| e.to_string())
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
    /// Public key for the signed checkpoints (default: audit.public_key from
    /// ./attesta.yaml, else .attesta/audit.pub). Only the public key is
    /// needed to verify.
    #[arg(long, value_name = "PATH")]
    pub(crate) public_key: Option<PathBuf>,
    /// Verify an approval server's audit trail in PostgreSQL (the
    /// `audit_log` table of `attesta serve --database postgres://…`)
    /// instead of a log file.
    #[arg(long, value_name = "postgres://…")]
    pub(crate) database: Option<String>,
    /// With `--database …?sslmode=require`: a PEM file of CA certificates
    /// to trust for the PostgreSQL server, besides the system's roots.
    #[arg(long, value_name = "FILE", requires = "database")]
    pub(crate) database_ca: Option<PathBuf>,
}
