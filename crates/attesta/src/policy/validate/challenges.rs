//! Challenge settings under `policy:` (`quiz`, `teach_back`, `totp`) and
//! the top-level `approvers:` list.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::read::{Field, Section};
use crate::policy::tree::Problem;
use crate::policy::{
    ApproverConfig, Policy, QuizSettings, SecretSource, TeachBackSettings, TotpAlgorithm,
    TotpSettings,
};

const QUIZ_KEYS: &[&str] = &["questions", "min_correct"];
const TEACH_BACK_KEYS: &[&str] = &["min_words"];
const TOTP_KEYS: &[&str] = &[
    "digits",
    "period_seconds",
    "drift_steps",
    "max_attempts",
    "algorithm",
];
const APPROVER_KEYS: &[&str] = &["id", "totp_secret_env", "totp_secret_file", "os_user"];

/// Fits: every caller bounds the value well inside `u32` first.
fn small(value: i128) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// `policy.quiz`.
pub(super) fn quiz(field: &Field<'_>) -> Result<QuizSettings, Problem> {
    let section = Section::new(field, QUIZ_KEYS)?;
    let mut quiz = QuizSettings::default();
    if let Some(f) = section.get("questions") {
        quiz.max_questions = small(f.whole_in(1, 3, "a number of questions from 1 to 3")?);
    }
    if let Some(f) = section.get("min_correct") {
        let max = i128::from(quiz.max_questions);
        let range = format!("a whole number from 1 to {max} (policy.quiz.questions)");
        quiz.min_correct = Some(small(f.whole_in(1, max, &range)?));
    }
    Ok(quiz)
}

/// `policy.teach_back`.
pub(super) fn teach_back(field: &Field<'_>) -> Result<TeachBackSettings, Problem> {
    let section = Section::new(field, TEACH_BACK_KEYS)?;
    let mut teach_back = TeachBackSettings::default();
    if let Some(f) = section.get("min_words") {
        teach_back.min_words = small(f.whole_in(3, 500, "a number of words from 3 to 500")?);
    }
    Ok(teach_back)
}

/// `policy.totp`.
pub(super) fn totp(field: &Field<'_>) -> Result<TotpSettings, Problem> {
    let section = Section::new(field, TOTP_KEYS)?;
    let mut totp = TotpSettings::default();
    if let Some(f) = section.get("digits") {
        let digits = f.whole_in(6, 8, "6 or 8 digits")?;
        if digits == 7 {
            return Err(f.problem("7 is not a code length authenticator apps use; use 6 or 8"));
        }
        totp.digits = small(digits);
    }
    if let Some(f) = section.get("period_seconds") {
        totp.period_seconds = small(f.whole_in(10, 300, "seconds per code from 10 to 300")?);
    }
    if let Some(f) = section.get("drift_steps") {
        totp.drift_steps = small(f.whole_in(0, 5, "a number of steps from 0 to 5")?);
    }
    if let Some(f) = section.get("max_attempts") {
        totp.max_attempts = small(f.whole_in(1, 10, "a number of attempts from 1 to 10")?);
    }
    if let Some(f) = section.get("algorithm") {
        totp.algorithm = f.choice(
            "a TOTP algorithm",
            &[
                ("sha1", TotpAlgorithm::Sha1),
                ("sha256", TotpAlgorithm::Sha256),
                ("sha512", TotpAlgorithm::Sha512),
            ],
        )?;
    }
    Ok(totp)
}

/// The top-level `approvers:` list.
pub(super) fn approvers(
    policy: &mut Policy,
    field: &Field<'_>,
    base_dir: &Path,
) -> Result<(), Problem> {
    let mut seen = HashSet::new();
    // Approvers without a one-time code are proven only by their OS account
    // (their os_user, else their id): two of them on one account would let
    // one person approve twice.
    let mut accounts: HashMap<String, String> = HashMap::new();
    for item in field.items("a list of approvers, each a mapping with at least an id")? {
        let section = Section::new(&item, APPROVER_KEYS)?;
        let Some(id_field) = section.get("id") else {
            return Err(
                item.problem("an approver needs an id (the name recorded in the audit trail)")
            );
        };
        let id = id_field.non_empty_string()?.to_owned();
        if !seen.insert(id.clone()) {
            return Err(id_field.problem(format!(
                "approver '{id}' is listed twice; each approver must be a distinct person"
            )));
        }
        let env = section.get("totp_secret_env");
        let file = section.get("totp_secret_file");
        let totp_secret = match (env, file) {
            (Some(_), Some(f)) => {
                return Err(f.problem(
                    "give the TOTP secret either as totp_secret_env or as totp_secret_file, not both",
                ));
            }
            (Some(f), None) => Some(SecretSource::Env(f.non_empty_string()?.to_owned())),
            (None, Some(f)) => Some(SecretSource::File(base_dir.join(f.non_empty_string()?))),
            (None, None) => None,
        };
        let os_user = section
            .get("os_user")
            .map(|f| f.non_empty_string().map(str::to_owned))
            .transpose()?;
        if totp_secret.is_none() {
            let account = os_user.clone().unwrap_or_else(|| id.clone());
            if let Some(other) = accounts.insert(account.clone(), id.clone()) {
                return Err(item.problem(format!(
                    "approvers '{other}' and '{id}' would both be proven only by the OS account \
                     '{account}', so one person could approve twice; give each a totp_secret_env \
                     or totp_secret_file, or distinct os_user accounts"
                )));
            }
        }
        policy.approvers.push(ApproverConfig {
            id,
            totp_secret,
            os_user,
        });
    }
    Ok(())
}
