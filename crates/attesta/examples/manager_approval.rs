//! Custom challenge 2 of 3: the requesting agent's manager approves or denies
//! through a notification service (chat, e-mail, a ticket queue).
//!
//! ```sh
//! cargo run -p attesta --example manager_approval
//! ```
//!
//! What it shows:
//! - an async [`Notifier`] seam: it delivers the request and waits for the
//!   manager's decision, so the challenge itself knows nothing of chat APIs;
//! - a timeout that denies (rather than "nobody answered", so `fail_mode:
//!   allow` can never wave the action through while a manager is away);
//! - self-approval blocked, with the reason `self-approval not allowed`;
//! - installing it for HIGH-risk actions with `challenge_for_level`.
//!
//! The main program answers from an in-process "manager" task over a
//! channel, standing in for the person on the other end of the service: it
//! shows how to write such a challenge. The same flow for real, with
//! durable approvals, a notification hook and the manager answering from
//! their own device, is `examples/manager_approval_server.rs` against
//! `attesta serve --notify-command …` (see docs/server.md, "Notifications
//! and the manager approval").
//!
//! It reports [`ChallengeType::Confirm`], not `multi_party` as the reference
//! documentation's version does: in Attesta a `multi_party` result must carry
//! `required_approvers` distinct approvers (two or more), and one manager's
//! yes is one approver's explicit confirmation. Install it with
//! `challenge_for_type(ChallengeType::MultiParty, ...)` to let a manager's
//! approval stand in wherever the policy asks for multi-party.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use attesta::challenge::{Challenge, ChallengeResult, ChallengeType, Unanswered};
use attesta::risk::FixedRiskScorer;
use attesta::{ActionContext, Attesta, RiskAssessment, RiskLevel};
use tokio::sync::{mpsc, oneshot};

/// The exact reason recorded when the approver is the requester.
const SELF_APPROVAL: &str = "self-approval not allowed";

/// What a manager is asked to decide.
#[derive(Debug, Clone, PartialEq)]
struct ApprovalRequest {
    /// Unique per request, so a late answer cannot approve another request.
    id: String,
    /// The agent (or user) that wants the action to run.
    requester: String,
    /// The call, `name(args, key=value)`.
    action: String,
    /// Where it would run.
    environment: String,
    /// How risky the gate judged it.
    risk_level: RiskLevel,
    /// The score behind the level.
    risk_score: f64,
}

impl fmt::Display for ApprovalRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} asks to run {} in {} (risk {} {:.2})",
            self.id,
            self.requester,
            self.action,
            self.environment,
            self.risk_level,
            self.risk_score
        )
    }
}

/// A manager's answer.
#[derive(Debug, Clone, PartialEq)]
struct ManagerDecision {
    /// Whether they let it run.
    approved: bool,
    /// Who actually answered, as the notification service identifies them.
    responder_id: String,
    /// Anything they added.
    note: Option<String>,
}

/// Delivers an approval request to a manager and waits for the decision.
#[async_trait]
trait Notifier: Send + Sync + fmt::Debug {
    /// Sends `request` to `manager_id` and resolves when they decide. An
    /// error means the request could not be delivered; waiting forever is
    /// allowed (the challenge bounds it).
    async fn request_decision(
        &self,
        manager_id: &str,
        request: &ApprovalRequest,
    ) -> Result<ManagerDecision, String>;
}

/// Asks the requesting agent's manager.
#[derive(Debug)]
struct ManagerApproval {
    /// How requests reach managers.
    notifier: Arc<dyn Notifier>,
    /// Agent id → manager id.
    managers: BTreeMap<String, String>,
    /// How long to wait for a decision before denying. Keep it below the
    /// policy's approval timeout, which bounds every challenge.
    timeout: Duration,
}

impl ManagerApproval {
    fn new(
        notifier: Arc<dyn Notifier>,
        managers: impl IntoIterator<Item = (&'static str, &'static str)>,
        timeout: Duration,
    ) -> Self {
        let managers = managers
            .into_iter()
            .map(|(agent, manager)| (agent.to_owned(), manager.to_owned()))
            .collect();
        Self {
            notifier,
            managers,
            timeout,
        }
    }

    fn denied(responder: &str, reason: impl Into<String>) -> ChallengeResult {
        let mut result = ChallengeResult::new(ChallengeType::Confirm, false)
            .with_detail("method", "manager_approval")
            .with_detail("reason", reason.into());
        responder.clone_into(&mut result.responder);
        result
    }
}

#[async_trait]
impl Challenge for ManagerApproval {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Confirm
    }

    async fn present(&self, ctx: &ActionContext, risk: &RiskAssessment) -> ChallengeResult {
        let requester = ctx.agent_id.clone().unwrap_or_default();
        let Some(manager) = self.managers.get(&requester) else {
            return Self::denied(
                "default",
                format!("no manager is known for requester '{requester}'"),
            );
        };
        if *manager == requester {
            return Self::denied(&requester, SELF_APPROVAL);
        }
        let request = ApprovalRequest {
            id: uuid::Uuid::new_v4().to_string(),
            requester: requester.clone(),
            action: ctx.description(),
            environment: ctx.environment.clone(),
            risk_level: risk.level,
            risk_score: risk.score,
        };
        let started = tokio::time::Instant::now();
        let waited = tokio::time::timeout(
            self.timeout,
            self.notifier.request_decision(manager, &request),
        )
        .await;
        let decision = match waited {
            Err(_elapsed) => {
                return Self::denied(
                    "timeout",
                    format!(
                        "no decision from {manager} within {} seconds",
                        self.timeout.as_secs()
                    ),
                )
                .with_detail("request_id", request.id)
                .with_detail("timed_out", true);
            }
            // Undeliverable is like a broken channel: nobody was asked, and
            // the policy's fail mode decides.
            Ok(Err(error)) => {
                return ChallengeResult::unanswered(
                    ChallengeType::Confirm,
                    Unanswered::ChannelError,
                    format!("the request could not reach {manager}: {error}"),
                );
            }
            Ok(Ok(decision)) => decision,
        };
        if decision.responder_id == requester {
            return Self::denied(&decision.responder_id, SELF_APPROVAL);
        }
        if decision.responder_id != *manager {
            return Self::denied(
                &decision.responder_id,
                format!(
                    "answered by {}, who is not {requester}'s manager ({manager})",
                    decision.responder_id
                ),
            );
        }
        let mut result = ChallengeResult::new(ChallengeType::Confirm, decision.approved)
            .with_detail("method", "manager_approval")
            .with_detail("request_id", request.id)
            .with_detail("manager", manager.as_str());
        result.responder = decision.responder_id;
        result.response_time_seconds = started.elapsed().as_secs_f64();
        result.questions_asked = 1;
        result.questions_correct = u32::from(decision.approved);
        if let Some(note) = decision.note {
            result = result.with_detail("note", note);
        }
        if !decision.approved {
            result = result.with_detail("reason", format!("{manager} denied the request"));
        }
        result
    }
}

/// One delivered request and the way back for the answer.
type Delivery = (String, ApprovalRequest, oneshot::Sender<ManagerDecision>);

/// Delivers requests to an in-process "manager desk" over a channel, as a
/// chat integration would deliver them to a person.
#[derive(Debug)]
struct InProcessNotifier {
    desk: mpsc::Sender<Delivery>,
}

#[async_trait]
impl Notifier for InProcessNotifier {
    async fn request_decision(
        &self,
        manager_id: &str,
        request: &ApprovalRequest,
    ) -> Result<ManagerDecision, String> {
        let (reply, answer) = oneshot::channel();
        self.desk
            .send((manager_id.to_owned(), request.clone(), reply))
            .await
            .map_err(|_| "the manager desk is closed".to_owned())?;
        answer
            .await
            .map_err(|_| "the manager desk dropped the request".to_owned())
    }
}

/// A gate that scores every action HIGH and asks the agent's manager there.
fn gate(challenge: ManagerApproval) -> Result<Attesta, Box<dyn Error>> {
    Ok(Attesta::builder()
        .scorer(Arc::new(FixedRiskScorer::new(0.7)?))
        .challenge_for_level(RiskLevel::High, Arc::new(challenge))
        .environment("ci")
        .build()?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let (desk, mut inbox) = mpsc::channel::<Delivery>(8);
    // The manager: reads each request and approves it at once, which is
    // why the gate flags the approval as faster than the minimum review
    // time; a person takes longer.
    let manager = tokio::spawn(async move {
        while let Some((manager_id, request, reply)) = inbox.recv().await {
            println!("to {manager_id}: {request}");
            let _ = reply.send(ManagerDecision {
                approved: true,
                responder_id: manager_id,
                note: Some("ok, during the maintenance window".to_owned()),
            });
        }
    });

    let challenge = ManagerApproval::new(
        Arc::new(InProcessNotifier { desk }),
        [("deploy-bot", "carol"), ("carol", "carol")],
        Duration::from_secs(120),
    );
    let attesta = gate(challenge)?;
    for agent in ["deploy-bot", "carol"] {
        let ctx = ActionContext::new("restart_service")
            .with_arg("billing")
            .with_agent(agent)
            .with_environment("ci");
        let decision = attesta.evaluate(&ctx).await;
        println!(
            "{agent}: {} ({}); approvers {:?}",
            decision.verdict, decision.reason, decision.approvers
        );
    }
    drop(attesta);
    manager.await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use attesta::risk::RiskScorer;
    use attesta::{Value, Verdict};

    use super::*;

    /// Answers every request with a fixed decision, or never (`None`), and
    /// remembers what it was sent.
    #[derive(Debug)]
    struct FixedNotifier {
        decision: Option<ManagerDecision>,
        sent: Mutex<Vec<(String, ApprovalRequest)>>,
    }

    impl FixedNotifier {
        fn answering(approved: bool, responder: &str) -> Arc<Self> {
            Arc::new(Self {
                decision: Some(ManagerDecision {
                    approved,
                    responder_id: responder.to_owned(),
                    note: None,
                }),
                sent: Mutex::default(),
            })
        }

        fn silent() -> Arc<Self> {
            Arc::new(Self {
                decision: None,
                sent: Mutex::default(),
            })
        }

        fn sent(&self) -> Vec<(String, ApprovalRequest)> {
            self.sent.lock().expect("lock").clone()
        }
    }

    #[async_trait]
    impl Notifier for FixedNotifier {
        async fn request_decision(
            &self,
            manager_id: &str,
            request: &ApprovalRequest,
        ) -> Result<ManagerDecision, String> {
            self.sent
                .lock()
                .expect("lock")
                .push((manager_id.to_owned(), request.clone()));
            match &self.decision {
                Some(decision) => Ok(decision.clone()),
                None => std::future::pending().await,
            }
        }
    }

    fn challenge(notifier: Arc<FixedNotifier>) -> ManagerApproval {
        ManagerApproval::new(
            notifier,
            [("deploy-bot", "carol"), ("carol", "carol")],
            Duration::from_secs(60),
        )
    }

    fn ctx(agent: &str) -> ActionContext {
        ActionContext::new("restart_service")
            .with_arg("billing")
            .with_agent(agent)
            .with_environment("ci")
    }

    async fn present(challenge: &ManagerApproval, agent: &str) -> ChallengeResult {
        let ctx = ctx(agent);
        let risk = FixedRiskScorer::new(0.7).expect("score").assess(&ctx);
        challenge.present(&ctx, &risk).await
    }

    #[tokio::test]
    async fn approval_passes_and_names_the_manager() {
        let notifier = FixedNotifier::answering(true, "carol");
        let result = present(&challenge(notifier.clone()), "deploy-bot").await;
        assert!(result.passed, "{:?}", result.reason());
        assert_eq!(result.responder, "carol");
        let sent = notifier.sent();
        assert_eq!(sent.len(), 1);
        let (manager, request) = &sent[0];
        assert_eq!(manager, "carol");
        assert_eq!(request.action, "restart_service('billing')");
        assert_eq!(request.environment, "ci");
        assert_eq!(request.risk_level, RiskLevel::High);
        assert_eq!(
            result.details.get("request_id"),
            Some(&Value::from(request.id.as_str()))
        );
    }

    #[tokio::test]
    async fn a_denial_fails() {
        let result = present(
            &challenge(FixedNotifier::answering(false, "carol")),
            "deploy-bot",
        )
        .await;
        assert!(!result.passed);
        assert_eq!(result.reason(), Some("carol denied the request"));
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_is_denied() {
        let result = present(&challenge(FixedNotifier::silent()), "deploy-bot").await;
        assert!(!result.passed);
        assert_eq!(
            result.unanswered, None,
            "a timeout denies; it never fails open"
        );
        assert_eq!(result.responder, "timeout");
        assert_eq!(
            result.reason(),
            Some("no decision from carol within 60 seconds")
        );
    }

    #[tokio::test]
    async fn self_approval_is_blocked() {
        // The requester is their own manager: refused before anyone is asked.
        let notifier = FixedNotifier::answering(true, "carol");
        let result = present(&challenge(notifier.clone()), "carol").await;
        assert!(!result.passed);
        assert_eq!(result.reason(), Some("self-approval not allowed"));
        assert!(notifier.sent().is_empty());

        // The answer comes back from the requester itself.
        let notifier = FixedNotifier::answering(true, "deploy-bot");
        let result = present(&challenge(notifier), "deploy-bot").await;
        assert!(!result.passed);
        assert_eq!(result.reason(), Some("self-approval not allowed"));
    }

    #[tokio::test]
    async fn the_gate_approves_with_the_manager_as_approver() {
        let attesta = gate(challenge(FixedNotifier::answering(true, "carol"))).expect("gate");
        let decision = attesta.evaluate(&ctx("deploy-bot")).await;
        assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
        assert_eq!(decision.approvers, ["carol"]);
    }

    #[tokio::test]
    async fn the_gate_denies_self_approval() {
        let attesta = gate(challenge(FixedNotifier::answering(true, "carol"))).expect("gate");
        let decision = attesta.evaluate(&ctx("carol")).await;
        assert_eq!(decision.verdict, Verdict::Denied);
        assert_eq!(decision.reason, "self-approval not allowed");
    }

    #[tokio::test(start_paused = true)]
    async fn the_gate_denies_on_timeout() {
        let attesta = gate(challenge(FixedNotifier::silent())).expect("gate");
        let decision = attesta.evaluate(&ctx("deploy-bot")).await;
        assert_eq!(decision.verdict, Verdict::Denied);
        assert_eq!(decision.reason, "no decision from carol within 60 seconds");
    }

    #[tokio::test]
    async fn the_in_process_desk_round_trip() {
        let (desk, mut inbox) = mpsc::channel::<Delivery>(1);
        tokio::spawn(async move {
            if let Some((manager_id, _request, reply)) = inbox.recv().await {
                let _ = reply.send(ManagerDecision {
                    approved: true,
                    responder_id: manager_id,
                    note: None,
                });
            }
        });
        let challenge = ManagerApproval::new(
            Arc::new(InProcessNotifier { desk }),
            [("deploy-bot", "carol")],
            Duration::from_secs(60),
        );
        let result = present(&challenge, "deploy-bot").await;
        assert!(result.passed, "{:?}", result.reason());
        // The desk has gone: undeliverable is "nobody could be asked".
        let result = present(&challenge, "deploy-bot").await;
        assert_eq!(result.unanswered, Some(Unanswered::ChannelError));
    }
}
