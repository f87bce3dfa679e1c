//! The manager approval for real: this program is the agent. It asks the
//! approval server (`attesta serve`) to approve a refund; the server's
//! notification hook tells the manager; the manager answers from their own
//! device (`attesta approvals answer ID`); the refund runs only on the
//! server's signed "approved".
//!
//! ```sh
//! # terminal 1: the server, with a hook that tells the manager
//! attesta serve --notify-command 'notify-send "Approve $ATTESTA_APPROVAL_ACTION?" \
//!     "attesta approvals answer $ATTESTA_APPROVAL_ID"'
//! attesta server principals add refund-bot --kind requester   # prints the agent's token once
//! attesta server principals add manager --kind approver       # prints the manager's token once
//!
//! # terminal 2: the agent (this example)
//! ATTESTA_SERVER=http://127.0.0.1:8787 ATTESTA_TOKEN=<refund-bot token> \
//! ATTESTA_SERVER_KEY=.attesta/server-signing.pub \
//!     cargo run -p attesta --features remote --example manager_approval_server
//!
//! # terminal 3: the manager, when notified
//! attesta approvals --token-file manager.token answer ID
//! ```
//!
//! It prints one JSON line: the verdict, who approved, and the server's
//! approval id. Nothing here polls in-memory state: the approval lives in
//! the server's database, so this program (or the server) may restart
//! while the manager is away; run again with the same `ATTESTA_JOB`, it
//! re-attaches to the same approval instead of asking twice. A decision
//! whose signature does not check out with `ATTESTA_SERVER_KEY` denies.
//! `crates/attesta-cli/tests/server_api.rs` runs exactly this, with a hook
//! that answers as the manager from another process.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

use attesta::audit::AuditPublicKey;
use attesta::remote::{DEFAULT_RETRY_FOR, RemoteApprovals, RemoteConfig};
use attesta::{ActionContext, Attesta, RiskLevel};
use serde_json::json;

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name} (see the example's header)"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let server = RemoteApprovals::new(RemoteConfig {
        server: env("ATTESTA_SERVER")?,
        token: env("ATTESTA_TOKEN")?,
        public_key: AuditPublicKey::load(&PathBuf::from(env("ATTESTA_SERVER_KEY")?))?,
        retry_for: DEFAULT_RETRY_FOR,
    })?;
    let attesta = Attesta::builder()
        .approval_service(Arc::new(server))
        .build()?;
    // One job, one approval: the idempotency key names it, so a restart
    // re-attaches instead of asking the manager a second time.
    let job = std::env::var("ATTESTA_JOB").unwrap_or_else(|_| "refund-A-1042".to_owned());
    let ctx = ActionContext::new("refund_order")
        .with_kwarg("order", "A-1042")
        .with_kwarg("amount", 450)
        .with_agent("support-agent")
        .with_metadata("idempotency_key", job.as_str())
        // A refund this size is the manager's call: one approver confirms.
        .with_trusted_risk_override(RiskLevel::Medium);
    let decision = attesta.evaluate(&ctx).await;
    let refunded = decision.is_approved();
    if refunded {
        // The real refund would run here, and only here.
    }
    let approval_id = decision
        .challenge_result
        .as_ref()
        .and_then(|r| r.details.get("server_approval_id"))
        .and_then(|v| v.as_str().map(str::to_owned));
    println!(
        "{}",
        json!({
            "verdict": decision.verdict.as_str(),
            "refunded": refunded,
            "approvers": decision.approvers,
            "approval_id": approval_id,
            "reason": decision.reason,
        })
    );
    Ok(())
}
