//! `attesta demo --server URL`: the agent's side of a remote approval, for
//! trying the approval server out: one CRITICAL action, put to the server,
//! run only on a signed decision this process can verify.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use attesta::audit::{AuditPublicKey, JsonlAuditLog};
use attesta::policy::Policy;
use attesta::remote::{DEFAULT_RETRY_FOR, RemoteApprovals, RemoteConfig};
use attesta::{ActionContext, Attesta};

use crate::cli::DemoArgs;

/// Where the demo agent keeps its own audit trail.
const LOG: &str = ".attesta/demo-agent-audit.jsonl";

pub(crate) fn run(args: &DemoArgs, server: &str) -> anyhow::Result<ExitCode> {
    let token = match &args.token_file {
        Some(path) => super::approvals::read_token(path)?,
        None => std::env::var("ATTESTA_TOKEN").context(
            "set ATTESTA_TOKEN to a requester token (`attesta server principals add NAME --kind \
             requester`), or pass --token-file FILE",
        )?,
    };
    let public_key = AuditPublicKey::load(&args.public_key).with_context(|| {
        format!(
            "cannot use the server's public key {} (it is server-signing.pub beside the server's \
             database; pass --public-key FILE)",
            args.public_key.display()
        )
    })?;
    let remote = RemoteApprovals::new(RemoteConfig {
        server: server.to_owned(),
        token: token.trim().to_owned(),
        public_key,
        retry_for: DEFAULT_RETRY_FOR,
    })?;
    let policy = Policy {
        required_approvers: args.approvers.max(2),
        timeout: Duration::from_secs(3600),
        ..Policy::default()
    };
    std::fs::create_dir_all(".attesta").context("cannot create .attesta")?;
    let engine = Attesta::builder()
        .policy(policy)
        .audit(Arc::new(JsonlAuditLog::new(LOG)))
        .approval_service(Arc::new(remote))
        .build()?;
    let ctx = ActionContext::new("drop_table")
        .with_kwarg("table", "customers")
        .with_agent("demo-agent")
        .with_environment("production")
        .with_trusted_risk_override(attesta::RiskLevel::Critical);
    println!(
        "demo agent: asking {server} to approve {}",
        ctx.description()
    );
    println!(
        "  it needs {} approvers; each runs `attesta approvals list`, then `attesta approvals \
         answer ID`",
        args.approvers.max(2)
    );
    let runtime = super::two_worker_runtime()?;
    let outcome = runtime.block_on(engine.gate(&ctx, || "the table would be dropped now"));
    match outcome {
        Ok(ran) => {
            println!("approved by the server's signed decision: {ran}");
            println!("audit record: {LOG}");
            Ok(ExitCode::SUCCESS)
        }
        Err(denied) => {
            println!("not approved: {}", denied.decision.reason);
            Ok(ExitCode::from(1))
        }
    }
}
