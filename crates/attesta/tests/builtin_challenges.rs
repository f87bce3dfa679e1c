//! The built-in challenges through the real gate: a careful human (a test
//! channel that answers from what the prompt shows) passes; wrong, empty or
//! copied answers do not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: fail loudly

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use attesta::audit::MemoryAuditSink;
use attesta::channel::{Channel, ChannelError, Principal, Prompt, QuestionKind, Response};
use attesta::risk::FixedRiskScorer;
use attesta::{ActionContext, Attesta, ChallengeType, Policy, RiskLevel, Verdict};

/// How the test human answers one prompt.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Reads the action and answers correctly.
    Careful,
    /// Did not read the action: picks a wrong option, types a wrong value,
    /// and "explains" with a platitude. (Never right by chance: a random
    /// letter would be, now and then.)
    Careless,
    /// Pastes the call text as the explanation.
    Copier,
    /// Answers nothing at all.
    Blank,
}

/// A channel whose "human" answers from the prompt alone, as a person would.
#[derive(Debug)]
struct HumanChannel {
    turns: Mutex<VecDeque<(&'static str, Behaviour)>>,
    seen: Mutex<Vec<Prompt>>,
}

impl HumanChannel {
    fn new(turns: impl IntoIterator<Item = (&'static str, Behaviour)>) -> Arc<Self> {
        Arc::new(Self {
            turns: Mutex::new(turns.into_iter().collect()),
            seen: Mutex::new(Vec::new()),
        })
    }
}

/// The correct answer to a question about `delete_file('/var/data/reports/q3.csv')`
/// or `drop_table(...)`, worked out the way a reader of the prompt would.
fn careful_answer(prompt: &Prompt, index: usize) -> String {
    let q = &prompt.questions[index];
    let text = q.text.to_lowercase();
    let want = if q.kind == QuestionKind::Explanation {
        return "This permanently deletes the q3.csv report file from the /var/data/reports \
                directory on the production server, so the quarterly numbers are gone for good \
                unless someone restores them from a backup first."
            .to_owned();
    } else if text.contains("directory") {
        "/var/data/reports"
    } else if text.contains("file") {
        "q3.csv"
    } else if text.contains("environment") {
        prompt.action.environment.as_str()
    } else if text.contains("approve this action") {
        "yes"
    } else if text.contains("table") {
        "user_sessions"
    } else {
        panic!("the test human does not understand: {}", q.text)
    };
    match q.options.iter().position(|o| o == want) {
        // Answer choice questions by letter, as people do.
        Some(i) => char::from(b'A' + u8::try_from(i).unwrap()).to_string(),
        None => want.to_owned(),
    }
}

/// A wrong answer to question `index`: an option other than the right one,
/// a wrong value, or an empty platitude.
fn careless_answer(prompt: &Prompt, index: usize) -> String {
    let q = &prompt.questions[index];
    match q.kind {
        QuestionKind::Explanation => "Looks fine to me, go ahead and do it.".to_owned(),
        QuestionKind::FreeText => "no idea".to_owned(),
        QuestionKind::Choice => {
            let right = careful_answer(prompt, index);
            let right_value = right
                .chars()
                .next()
                .filter(|_| right.len() == 1)
                .and_then(|c| q.options.get(usize::from(u8::try_from(c).unwrap() - b'A')))
                .cloned()
                .unwrap_or(right);
            q.options
                .iter()
                .find(|o| **o != right_value)
                .cloned()
                .expect("a choice has a wrong option")
        }
    }
}

#[async_trait]
impl Channel for HumanChannel {
    fn name(&self) -> &'static str {
        "test-human"
    }

    async fn ask(&self, prompt: &Prompt) -> Result<Response, ChannelError> {
        self.seen.lock().unwrap().push(prompt.clone());
        let (who, behaviour) = self
            .turns
            .lock()
            .unwrap()
            .pop_front()
            .ok_or_else(|| ChannelError::Unavailable("nobody left to ask".into()))?;
        let answers = (0..prompt.questions.len())
            .map(|i| match behaviour {
                Behaviour::Careful => careful_answer(prompt, i),
                Behaviour::Careless => careless_answer(prompt, i),
                Behaviour::Copier => prompt.action.call.clone(),
                Behaviour::Blank => "   ".to_owned(),
            })
            .collect();
        Ok(Response {
            answers,
            principal: Principal::new(who, "test"),
            review_time: Duration::from_secs(45),
        })
    }
}

fn delete_report() -> ActionContext {
    ActionContext::new("delete_file")
        .with_arg("/var/data/reports/q3.csv")
        .with_environment("production")
        .with_agent("agent-7")
}

fn engine(
    level: RiskLevel,
    challenge: ChallengeType,
    channel: Arc<HumanChannel>,
) -> (Attesta, Arc<MemoryAuditSink>) {
    let mut policy = Policy::default();
    policy.challenge_map.insert(level, challenge);
    let sink = Arc::new(MemoryAuditSink::new());
    let attesta = Attesta::builder()
        .policy(policy)
        .scorer(Arc::new(
            FixedRiskScorer::new(level.representative_score()).unwrap(),
        ))
        .channel(channel)
        .audit(sink.clone())
        .environment("ci")
        .build()
        .unwrap();
    (attesta, sink)
}

async fn verdict(level: RiskLevel, challenge: ChallengeType, who: Behaviour) -> Verdict {
    let channel = HumanChannel::new([("alice", who)]);
    let (attesta, _) = engine(level, challenge, channel);
    let ctx = delete_report().with_environment("ci");
    attesta.evaluate(&ctx).await.verdict
}

#[tokio::test]
async fn quiz_passes_only_for_someone_who_read_the_action() {
    assert_eq!(
        verdict(RiskLevel::High, ChallengeType::Quiz, Behaviour::Careful).await,
        Verdict::Approved
    );
    for who in [Behaviour::Careless, Behaviour::Copier, Behaviour::Blank] {
        assert_eq!(
            verdict(RiskLevel::High, ChallengeType::Quiz, who).await,
            Verdict::Denied,
            "{who:?}"
        );
    }
}

#[tokio::test]
async fn teach_back_passes_only_a_real_explanation() {
    assert_eq!(
        verdict(
            RiskLevel::High,
            ChallengeType::TeachBack,
            Behaviour::Careful
        )
        .await,
        Verdict::Approved
    );
    for who in [Behaviour::Careless, Behaviour::Copier, Behaviour::Blank] {
        assert_eq!(
            verdict(RiskLevel::High, ChallengeType::TeachBack, who).await,
            Verdict::Denied,
            "{who:?}"
        );
    }
}

#[tokio::test]
async fn confirm_is_not_passed_by_a_letter_or_blank() {
    assert_eq!(
        verdict(
            RiskLevel::Medium,
            ChallengeType::Confirm,
            Behaviour::Careless
        )
        .await,
        Verdict::Denied
    );
    assert_eq!(
        verdict(RiskLevel::Medium, ChallengeType::Confirm, Behaviour::Blank).await,
        Verdict::Denied
    );
}

#[tokio::test]
async fn builtin_multi_party_rotates_and_records_every_approver() {
    let channel = HumanChannel::new([("alice", Behaviour::Careful), ("bob", Behaviour::Careful)]);
    let (attesta, sink) = engine(
        RiskLevel::Critical,
        ChallengeType::MultiParty,
        channel.clone(),
    );
    let decision = attesta
        .evaluate(&delete_report().with_environment("ci"))
        .await;
    assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
    assert_eq!(decision.approvers, ["alice", "bob"]);
    assert_eq!(sink.records()[0].approver_ids, ["alice", "bob"]);
    let kinds: Vec<_> = channel
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.challenge_type)
        .collect();
    assert_eq!(kinds, [ChallengeType::TeachBack, ChallengeType::Quiz]);
}

#[tokio::test]
async fn builtin_multi_party_fails_when_the_second_approver_guesses() {
    let channel = HumanChannel::new([("alice", Behaviour::Careful), ("bob", Behaviour::Careless)]);
    let (attesta, sink) = engine(RiskLevel::Critical, ChallengeType::MultiParty, channel);
    let decision = attesta
        .evaluate(&delete_report().with_environment("ci"))
        .await;
    assert_eq!(decision.verdict, Verdict::Denied);
    assert!(
        decision.reason.contains("(bob) did not pass the quiz"),
        "{}",
        decision.reason
    );
    assert_eq!(sink.records()[0].approver_ids, ["alice"]);
}

#[tokio::test]
async fn builtin_multi_party_with_one_person_in_two_slots_is_denied() {
    let channel = HumanChannel::new([("alice", Behaviour::Careful), ("alice", Behaviour::Careful)]);
    let (attesta, _) = engine(RiskLevel::Critical, ChallengeType::MultiParty, channel);
    let decision = attesta
        .evaluate(&delete_report().with_environment("ci"))
        .await;
    assert_eq!(decision.verdict, Verdict::Denied);
}

#[tokio::test]
async fn prompts_show_the_environment_the_gate_resolved() {
    let channel = HumanChannel::new([("alice", Behaviour::Careless)]);
    let (attesta, _) = engine(RiskLevel::Medium, ChallengeType::Confirm, channel.clone());
    let unnamed = ActionContext::new("update_config"); // no environment: the engine's "ci"
    attesta.evaluate(&unnamed).await;
    assert_eq!(channel.seen.lock().unwrap()[0].action.environment, "ci");
}

#[tokio::test]
async fn prompts_never_carry_the_correct_choice_marked_or_the_key() {
    let channel = HumanChannel::new([("alice", Behaviour::Careful)]);
    let (attesta, _) = engine(RiskLevel::High, ChallengeType::Quiz, channel.clone());
    attesta
        .evaluate(&delete_report().with_environment("ci"))
        .await;
    let prompt = channel.seen.lock().unwrap()[0].clone();
    let json = serde_json::to_string(&prompt).unwrap();
    assert!(!json.contains("\"answers\""), "{json}");
    assert!(!json.contains("correct"), "{json}");
}
