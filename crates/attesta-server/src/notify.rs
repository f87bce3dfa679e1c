//! Telling people that an approval waits for them.
//!
//! A [`Notifier`] hears of every new approval; what it does with that is
//! its own business (a chat message, an e-mail, a pager). The server never
//! waits for it and never lets it decide anything: a notification that
//! fails is logged, and the approval waits as before.
//! [`CommandNotifier`] runs an operator's command (`attesta serve
//! --notify-command`) with the approval described in environment variables.

use std::fmt;

use async_trait::async_trait;

use crate::service::{ApprovalView, Escalation};

/// Hears of new approvals.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// A new approval waits for its approvers; `escalation` is the rule
    /// that demanded it and the roles it asked to notify, when the
    /// requester's gate sent one.
    async fn new_approval(&self, approval: &ApprovalView, escalation: Option<&Escalation>);
}

/// Runs `sh -c COMMAND` for each new approval, with
/// `ATTESTA_APPROVAL_ID`, `ATTESTA_APPROVAL_ACTION`,
/// `ATTESTA_APPROVAL_RISK`, `ATTESTA_APPROVAL_REQUESTER`,
/// `ATTESTA_APPROVAL_APPROVERS` (how many are needed),
/// `ATTESTA_APPROVAL_NOTIFY` (roles, comma-separated),
/// `ATTESTA_APPROVAL_RULE` (the escalation rules that held, `; `-separated)
/// and
/// `ATTESTA_SERVER_URL` set. The values come from the approval, never
/// from the command line, so no shell quoting of agent text is involved.
#[derive(Debug, Clone)]
pub struct CommandNotifier {
    command: String,
    server_url: String,
}

impl CommandNotifier {
    /// Runs `command` (through `sh -c`); `server_url` is where approvers
    /// reach the server.
    pub fn new(command: impl Into<String>, server_url: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            server_url: server_url.into(),
        }
    }
}

#[async_trait]
impl Notifier for CommandNotifier {
    async fn new_approval(&self, approval: &ApprovalView, escalation: Option<&Escalation>) {
        let notify = escalation.map(|e| e.notify.join(",")).unwrap_or_default();
        let rule = escalation.and_then(|e| e.rule.clone()).unwrap_or_default();
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(&self.command)
            .env("ATTESTA_APPROVAL_ID", &approval.id)
            .env("ATTESTA_APPROVAL_ACTION", &approval.action)
            .env("ATTESTA_APPROVAL_RISK", &approval.risk_level)
            .env("ATTESTA_APPROVAL_REQUESTER", &approval.requester)
            .env(
                "ATTESTA_APPROVAL_APPROVERS",
                approval.required_approvers.to_string(),
            )
            .env("ATTESTA_APPROVAL_NOTIFY", notify)
            .env("ATTESTA_APPROVAL_RULE", rule)
            .env("ATTESTA_SERVER_URL", &self.server_url)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(false);
        let id = approval.id.clone();
        match command.spawn() {
            Ok(mut child) => {
                // Reaped in the background: the server never waits for it.
                tokio::spawn(async move {
                    match child.wait().await {
                        Ok(status) if status.success() => {}
                        Ok(status) => eprintln!(
                            "attesta serve: warning: the notify command for approval {id} \
                             exited with {status}"
                        ),
                        Err(err) => eprintln!(
                            "attesta serve: warning: the notify command for approval {id}: {err}"
                        ),
                    }
                });
            }
            Err(err) => eprintln!(
                "attesta serve: warning: cannot run the notify command for approval {id}: {err}"
            ),
        }
    }
}
