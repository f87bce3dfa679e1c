//! Which route an approval takes: the levels `policy.approvals.levels`
//! sends to the approval service, the order in which the service and the
//! local channel are tried, and what the service is told about the
//! escalation rules that held. The service here records what it is asked
//! and answers with a fixed result; `attesta-cli/tests/server_api.rs` runs
//! the routes against a real `attesta serve`, and `terminal_pty.rs` falls
//! back to a real terminal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use attesta::audit::MemoryAuditSink;
use attesta::challenge::Unanswered;
use attesta::channel::{ScriptedAnswer, ScriptedChannel};
use attesta::policy::ApprovalRoute;
use attesta::risk::FixedRiskScorer;
use attesta::{
    ActionContext, ApprovalRequest, ApprovalRouting, ApprovalService, Attesta, Challenge,
    ChallengeResult, ChallengeType, Escalation, EscalationSource, RiskAssessment, RiskLevel, Value,
    Verdict,
};

/// How the recording service answers.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// Approved by `server-approver`.
    Approve,
    /// Could not be handed over (the server was down).
    Undelivered,
    /// Denied by the server's approver.
    Deny,
}

/// What the service was asked.
#[derive(Debug, Default)]
struct Log {
    requests: Vec<ApprovalRequest>,
    presented: usize,
}

/// An approval service that records every request it builds a challenge
/// for and every presentation, answering each with `answer`.
#[derive(Debug)]
struct Recording {
    answer: Answer,
    log: Arc<Mutex<Log>>,
}

impl Recording {
    fn new(answer: Answer) -> Arc<Self> {
        Arc::new(Self {
            answer,
            log: Arc::default(),
        })
    }

    fn requests(&self) -> Vec<ApprovalRequest> {
        self.log.lock().unwrap().requests.clone()
    }

    fn presented(&self) -> usize {
        self.log.lock().unwrap().presented
    }
}

impl ApprovalService for Recording {
    fn challenge(&self, request: &ApprovalRequest) -> Arc<dyn Challenge> {
        self.log.lock().unwrap().requests.push(request.clone());
        Arc::new(ServerChallenge {
            kind: request.kind,
            answer: self.answer,
            log: Arc::clone(&self.log),
        })
    }
}

#[derive(Debug)]
struct ServerChallenge {
    kind: ChallengeType,
    answer: Answer,
    log: Arc<Mutex<Log>>,
}

#[async_trait]
impl Challenge for ServerChallenge {
    fn challenge_type(&self) -> ChallengeType {
        self.kind
    }

    async fn present(&self, _: &ActionContext, _: &RiskAssessment) -> ChallengeResult {
        self.log.lock().unwrap().presented += 1;
        match self.answer {
            Answer::Approve => {
                let mut result = ChallengeResult::new(self.kind, true);
                result.responder = "server-approver".into();
                result
            }
            Answer::Deny => ChallengeResult::new(self.kind, false),
            Answer::Undelivered => ChallengeResult::unanswered(
                self.kind,
                Unanswered::Undelivered,
                "the approval server 127.0.0.1:9 cannot be reached",
            ),
        }
    }
}

/// Rules that always hold.
#[derive(Debug)]
struct Always(Escalation);

impl EscalationSource for Always {
    fn escalation(&self, _: &ActionContext, _: &[&RiskAssessment]) -> Escalation {
        self.0.clone()
    }
}

/// An engine at a fixed `score` whose local channel approves once as
/// `local-approver`.
struct Setup {
    score: f64,
    routing: ApprovalRouting,
    escalation: Option<Escalation>,
    channel: bool,
}

impl Setup {
    fn new(score: f64) -> Self {
        Self {
            score,
            routing: ApprovalRouting::default(),
            escalation: None,
            channel: true,
        }
    }

    fn order(mut self, order: &[ApprovalRoute]) -> Self {
        self.routing.order = order.to_vec();
        self
    }

    fn build(
        self,
        service: &Arc<Recording>,
    ) -> (Attesta, Arc<ScriptedChannel>, Arc<MemoryAuditSink>) {
        let channel = Arc::new(ScriptedChannel::new([
            ScriptedAnswer::answers(["yes"]).by("local-approver")
        ]));
        let sink = Arc::new(MemoryAuditSink::new());
        let mut builder = Attesta::builder()
            .scorer(Arc::new(FixedRiskScorer::new(self.score).unwrap()))
            .audit(sink.clone())
            .environment("ci")
            .approval_service(service.clone())
            .approval_routing(self.routing);
        if self.channel {
            builder = builder.channel(channel.clone());
        }
        if let Some(escalation) = self.escalation {
            builder = builder.escalations(Arc::new(Always(escalation)));
        }
        (builder.build().unwrap(), channel, sink)
    }
}

fn route(result: Option<&ChallengeResult>) -> Option<String> {
    result
        .and_then(|r| r.details.get("approval_route"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// MEDIUM at the fixed score (a confirm).
const MEDIUM: f64 = 0.45;

#[tokio::test]
async fn by_default_every_level_goes_to_the_server_only() {
    let server = Recording::new(Answer::Undelivered);
    let (engine, channel, _) = Setup::new(MEDIUM).build(&server);
    let decision = engine.evaluate(&ActionContext::new("deploy")).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(channel.prompts().is_empty(), "the local channel was asked");
    assert_eq!(server.presented(), 1);
    assert_eq!(
        route(decision.challenge_result.as_ref()).as_deref(),
        Some("server")
    );
    let reason = &decision.reason;
    assert!(reason.contains("cannot be reached"), "{reason}");
}

#[tokio::test]
async fn an_undelivered_approval_falls_back_to_the_local_channel_when_ordered() {
    let server = Recording::new(Answer::Undelivered);
    let (engine, channel, sink) = Setup::new(MEDIUM)
        .order(&[ApprovalRoute::Server, ApprovalRoute::Local])
        .build(&server);
    let decision = engine.evaluate(&ActionContext::new("deploy")).await;
    assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
    assert_eq!(channel.prompts().len(), 1);
    assert_eq!(decision.approvers, vec!["local-approver".to_owned()]);
    let result = decision.challenge_result.as_ref().unwrap();
    assert_eq!(route(Some(result)).as_deref(), Some("local"));
    let passed_over = format!("{:?}", result.details.get("routes_passed_over"));
    assert!(
        passed_over.contains("server: the approval server"),
        "{passed_over}"
    );
    // The audit record says which route decided.
    let record = sink.records().pop().unwrap();
    let Some(Value::Map(details)) = record.metadata.get("attesta_decision") else {
        panic!("no decision details: {record:?}");
    };
    assert_eq!(details.get("approval_route"), Some(&Value::from("local")));
    assert!(details.contains_key("routes_passed_over"), "{details:?}");
}

#[tokio::test]
async fn a_server_decision_is_final_even_with_a_local_route_after_it() {
    let server = Recording::new(Answer::Deny);
    let (engine, channel, _) = Setup::new(MEDIUM)
        .order(&[ApprovalRoute::Server, ApprovalRoute::Local])
        .build(&server);
    let decision = engine.evaluate(&ActionContext::new("deploy")).await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(
        channel.prompts().is_empty(),
        "a denied approval was asked again locally"
    );
}

#[tokio::test]
async fn local_first_asks_the_terminal_and_uses_the_server_only_without_one() {
    let server = Recording::new(Answer::Approve);
    let (engine, channel, _) = Setup::new(MEDIUM)
        .order(&[ApprovalRoute::Local, ApprovalRoute::Server])
        .build(&server);
    let decision = engine.evaluate(&ActionContext::new("deploy")).await;
    assert_eq!(decision.verdict, Verdict::Approved);
    assert_eq!(channel.prompts().len(), 1);
    assert_eq!(server.presented(), 0);

    let mut no_channel = Setup::new(MEDIUM).order(&[ApprovalRoute::Local, ApprovalRoute::Server]);
    no_channel.channel = false;
    let (engine, _, _) = no_channel.build(&server);
    let decision = engine.evaluate(&ActionContext::new("deploy")).await;
    assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
    assert_eq!(decision.approvers, vec!["server-approver".to_owned()]);
    assert_eq!(
        route(decision.challenge_result.as_ref()).as_deref(),
        Some("server")
    );
}

#[tokio::test]
async fn levels_outside_the_servers_list_are_asked_locally() {
    let server = Recording::new(Answer::Approve);
    let mut setup = Setup::new(MEDIUM);
    setup.routing.levels = vec![RiskLevel::High, RiskLevel::Critical];
    let (engine, channel, _) = setup.build(&server);
    let decision = engine.evaluate(&ActionContext::new("deploy")).await;
    assert_eq!(decision.verdict, Verdict::Approved);
    assert_eq!(channel.prompts().len(), 1);
    assert_eq!(server.presented(), 0);
    // Not routed at all: no route is recorded.
    assert_eq!(route(decision.challenge_result.as_ref()), None);
}

#[tokio::test]
async fn the_server_is_told_the_rules_and_roles_even_when_the_challenge_is_unchanged() {
    let server = Recording::new(Answer::Approve);
    let mut setup = Setup::new(MEDIUM);
    let rule = "healthcare: matches_pattern:phi_access → notify".to_owned();
    setup.escalation = Some(Escalation {
        notify: vec!["privacy_officer".into()],
        rules: vec![rule.clone()],
        ..Escalation::default()
    });
    let (engine, _, _) = setup.build(&server);
    let decision = engine.evaluate(&ActionContext::new("read_chart")).await;
    assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
    let asked = server.requests();
    let last = asked.last().expect("the service was asked");
    assert_eq!(last.kind, ChallengeType::Confirm);
    assert_eq!(last.required_approvers, 1);
    assert_eq!(last.escalation.rules, vec![rule]);
    assert_eq!(last.escalation.notify, vec!["privacy_officer".to_owned()]);
}

#[tokio::test]
async fn more_approvers_from_a_rule_reach_the_server_as_a_multi_party_request() {
    let server = Recording::new(Answer::Approve);
    let mut setup = Setup::new(MEDIUM);
    setup.escalation = Some(Escalation {
        approvers: Some(3),
        rules: vec!["devops: drop_* → require_multi_party 3".into()],
        ..Escalation::default()
    });
    let (engine, _, _) = setup.build(&server);
    // The recording service reports one approver, so the gate's own count
    // check denies; what matters here is what the server was asked for.
    let _ = engine.evaluate(&ActionContext::new("drop_table")).await;
    let last = server.requests().pop().expect("the service was asked");
    assert_eq!(last.kind, ChallengeType::MultiParty);
    assert_eq!(last.required_approvers, 3);
}

#[test]
fn routing_without_the_server_or_with_a_route_twice_is_refused() {
    let server = Recording::new(Answer::Approve);
    for (order, levels, needle) in [
        (
            vec![ApprovalRoute::Local],
            RiskLevel::ALL.to_vec(),
            "server",
        ),
        (
            vec![ApprovalRoute::Server, ApprovalRoute::Server],
            RiskLevel::ALL.to_vec(),
            "twice",
        ),
        (vec![ApprovalRoute::Server], Vec::new(), "level"),
    ] {
        let err = Attesta::builder()
            .approval_service(server.clone())
            .approval_routing(ApprovalRouting { order, levels })
            .build()
            .expect_err("bad routing accepted");
        assert!(err.to_string().contains(needle), "{err}");
    }
}
