//! [`TotpChallenge`]: an approver lets an action run by typing the current
//! code from their authenticator app.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::verifier::{CodeCheck, TotpVerifier};
use crate::challenge::{
    Challenge, ChallengeResult, ChallengeType, Judgement, base_prompt, result_from, unanswered_from,
};
use crate::channel::{
    Channel, ChannelError, Prompt, Question, QuestionKind, Response, sanitize_for_display,
};
use crate::context::ActionContext;
use crate::risk::RiskAssessment;
use crate::value::{Value, ValueMap};

/// Asks for a TOTP code over a [`Channel`] and lets the action run only if a
/// [`TotpVerifier`] accepts it.
///
/// **Whose code.** By default the code is checked for the principal the
/// channel reports, since identifying who is answering is the channel's job
/// (an OS user, an MCP client). [`TotpChallenge::for_approver`] pins one
/// approver instead, for channels that cannot tell people apart; the code is
/// then the proof of identity, so that approver is recorded as the responder
/// and the channel's principal is kept in `details.channel_principal`.
///
/// **Attempts.** A wrong, malformed or already-used code is re-asked, up to
/// `max_attempts` codes in all; an empty answer refuses at once. `details`
/// records `method: "totp"`, `attempts` (codes entered) and `max_attempts`;
/// a failure's `reason` says how many codes were wrong. Neither prompts nor
/// results contain the secret, the expected code or the code entered.
///
/// **Failures.** A secret that cannot be read fails the challenge (never
/// fail-open: it is a configuration problem, not an absent human). A channel
/// error before any code was entered is an unanswered result, subject to the
/// policy's `fail_mode`; after a wrong code it is a plain failure, so
/// hanging up after a bad guess cannot turn into a fail-open approval.
///
/// **Type.** It reports [`ChallengeType::Confirm`]: the set of challenge
/// types is closed (it is part of the audit format shared with the
/// reference implementation), and a TOTP approval is, like a confirmation,
/// one person's explicit yes, with proof of who they are on top. The
/// policy's `confirm` minimum review time applies, and `details.method`
/// tells the two apart in the audit trail.
#[derive(Debug, Clone)]
pub struct TotpChallenge {
    /// Checks codes; shared with anything else that checks codes, so one
    /// replay memory covers them all.
    verifier: Arc<TotpVerifier>,
    /// How the approver is asked.
    channel: Arc<dyn Channel>,
    /// A fixed approver whose code is asked for, instead of the principal
    /// the channel reports.
    approver: Option<String>,
    /// Review time suggested with the first prompt.
    min_review: Duration,
}

impl TotpChallenge {
    /// Asks over `channel` and checks codes with `verifier`, for whoever the
    /// channel says is answering. The first prompt suggests 3 seconds of
    /// review, the default for `confirm`.
    pub fn new(verifier: Arc<TotpVerifier>, channel: Arc<dyn Channel>) -> Self {
        Self {
            verifier,
            channel,
            approver: None,
            min_review: Duration::from_secs(3),
        }
    }

    /// Asks for `approver_id`'s code, whoever the channel says is answering.
    #[must_use]
    pub fn for_approver(mut self, approver_id: impl Into<String>) -> Self {
        self.approver = Some(approver_id.into());
        self
    }

    /// The review time suggested with the first prompt (re-asks suggest
    /// none: the action has been read by then).
    #[must_use]
    pub fn with_min_review(mut self, min_review: Duration) -> Self {
        self.min_review = min_review;
        self
    }

    fn prompt(
        &self,
        ctx: &ActionContext,
        risk: &RiskAssessment,
        attempt: u32,
        note: Option<&str>,
    ) -> Prompt {
        let settings = self.verifier.settings();
        let digits = settings.digits;
        let whose = self
            .approver
            .as_deref()
            .map(|id| format!(" ({} only)", sanitize_for_display(id)))
            .unwrap_or_default();
        let ask = format!(
            "Read the action above. To approve it, enter the current {digits}-digit code \
             from your authenticator app{whose}; leave the answer empty to refuse."
        );
        let instructions = match note {
            Some(note) => format!(
                "Attempt {attempt} of {}: {note}. {ask}",
                settings.max_attempts
            ),
            None => ask,
        };
        let min_review = if attempt == 1 {
            self.min_review
        } else {
            Duration::ZERO
        };
        let mut prompt = base_prompt(ChallengeType::Confirm, ctx, risk, instructions, min_review);
        prompt.questions.push(Question {
            id: "totp_code".to_owned(),
            text: format!("{digits}-digit authenticator code"),
            kind: QuestionKind::FreeText,
            options: Vec::new(),
        });
        prompt
    }

    /// The result for the last response, with the TOTP details: passed
    /// without a `failure`, failed with it as the reason.
    fn finish(&self, run: &Run, response: &Response, failure: Option<String>) -> ChallengeResult {
        let passed = failure.is_none();
        let judgement = Judgement {
            passed,
            // The prompt was shown even when no code was entered.
            questions_asked: run.attempts.max(1),
            questions_correct: u32::from(passed),
            reason: failure,
            details: ValueMap::new(),
        };
        let mut result = result_from(ChallengeType::Confirm, response, judgement);
        result.response_time_seconds = run.review.as_secs_f64();
        if let Some(approver) = &self.approver {
            result.details.insert(
                "channel_principal".into(),
                Value::Str(response.principal.id.clone()),
            );
            result.responder.clone_from(approver);
        }
        self.with_totp_details(result, run, Some(run.approver.as_str()))
    }

    /// The channel failed after at least one code had been entered.
    fn failed_midway(&self, run: &Run, last: &Response, error: &ChannelError) -> ChallengeResult {
        let reason = format!(
            "{}, then the {} channel failed: {error}",
            wrong_codes(run.attempts),
            self.channel.name()
        );
        self.finish(run, last, Some(reason))
    }

    fn with_totp_details(
        &self,
        result: ChallengeResult,
        run: &Run,
        approver: Option<&str>,
    ) -> ChallengeResult {
        let result = result
            .with_detail("method", "totp")
            .with_detail("attempts", u64::from(run.attempts))
            .with_detail(
                "max_attempts",
                u64::from(self.verifier.settings().max_attempts),
            );
        match approver {
            Some(id) => result.with_detail("approver", id),
            None => result,
        }
    }
}

/// Progress through the attempts.
struct Run {
    /// Codes entered so far (checked, whatever the outcome).
    attempts: u32,
    /// Review time summed over every prompt answered.
    review: Duration,
    /// Whose code was checked last.
    approver: String,
}

/// `"1 wrong code"`, `"3 wrong codes"`.
fn wrong_codes(n: u32) -> String {
    if n == 1 {
        "1 wrong code".to_owned()
    } else {
        format!("{n} wrong codes")
    }
}

#[async_trait]
impl Challenge for TotpChallenge {
    fn challenge_type(&self) -> ChallengeType {
        ChallengeType::Confirm
    }

    async fn present(&self, ctx: &ActionContext, risk: &RiskAssessment) -> ChallengeResult {
        let settings = *self.verifier.settings();
        let mut run = Run {
            attempts: 0,
            review: Duration::ZERO,
            approver: String::new(),
        };
        let mut last: Option<Response> = None;
        let mut note: Option<String> = None;
        loop {
            let prompt = self.prompt(ctx, risk, run.attempts + 1, note.as_deref());
            let response = match (self.channel.ask(&prompt).await, &last) {
                (Ok(response), _) => response,
                (Err(error), Some(previous)) => {
                    return self.failed_midway(&run, previous, &error);
                }
                (Err(error), None) => {
                    let result =
                        unanswered_from(ChallengeType::Confirm, self.channel.name(), &error);
                    return self.with_totp_details(result, &run, self.approver.as_deref());
                }
            };
            run.review += response.review_time;
            run.approver = self
                .approver
                .clone()
                .unwrap_or_else(|| response.principal.id.clone());
            let answer = response.answers.first().map_or("", String::as_str);
            if answer.trim().is_empty() {
                let reason = match run.attempts {
                    0 => "no code was entered, so the action was refused".to_owned(),
                    n => format!("no code was entered after {}", wrong_codes(n)),
                };
                return self.finish(&run, &response, Some(reason));
            }
            run.attempts += 1;
            let check = self.verifier.check(&run.approver, answer);
            let problem = match check {
                Ok(CodeCheck::Accepted) => return self.finish(&run, &response, None),
                Err(error) => {
                    let reason = format!("the code could not be checked: {error}");
                    return self.finish(&run, &response, Some(reason));
                }
                Ok(CodeCheck::Replayed) => {
                    "that code was already used; wait for the next one".to_owned()
                }
                Ok(CodeCheck::Malformed) => {
                    format!("that was not a {}-digit code", settings.digits)
                }
                Ok(_) => "that code was not right".to_owned(),
            };
            if run.attempts >= settings.max_attempts {
                let reason = format!(
                    "{} (max attempts {})",
                    wrong_codes(run.attempts),
                    settings.max_attempts
                );
                return self.finish(&run, &response, Some(reason));
            }
            note = Some(problem);
            last = Some(response);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use chrono::{DateTime, Local};

    use super::*;
    use crate::challenge::Unanswered;
    use crate::challenge::totp::{ConfiguredSecrets, TotpSecret};
    use crate::channel::{ScriptedAnswer, ScriptedChannel};
    use crate::clock::ManualClock;
    use crate::policy::{ApproverConfig, SecretSource, TotpSettings};
    use crate::risk::{FixedRiskScorer, RiskScorer};

    const KEY_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    const NOW: i64 = 1_111_111_111;

    fn clock() -> ManualClock {
        let utc = DateTime::from_timestamp(NOW, 0).expect("in range");
        ManualClock::at(utc.with_timezone(&Local).naive_local())
    }

    /// Alice's secret in ALICE_TOTP; bob's variable is not set.
    fn verifier(settings: TotpSettings) -> Arc<TotpVerifier> {
        let approvers = [
            ApproverConfig {
                id: "alice".into(),
                totp_secret: Some(SecretSource::Env("ALICE_TOTP".into())),
                os_user: None,
            },
            ApproverConfig {
                id: "bob".into(),
                totp_secret: Some(SecretSource::Env("BOB_TOTP".into())),
                os_user: None,
            },
        ];
        let secrets = ConfiguredSecrets::from_approvers(&approvers)
            .with_env_lookup(|name| (name == "ALICE_TOTP").then(|| OsString::from(KEY_B32)));
        Arc::new(TotpVerifier::new(settings, Arc::new(secrets), Arc::new(clock())).expect("ok"))
    }

    /// What alice's authenticator shows now, `steps` periods from now.
    fn code(steps: i64) -> String {
        let secret = TotpSecret::from_base32(KEY_B32).expect("key");
        let at = u64::try_from(NOW + 30 * steps).expect("positive");
        secret.totp(&TotpSettings::default(), at).expect("code")
    }

    fn wrong_code() -> String {
        // Differs from every code in the window by construction.
        let right = [code(-1), code(0), code(1)];
        (0..1000)
            .map(|n: u32| format!("{n:06}"))
            .find(|c| !right.contains(c))
            .expect("a wrong code exists")
    }

    fn risk() -> RiskAssessment {
        FixedRiskScorer::new(0.7)
            .expect("in range")
            .assess(&ActionContext::new("deploy"))
    }

    async fn present(challenge: &TotpChallenge) -> ChallengeResult {
        challenge
            .present(&ActionContext::new("deploy").with_arg("prod"), &risk())
            .await
    }

    fn scripted(answers: &[&str], by: &str) -> Arc<ScriptedChannel> {
        Arc::new(ScriptedChannel::new(
            answers.iter().map(|a| ScriptedAnswer::answers([*a]).by(by)),
        ))
    }

    fn int(result: &ChallengeResult, key: &str) -> Option<i128> {
        match result.details.get(key) {
            Some(Value::Int(n)) => Some(*n),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_valid_code_passes() {
        let right = code(0);
        let channel = scripted(&[&right], "alice");
        let challenge = TotpChallenge::new(verifier(TotpSettings::default()), channel.clone());
        let result = present(&challenge).await;
        assert!(result.passed, "{:?}", result.reason());
        assert_eq!(result.challenge_type, ChallengeType::Confirm);
        assert_eq!(result.responder, "alice");
        assert_eq!(int(&result, "attempts"), Some(1));
        assert_eq!(result.details.get("method"), Some(&Value::from("totp")));
        assert_eq!(result.questions_asked, 1);
        assert_eq!(result.questions_correct, 1);

        let prompts = channel.prompts();
        assert_eq!(prompts.len(), 1);
        assert_eq!(prompts[0].questions.len(), 1);
        assert_eq!(prompts[0].questions[0].kind, QuestionKind::FreeText);
        assert_eq!(prompts[0].min_review, Duration::from_secs(3));
    }

    #[tokio::test]
    async fn wrong_then_right_passes_on_the_second_attempt() {
        let (wrong, right) = (wrong_code(), code(0));
        let channel = scripted(&[&wrong, &right], "alice");
        let challenge = TotpChallenge::new(verifier(TotpSettings::default()), channel.clone());
        let result = present(&challenge).await;
        assert!(result.passed, "{:?}", result.reason());
        assert_eq!(int(&result, "attempts"), Some(2));
        // Review time is summed over both prompts (60 s each, scripted).
        assert_eq!(result.response_time_seconds, 120.0);

        let prompts = channel.prompts();
        assert_eq!(prompts.len(), 2);
        assert!(
            prompts[1]
                .instructions
                .starts_with("Attempt 2 of 3: that code was not right."),
            "{}",
            prompts[1].instructions
        );
        assert_eq!(prompts[1].min_review, Duration::ZERO);
        // Nothing shown or recorded gives a code away.
        let shown = serde_json::to_string(&prompts).expect("json");
        let recorded = serde_json::to_string(&result).expect("json");
        for secretish in [right.as_str(), wrong.as_str(), KEY_B32] {
            assert!(!shown.contains(secretish), "prompt leaks {secretish}");
            assert!(!recorded.contains(secretish), "result leaks {secretish}");
        }
    }

    #[tokio::test]
    async fn max_attempts_fails_with_the_count() {
        let wrong = wrong_code();
        let channel = scripted(&[&wrong, "12 34", &wrong, &code(0)], "alice");
        let challenge = TotpChallenge::new(verifier(TotpSettings::default()), channel.clone());
        let result = present(&challenge).await;
        assert!(!result.passed);
        assert_eq!(result.unanswered, None);
        assert_eq!(result.reason(), Some("3 wrong codes (max attempts 3)"));
        assert_eq!(int(&result, "attempts"), Some(3));
        assert_eq!(int(&result, "max_attempts"), Some(3));
        assert_eq!(channel.prompts().len(), 3, "no fourth prompt");
        assert!(
            channel.prompts()[2]
                .instructions
                .starts_with("Attempt 3 of 3: that was not a 6-digit code."),
        );

        let one = TotpSettings {
            max_attempts: 1,
            ..TotpSettings::default()
        };
        let challenge = TotpChallenge::new(verifier(one), scripted(&[&wrong], "alice"));
        assert_eq!(
            present(&challenge).await.reason(),
            Some("1 wrong code (max attempts 1)")
        );
    }

    #[tokio::test]
    async fn provider_failure_fails_with_a_reason() {
        let channel = scripted(&[&code(0)], "bob");
        let challenge = TotpChallenge::new(verifier(TotpSettings::default()), channel);
        let result = present(&challenge).await;
        assert!(!result.passed);
        assert_eq!(
            result.unanswered, None,
            "a misconfiguration never fails open"
        );
        assert_eq!(
            result.reason(),
            Some(
                "the code could not be checked: approver 'bob': \
                 environment variable BOB_TOTP is not set"
            )
        );
        // Someone without any secret configured gets the same kind of answer.
        let challenge = TotpChallenge::new(
            verifier(TotpSettings::default()),
            scripted(&[&code(0)], "mallory"),
        );
        let reason = present(&challenge).await.reason().map(str::to_owned);
        assert!(reason.is_some_and(|r| r.contains("approver 'mallory' has no TOTP secret")),);
    }

    #[tokio::test]
    async fn a_used_code_is_not_accepted_again() {
        let settings = TotpSettings {
            max_attempts: 1,
            ..TotpSettings::default()
        };
        let verifier = verifier(settings);
        let right = code(0);
        let challenge = TotpChallenge::new(Arc::clone(&verifier), scripted(&[&right], "alice"));
        assert!(present(&challenge).await.passed);
        let challenge = TotpChallenge::new(verifier, scripted(&[&right], "alice"));
        let result = present(&challenge).await;
        assert!(!result.passed);
        assert_eq!(result.reason(), Some("1 wrong code (max attempts 1)"));
    }

    #[tokio::test]
    async fn an_empty_answer_refuses_without_re_asking() {
        let channel = scripted(&["  ", &code(0)], "alice");
        let challenge = TotpChallenge::new(verifier(TotpSettings::default()), channel.clone());
        let result = present(&challenge).await;
        assert!(!result.passed);
        assert_eq!(
            result.reason(),
            Some("no code was entered, so the action was refused")
        );
        assert_eq!(int(&result, "attempts"), Some(0));
        assert_eq!(channel.prompts().len(), 1);
    }

    #[tokio::test]
    async fn channel_errors() {
        // Nobody could be asked at all: unanswered, the fail mode decides.
        let challenge = TotpChallenge::new(
            verifier(TotpSettings::default()),
            Arc::new(ScriptedChannel::new([])),
        );
        let result = present(&challenge).await;
        assert!(!result.passed);
        assert_eq!(result.unanswered, Some(Unanswered::NoChannel));

        // A wrong code, then the channel drops: a failure, not "unanswered".
        let channel = Arc::new(ScriptedChannel::new([
            ScriptedAnswer::answers([wrong_code()]).by("alice"),
            ScriptedAnswer::error(ChannelError::Cancelled),
        ]));
        let challenge = TotpChallenge::new(verifier(TotpSettings::default()), channel);
        let result = present(&challenge).await;
        assert!(!result.passed);
        assert_eq!(result.unanswered, None);
        assert_eq!(
            result.reason(),
            Some("1 wrong code, then the scripted channel failed: the request was cancelled")
        );
        assert_eq!(result.responder, "alice");
    }

    #[tokio::test]
    async fn a_pinned_approver_is_the_responder() {
        let channel = scripted(&[&code(0)], "terminal-user");
        let challenge = TotpChallenge::new(verifier(TotpSettings::default()), channel.clone())
            .for_approver("alice");
        let result = present(&challenge).await;
        assert!(result.passed, "{:?}", result.reason());
        assert_eq!(result.responder, "alice");
        assert_eq!(
            result.details.get("channel_principal"),
            Some(&Value::from("terminal-user"))
        );
        assert!(channel.prompts()[0].instructions.contains("(alice only)"));
    }
}
