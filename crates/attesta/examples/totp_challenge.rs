//! Custom challenge 1 of 3: a TOTP code from the approver's authenticator app.
//!
//! ```sh
//! cargo run -p attesta --example totp_challenge
//! ```
//!
//! What it shows:
//! - a [`SecretProvider`] of your own (here an in-memory "vault"; in an
//!   installation, `ConfiguredSecrets::from_approvers(&policy.approvers)`
//!   reads the policy's `approvers:` list instead);
//! - [`TotpVerifier`] checking codes, and [`TotpChallenge`] asking for them
//!   over a channel (scripted here, so the example runs unattended);
//! - installing the challenge in the gate for HIGH-risk actions with
//!   `Attesta::builder().challenge_for_level(...)` (or, to replace a built-in
//!   type everywhere the policy uses it, `.challenge_for_type(...)`).

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

use attesta::challenge::TotpChallenge;
use attesta::challenge::totp::{SecretError, SecretProvider, TotpSecret, TotpVerifier};
use attesta::channel::{Channel, ScriptedAnswer, ScriptedChannel};
use attesta::clock::{Clock, SystemClock};
use attesta::policy::TotpSettings;
use attesta::risk::FixedRiskScorer;
use attesta::{ActionContext, Attesta, Decision, RiskLevel};

/// Approvers' base32 secrets, as a secrets manager would hand them out.
/// Only the approver ids may ever be printed.
struct Vault {
    secrets: BTreeMap<String, String>,
}

impl Vault {
    /// Alice's secret: the RFC 6238 test key, so the codes can be checked by
    /// hand. Never use a published key for real.
    fn demo() -> Self {
        let secrets = BTreeMap::from([(
            "alice".to_owned(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".to_owned(),
        )]);
        Self { secrets }
    }
}

impl SecretProvider for Vault {
    fn secret(&self, approver_id: &str) -> Result<TotpSecret, SecretError> {
        let text = self
            .secrets
            .get(approver_id)
            .ok_or_else(|| SecretError::NotConfigured {
                approver: approver_id.to_owned(),
            })?;
        TotpSecret::from_base32(text).map_err(|problem| SecretError::Unavailable {
            approver: approver_id.to_owned(),
            message: format!("the vault's secret is unusable: {problem}"),
        })
    }
}

// Hand-written: a derived Debug would print the secrets.
impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("approvers", &self.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What alice's phone shows at the clock's current time.
fn phone_code(settings: &TotpSettings, clock: &dyn Clock) -> Result<String, Box<dyn Error>> {
    let secret = Vault::demo().secret("alice")?;
    let now = u64::try_from(clock.now().timestamp())?;
    Ok(secret.totp(settings, now)?)
}

/// A six-digit code that is not `right` (its first digit moved by one).
fn mistyped(right: &str) -> String {
    right
        .char_indices()
        .map(|(i, c)| match (i, c.to_digit(10)) {
            (0, Some(d)) => char::from_digit((d + 1) % 10, 10).unwrap_or('0'),
            _ => c,
        })
        .collect()
}

/// A gate that scores every action HIGH and asks for a TOTP code there.
fn gate(
    verifier: Arc<TotpVerifier>,
    channel: Arc<dyn Channel>,
    clock: Arc<dyn Clock>,
) -> Result<Attesta, Box<dyn Error>> {
    let totp = TotpChallenge::new(verifier, channel);
    Ok(Attesta::builder()
        .scorer(Arc::new(FixedRiskScorer::new(0.7)?))
        .challenge_for_level(RiskLevel::High, Arc::new(totp))
        .environment("ci")
        .clock(clock)
        .build()?)
}

fn report(decision: &Decision) {
    println!("verdict:   {}", decision.verdict);
    println!("reason:    {}", decision.reason);
    if let Some(result) = &decision.challenge_result {
        println!("responder: {}", result.responder);
        println!("details:   {:?}", result.details);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let settings = TotpSettings::default();
    let verifier = Arc::new(TotpVerifier::new(
        settings,
        Arc::new(Vault::demo()),
        Arc::clone(&clock),
    )?);

    // Alice mistypes once, then reads the code off her phone correctly. The
    // one-step drift window covers a period boundary passing meanwhile.
    let code = phone_code(&settings, &*clock)?;
    let channel = Arc::new(ScriptedChannel::new([
        ScriptedAnswer::answers([mistyped(&code)]).by("alice"),
        ScriptedAnswer::answers([code]).by("alice"),
    ]));
    let attesta = gate(verifier, channel.clone(), clock)?;
    let ctx = ActionContext::new("rotate_signing_keys").with_kwarg("service", "payments");
    let decision = attesta.evaluate(&ctx).await;

    for prompt in channel.prompts() {
        println!("asked:     {}", prompt.instructions);
    }
    report(&decision);
    Ok(())
}

#[cfg(test)]
mod tests {
    use attesta::challenge::{Challenge, ChallengeResult};
    use attesta::clock::ManualClock;
    use attesta::risk::RiskScorer;
    use attesta::{RiskAssessment, Value, Verdict};

    use super::*;

    /// 2009-02-13 23:31:30 UTC; alice's phone shows 005924 then.
    fn clock() -> Arc<ManualClock> {
        let utc = chrono::DateTime::from_timestamp(1_234_567_890, 0).expect("in range");
        Arc::new(ManualClock::at(
            utc.with_timezone(&chrono::Local).naive_local(),
        ))
    }

    fn verifier(settings: TotpSettings, clock: &Arc<ManualClock>) -> Arc<TotpVerifier> {
        let clock: Arc<dyn Clock> = clock.clone();
        Arc::new(TotpVerifier::new(settings, Arc::new(Vault::demo()), clock).expect("settings"))
    }

    fn channel(codes: &[&str]) -> Arc<ScriptedChannel> {
        Arc::new(ScriptedChannel::new(
            codes
                .iter()
                .map(|c| ScriptedAnswer::answers([*c]).by("alice")),
        ))
    }

    async fn present(challenge: &TotpChallenge) -> ChallengeResult {
        let ctx = ActionContext::new("rotate_signing_keys");
        let risk: RiskAssessment = FixedRiskScorer::new(0.7).expect("score").assess(&ctx);
        challenge.present(&ctx, &risk).await
    }

    #[test]
    fn the_phone_shows_the_rfc_code() {
        let clock = clock();
        assert_eq!(
            phone_code(&TotpSettings::default(), &*clock).expect("code"),
            "005924"
        );
        assert_eq!(mistyped("005924"), "105924");
        assert_eq!(
            format!("{:?}", Vault::demo()),
            r#"Vault { approvers: ["alice"], .. }"#
        );
    }

    #[tokio::test]
    async fn valid_code_passes() {
        let clock = clock();
        let challenge = TotpChallenge::new(
            verifier(TotpSettings::default(), &clock),
            channel(&["005924"]),
        );
        let result = present(&challenge).await;
        assert!(result.passed, "{:?}", result.reason());
        assert_eq!(result.responder, "alice");
        assert_eq!(result.details.get("method"), Some(&Value::from("totp")));
        assert_eq!(result.details.get("attempts"), Some(&Value::from(1u64)));
    }

    #[tokio::test]
    async fn invalid_code_twice_fails_with_the_attempt_count() {
        let clock = clock();
        let settings = TotpSettings {
            max_attempts: 2,
            ..TotpSettings::default()
        };
        let challenge = TotpChallenge::new(
            verifier(settings, &clock),
            channel(&["105924", "999999", "005924"]),
        );
        let result = present(&challenge).await;
        assert!(!result.passed);
        assert_eq!(result.details.get("attempts"), Some(&Value::from(2u64)));
        assert_eq!(result.reason(), Some("2 wrong codes (max attempts 2)"));
    }

    #[tokio::test]
    async fn the_gate_approves_a_valid_code_and_records_the_approver() {
        let clock = clock();
        let verifier = verifier(TotpSettings::default(), &clock);
        let attesta = gate(verifier, channel(&["105924", "005 924"]), clock).expect("gate");
        let decision = attesta
            .evaluate(&ActionContext::new("rotate_signing_keys"))
            .await;
        assert_eq!(decision.verdict, Verdict::Approved, "{}", decision.reason);
        assert_eq!(decision.risk.level, RiskLevel::High);
        assert_eq!(decision.approvers, ["alice"]);
        let result = decision.challenge_result.expect("presented");
        assert_eq!(result.details.get("attempts"), Some(&Value::from(2u64)));
    }

    #[tokio::test]
    async fn the_gate_denies_after_max_attempts() {
        let clock = clock();
        let verifier = verifier(TotpSettings::default(), &clock);
        let attesta = gate(verifier, channel(&["1", "2", "3"]), clock).expect("gate");
        let decision = attesta
            .evaluate(&ActionContext::new("rotate_signing_keys"))
            .await;
        assert_eq!(decision.verdict, Verdict::Denied);
        assert_eq!(decision.reason, "3 wrong codes (max attempts 3)");
        assert!(decision.approvers.is_empty());
    }
}
