//! What the server does with a request, independent of HTTP: who may do
//! what, how a submission becomes an approval with one prepared slot per
//! approver, and what each principal may see.
//!
//! Every rule about people is enforced here, on the identity the server
//! authenticated (never on what a client says about itself): requesters
//! submit and read their own approvals; approvers list and answer; nobody
//! approves their own request; one approver holds at most one slot of an
//! approval.

use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq as _;

use attesta::audit::{AuditPublicKey, AuditSigningKey};
use attesta::challenge::Prepared;
use attesta::channel::{ApproverSlot, Prompt, Response};
use attesta::policy::RubberStampMode;
use attesta::{ActionContext, Attesta, RiskAssessment};
use serde::{Deserialize, Serialize};

use crate::principal::{Principal, PrincipalKind};
use crate::scope::Scope;
use crate::store::{
    Approval, ApprovalState, Claim, NewApproval, NewSlot, Slot, SlotState, Store, StoreError,
};
use crate::trail::Trail;

/// Bounds on what one request may ask for.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most pending approvals one requester may have.
    pub max_pending_per_requester: u64,
    /// Most approvers one approval may need.
    pub max_approvers: u32,
    /// Deadline when the submission names none.
    pub default_timeout: Duration,
    /// Longest deadline a submission may ask for.
    pub max_timeout: Duration,
    /// How long an approver's claim on a slot lasts unanswered before
    /// another approver may take the slot over.
    pub claim_lapse: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 << 10,
            max_pending_per_requester: 100,
            max_approvers: 10,
            default_timeout: Duration::from_secs(3600),
            max_timeout: Duration::from_secs(7 * 24 * 3600),
            claim_lapse: Duration::from_secs(15 * 60),
        }
    }
}

/// The longest idempotency key.
const MAX_KEY: usize = 128;
/// The longest action name, escalation role or rule line, in characters.
const MAX_NAME: usize = 256;
/// The longest rule description an escalation may carry.
const MAX_RULE: usize = 4096;
/// The most roles an escalation may ask to notify.
const MAX_ROLES: usize = 32;

/// Refuses names and escalation fields longer than anyone writes: they end
/// up in prompts, notifications and the audit trail.
fn check_lengths(request: &SubmitRequest) -> Result<(), ServiceError> {
    let too_long = |what: &str, text: &str, max: usize| {
        let n = text.chars().count();
        (n > max).then(|| {
            ServiceError::Invalid(format!(
                "{what} is {n} characters long; at most {max} are accepted"
            ))
        })
    };
    if let Some(err) = too_long(
        "action.function_name",
        &request.action.function_name,
        MAX_NAME,
    ) {
        return Err(err);
    }
    let Some(escalation) = &request.escalation else {
        return Ok(());
    };
    if escalation.notify.len() > MAX_ROLES {
        return Err(ServiceError::Invalid(format!(
            "escalation.notify names {} roles; at most {MAX_ROLES} are accepted",
            escalation.notify.len()
        )));
    }
    let rule = escalation.rule.as_deref().unwrap_or("");
    let roles = escalation
        .notify
        .iter()
        .map(|r| ("escalation.notify[]", r.as_str(), MAX_NAME));
    match std::iter::once(("escalation.rule", rule, MAX_RULE))
        .chain(roles)
        .find_map(|(what, text, max)| too_long(what, text, max))
    {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// A requester's submission.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The requester's key for this approval (1–128 printable ASCII
    /// characters): submitting again with it returns the same approval.
    pub idempotency_key: String,
    /// The action to approve.
    pub action: ActionContext,
    /// Its risk as the requester's gate assessed it.
    pub risk: RiskAssessment,
    /// How many distinct approvers must pass (default 1).
    #[serde(default = "one", deserialize_with = "whole_number")]
    pub required_approvers: u32,
    /// The escalation rule that demanded this approval, and the roles to
    /// notify, if any.
    #[serde(default)]
    pub escalation: Option<Escalation>,
    /// How long the approval may wait, in seconds (default and bound from
    /// the server's limits).
    #[serde(default, deserialize_with = "optional_whole_seconds")]
    pub timeout_seconds: Option<u64>,
    /// For a single approver: the challenge the requester's policy asks
    /// for at this level (`confirm`, `quiz`, `teach_back`). Several
    /// approvers always rotate teach-back → quiz → confirm by slot.
    #[serde(default)]
    pub challenge: Option<String>,
}

fn one() -> u32 {
    1
}

/// A whole number, also when written `9.0` (JSON Schema counts that as an
/// integer, so clients generated from the OpenAPI document may send it).
fn whole_number<'de, D: serde::Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    use serde::de::Error as _;
    let value = serde_json::Number::deserialize(d)?;
    whole(&value, 9.007_199_254_740_992e15)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| D::Error::custom(format!("expected a whole number, got {value}")))
}

/// `value` as a whole number: exactly if it is an integer JSON parsed as
/// one, else if it is a whole, non-negative float no larger than `limit`
/// (saturating at `u64::MAX` above it, where floats are no longer exact).
fn whole(value: &serde_json::Number, limit: f64) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= limit)
            // Checked just above: whole and not negative; `as` saturates
            // at u64::MAX, which is what a larger whole number means here.
            .map(|f| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let n = f as u64;
                n
            })
    })
}

/// A deadline in seconds: any whole number, however large (JSON Schema's
/// `integer` has no upper end, and the server cuts a deadline to its
/// limit anyway), so one too large for `u64` counts as `u64::MAX`.
fn optional_whole_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    use serde::de::Error as _;
    Option::<serde_json::Number>::deserialize(d)?
        .map(|value| {
            whole(&value, f64::INFINITY)
                .ok_or_else(|| D::Error::custom(format!("expected a whole number, got {value}")))
        })
        .transpose()
}

/// Why an approval was demanded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// The rule, as the requester's gate described it.
    #[serde(default)]
    pub rule: Option<String>,
    /// Roles to notify.
    #[serde(default)]
    pub notify: Vec<String>,
}

/// A request the server refuses, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The request is malformed or asks for something out of bounds (400).
    #[error("{0}")]
    Invalid(String),
    /// No valid token (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The principal may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing by that id that this principal may see (404).
    #[error("{0}")]
    NotFound(String),
    /// It conflicts with what is stored (409).
    #[error("{0}")]
    Conflict(String),
    /// Over a limit (429).
    #[error("{0}")]
    TooMany(String),
    /// The database failed (503): retry later.
    #[error("{0}")]
    Unavailable(String),
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            StoreError::Conflict(why) => Self::Conflict(why),
            StoreError::Schema(why) | StoreError::Backend(why) => Self::Unavailable(format!(
                "the approval server's database failed ({why}); retry later, and tell the \
                 operator if it persists"
            )),
        }
    }
}

/// An approval as a principal may see it: never an answer key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalView {
    /// The approval's id.
    pub id: String,
    /// Where it is.
    pub state: ApprovalState,
    /// Who submitted it.
    pub requester: String,
    /// SHA-256 of the action's canonical JSON.
    pub action_digest: String,
    /// The action, in Python call form.
    pub action: String,
    /// The risk level.
    pub risk_level: String,
    /// The risk score.
    pub risk_score: f64,
    /// How many approvers must pass.
    pub required_approvers: u32,
    /// Each slot's progress.
    pub slots: Vec<SlotSummary>,
    /// Submitted at (Unix milliseconds).
    pub created_at_ms: i64,
    /// Expires at (Unix milliseconds).
    pub deadline_ms: i64,
    /// Decided at (Unix milliseconds).
    pub decided_at_ms: Option<i64>,
}

/// One slot's progress, as anyone allowed to see the approval may see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotSummary {
    /// 1-based slot number.
    pub index: u32,
    /// The slot's sub-challenge.
    pub challenge: String,
    /// Where it is.
    pub state: crate::store::SlotState,
    /// Who answered it.
    pub approver: Option<String>,
}

/// An approver's slot, ready to answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotView {
    /// The approval's id.
    pub approval_id: String,
    /// 1-based slot number.
    pub index: u32,
    /// How many slots the approval has.
    pub of: u32,
    /// The sub-challenge.
    pub challenge: String,
    /// What to show and ask (an `attesta::channel::Prompt`; no answers).
    pub prompt: serde_json::Value,
    /// When this approver's review clock started (Unix milliseconds).
    pub opened_at_ms: i64,
    /// When the approval expires (Unix milliseconds).
    pub deadline_ms: i64,
    /// Whether the answer must carry the approver's one-time code.
    pub totp_required: bool,
}

/// An approver's answer to their slot.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// One answer per question of the slot's prompt, in order.
    pub answers: Vec<String>,
    /// The approver's current one-time code, required when they enrolled
    /// TOTP (a second factor on every answer).
    #[serde(default)]
    pub totp: Option<String>,
}

/// What became of an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerView {
    /// The slot answered.
    pub index: u32,
    /// Whether the answer passed the slot's challenge.
    pub passed: bool,
    /// Why it failed, when it did.
    pub reason: Option<String>,
    /// The approval afterwards.
    pub approval: ApprovalView,
}

/// The approval service.
#[derive(Debug, Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    engine: Attesta,
    limits: Limits,
    key: Arc<AuditSigningKey>,
    /// The server's own audit trail.
    trail: Trail,
    /// Which groups may approve which actions.
    scopes: Arc<Vec<Scope>>,
    /// Hears of every new approval, if anyone should.
    notifier: Option<Arc<dyn crate::notify::Notifier>>,
    /// Held while deciding, so two answers completing one approval at once
    /// in this process record one decision.
    deciding: Arc<tokio::sync::Mutex<()>>,
    /// Woken whenever this process decides an approval, so waiting
    /// requesters answer at once (they also look again every second, for
    /// decisions made elsewhere and for expiry).
    decided: Arc<tokio::sync::Notify>,
}

/// Longest a wait for a decision may last in one request.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

impl Service {
    /// A service over `store`, preparing and judging slots with `engine`'s
    /// policy, signing decisions with `key` and recording submissions and
    /// decisions in `trail`.
    pub fn new(
        store: Arc<dyn Store>,
        engine: Attesta,
        limits: Limits,
        key: AuditSigningKey,
        trail: Trail,
    ) -> Self {
        Self {
            store,
            engine,
            limits,
            key: Arc::new(key),
            trail,
            scopes: Arc::new(Vec::new()),
            notifier: None,
            deciding: Arc::new(tokio::sync::Mutex::new(())),
            decided: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Tells `notifier` of every new approval (see [`crate::notify`]).
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn crate::notify::Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Reserves actions for groups of approvers (see [`crate::scope`]).
    #[must_use]
    pub fn with_scopes(mut self, scopes: Vec<Scope>) -> Self {
        self.scopes = Arc::new(scopes);
        self
    }

    /// Wakes this server's waiting requesters when another server sharing
    /// the store decides (PostgreSQL); call once at start-up.
    pub async fn watch_decisions(&self) {
        self.store.watch_decisions(Arc::clone(&self.decided)).await;
    }

    /// The public key requesters verify decisions with.
    pub fn public_key(&self) -> AuditPublicKey {
        self.key.public_key()
    }

    /// The store (for readiness checks and administration).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The principal a bearer token belongs to, if it is active.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, ServiceError> {
        let presented = crate::principal::Token::from_presented(token);
        match self.store.principal_by_token(&presented.hash()).await? {
            Some(principal) if principal.is_active() => Ok(principal),
            Some(principal) => Err(ServiceError::Unauthenticated(format!(
                "the token of `{}` was revoked; ask an operator for a new one",
                principal.id
            ))),
            None => Err(ServiceError::Unauthenticated(
                "the token is not one this server issued; check ATTESTA_TOKEN (or the token \
                 file) and the server URL"
                    .to_owned(),
            )),
        }
    }

    /// Stores a requester's submission as a pending approval (or returns
    /// the one its idempotency key already names). `Ok((view, created))`.
    pub async fn submit(
        &self,
        who: &Principal,
        request: SubmitRequest,
        now_ms: i64,
    ) -> Result<(ApprovalView, bool), ServiceError> {
        if who.kind != PrincipalKind::Requester {
            return Err(ServiceError::Forbidden(format!(
                "`{}` is an {}; only requesters submit approvals (use the agent's requester \
                 token)",
                who.id, who.kind
            )));
        }
        check_key(&request.idempotency_key)?;
        let required = request.required_approvers;
        if required == 0 || required > self.limits.max_approvers {
            return Err(ServiceError::Invalid(format!(
                "required_approvers must be between 1 and {}, got {required}",
                self.limits.max_approvers
            )));
        }
        if !(0.0..=1.0).contains(&request.risk.score) {
            return Err(ServiceError::Invalid(format!(
                "risk.score must be between 0 and 1, got {}",
                request.risk.score
            )));
        }
        if request.action.function_name.trim().is_empty() {
            return Err(ServiceError::Invalid(
                "action.function_name is empty; name the action to approve".to_owned(),
            ));
        }
        check_lengths(&request)?;
        let timeout = match request.timeout_seconds {
            None => self.limits.default_timeout,
            Some(0) => {
                return Err(ServiceError::Invalid(
                    "timeout_seconds must be at least 1".to_owned(),
                ));
            }
            Some(secs) => Duration::from_secs(secs).min(self.limits.max_timeout),
        };
        let digest = action_digest(&request.action)?;
        let pending = self.store.pending_count(&who.id).await?;
        if pending >= self.limits.max_pending_per_requester {
            return Err(ServiceError::TooMany(format!(
                "`{}` has {pending} pending approvals, the most this server allows; wait for \
                 some to be decided or cancel them",
                who.id
            )));
        }
        let new = NewApproval {
            id: uuid::Uuid::new_v4().simple().to_string(),
            requester: who.id.clone(),
            idempotency_key: request.idempotency_key.clone(),
            action_digest: digest.clone(),
            request: serde_json::json!({
                "action": request.action,
                "risk": request.risk,
                "required_approvers": required,
                "escalation": request.escalation,
            }),
            created_at_ms: now_ms,
            deadline_ms: now_ms
                .saturating_add(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)),
            slots: self.prepare_slots(
                who,
                &request.action,
                &request.risk,
                required,
                request.challenge.as_deref(),
            )?,
        };
        let submitted = self.store.submit(new).await?;
        if submitted.created
            && let Err(why) = self.trail.submitted(&submitted.approval).await
        {
            // Nothing is kept that the trail does not show.
            let _ = self
                .decide_unrecorded(&submitted.approval, ApprovalState::Cancelled, now_ms)
                .await;
            return Err(ServiceError::Unavailable(format!(
                "{why}; the approval was not accepted, retry later and tell the operator"
            )));
        }
        if submitted.created
            && let Some(notifier) = &self.notifier
        {
            notifier
                .new_approval(&view(&submitted.approval)?, request.escalation.as_ref())
                .await;
        }
        if !submitted.created && submitted.approval.action_digest != digest {
            return Err(ServiceError::Conflict(format!(
                "the idempotency key `{}` was used for another action (approval {}); use a new \
                 key for a new action",
                request.idempotency_key, submitted.approval.id
            )));
        }
        Ok((view(&submitted.approval)?, submitted.created))
    }

    /// One slot per approver, each with its sub-challenge's prompt and
    /// private key, in rotation order.
    fn prepare_slots(
        &self,
        who: &Principal,
        action: &ActionContext,
        risk: &RiskAssessment,
        required: u32,
        challenge: Option<&str>,
    ) -> Result<Vec<NewSlot>, ServiceError> {
        let mut rotation = self.engine.approver_rotation();
        if let Some(wanted) = challenge.filter(|_| required == 1) {
            let Some(at) = rotation
                .iter()
                .position(|i| i.challenge_type().as_str() == wanted)
            else {
                return Err(ServiceError::Invalid(format!(
                    "challenge `{wanted}` is not one this server asks; use confirm, quiz or \
                     teach_back"
                )));
            };
            rotation.rotate_left(at);
        }
        let mut excluded = vec![who.id.clone()];
        if let Some(agent) = action.agent_id.as_deref().filter(|a| !a.is_empty()) {
            excluded.push(agent.to_owned());
        }
        let mut slots = Vec::new();
        for (index, interrogation) in (1..=required).zip(rotation.iter().cycle()) {
            let mut prepared = interrogation.prepare(action, risk);
            prepared.prompt.approver = Some(ApproverSlot {
                index,
                of: required,
                excluded: excluded.clone(),
            });
            let encode = |what: &str, value: Result<serde_json::Value, serde_json::Error>| {
                value.map_err(|e| ServiceError::Invalid(format!("cannot store the {what}: {e}")))
            };
            slots.push(NewSlot {
                challenge: interrogation.challenge_type().as_str().to_owned(),
                prompt: encode("prompt", serde_json::to_value(&prepared.prompt))?,
                key: encode("answer key", serde_json::to_value(&prepared.key))?,
            });
        }
        Ok(slots)
    }

    /// The approval `id`, if `who` may see it: its requester, any approver,
    /// an admin. Anyone else gets "not found", so ids cannot be probed.
    pub async fn status(&self, who: &Principal, id: &str) -> Result<ApprovalView, ServiceError> {
        let approval = self.visible(who, id).await?;
        view(&approval)
    }

    async fn visible(&self, who: &Principal, id: &str) -> Result<Approval, ServiceError> {
        let not_found = || ServiceError::NotFound(format!("approval {id} not found"));
        let approval = self.store.approval(id).await?.ok_or_else(not_found)?;
        let allowed = match who.kind {
            PrincipalKind::Requester => approval.requester == who.id,
            PrincipalKind::Approver | PrincipalKind::Admin => true,
        };
        if allowed {
            Ok(approval)
        } else {
            Err(not_found())
        }
    }

    /// The pending approvals `who` may answer, oldest first.
    pub async fn pending_for(&self, who: &Principal) -> Result<Vec<ApprovalView>, ServiceError> {
        if who.kind != PrincipalKind::Approver {
            return Err(ServiceError::Forbidden(format!(
                "`{}` is a {}; only approvers have approvals to answer",
                who.id, who.kind
            )));
        }
        let mut out = Vec::new();
        for approval in self.store.pending(500).await? {
            if may_answer(who, &approval, &self.scopes).is_ok()
                && !approval
                    .slots
                    .iter()
                    .any(|s| s.approver.as_deref() == Some(&who.id))
            {
                out.push(view(&approval)?);
            }
        }
        Ok(out)
    }

    /// Gives `who` their slot of approval `id` to answer, starting their
    /// review clock the first time they open it.
    pub async fn open_slot(
        &self,
        who: &Principal,
        id: &str,
        now_ms: i64,
    ) -> Result<SlotView, ServiceError> {
        let approval = self.visible(who, id).await?;
        may_answer(who, &approval, &self.scopes)?;
        if approval.state.is_final() {
            return Err(ServiceError::Conflict(format!(
                "approval {id} is {} already; there is nothing to answer",
                approval.state.as_str()
            )));
        }
        let lapse = i64::try_from(self.limits.claim_lapse.as_millis()).unwrap_or(i64::MAX);
        let claim = self
            .store
            .claim_slot(id, &who.id, now_ms, now_ms.saturating_sub(lapse))
            .await?;
        let slot = match claim {
            Claim::Held(slot) => slot,
            Claim::AlreadyAnswered(slot) => {
                return Err(ServiceError::Conflict(format!(
                    "`{}` answered slot {} of approval {id} already; one person fills one slot",
                    who.id, slot.index
                )));
            }
            Claim::Busy => {
                return Err(ServiceError::Conflict(format!(
                    "every open slot of approval {id} is being answered by another approver; \
                     try again later"
                )));
            }
            Claim::NoneOpen => {
                return Err(ServiceError::Conflict(format!(
                    "approval {id} has no open slot left"
                )));
            }
        };
        let mut view = slot_view(&approval, &slot);
        view.totp_required = who.has_totp;
        Ok(view)
    }
}

impl Service {
    /// Judges `who`'s answer to the slot they hold, with the engine's
    /// checker for that slot's challenge, on the server's clock: their
    /// review time runs from when they opened the slot. A failed slot
    /// denies the whole approval at once; the last passing slot approves it.
    pub async fn answer(
        &self,
        who: &Principal,
        id: &str,
        request: AnswerRequest,
        now_ms: i64,
    ) -> Result<AnswerView, ServiceError> {
        let approval = self.visible(who, id).await?;
        may_answer(who, &approval, &self.scopes)?;
        let approval = self.settle(approval, now_ms).await?;
        if approval.state.is_final() {
            return Err(ServiceError::Conflict(format!(
                "approval {id} is {} already; the answer was not recorded",
                approval.state.as_str()
            )));
        }
        let slot = approval
            .slots
            .iter()
            .find(|s| s.state == SlotState::Open && s.claimed_by.as_deref() == Some(&who.id))
            .ok_or_else(|| {
                ServiceError::Conflict(format!(
                    "`{}` holds no open slot of approval {id}; open one first with POST \
                     /v1/approvals/{id}/slot, read its prompt, then answer",
                    who.id
                ))
            })?
            .clone();
        if who.has_totp {
            self.check_totp(who, request.totp.as_deref(), now_ms)
                .await?;
        }
        let (passed, reason, result) = self.judge(&approval, &slot, who, request, now_ms).await?;
        let answered = self
            .store
            .record_answer(id, slot.index, &who.id, passed, result, now_ms)
            .await?;
        let settled = self.settle(answered, now_ms).await?;
        Ok(AnswerView {
            index: slot.index,
            passed,
            reason,
            approval: view(&settled)?,
        })
    }

    /// The second factor: `code` must be `who`'s current TOTP code (within
    /// the policy's drift) and not one used before. A refusal records
    /// nothing: the slot stays theirs to answer.
    async fn check_totp(
        &self,
        who: &Principal,
        code: Option<&str>,
        now_ms: i64,
    ) -> Result<(), ServiceError> {
        let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
            return Err(ServiceError::Forbidden(format!(
                "`{}` answers with a one-time code: send `totp` with the code your \
                 authenticator shows",
                who.id
            )));
        };
        let secret = self.store.totp_secret(&who.id).await?.ok_or_else(|| {
            ServiceError::Unavailable(format!("the TOTP secret of `{}` is missing", who.id))
        })?;
        let secret = attesta::challenge::TotpSecret::from_base32(&secret).map_err(|e| {
            ServiceError::Unavailable(format!("the TOTP secret of `{}` is damaged: {e}", who.id))
        })?;
        let settings = self.engine.policy().totp;
        let now = u64::try_from(now_ms / 1000).unwrap_or(0);
        let period = u64::from(settings.period_seconds.max(1));
        let current = now / period;
        let drift = u64::from(settings.drift_steps);
        let mut matched = None;
        for step in current.saturating_sub(drift)..=current.saturating_add(drift) {
            if let Ok(expected) = secret.totp(&settings, step * period)
                && bool::from(expected.as_bytes().ct_eq(code.as_bytes()))
            {
                matched = Some(step);
            }
        }
        let Some(step) = matched else {
            return Err(ServiceError::Forbidden(
                "the one-time code is wrong; send the code your authenticator shows now".to_owned(),
            ));
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        if !self.store.accept_totp_step(&who.id, step).await? {
            return Err(ServiceError::Forbidden(
                "that one-time code was used already; wait for the next one".to_owned(),
            ));
        }
        Ok(())
    }

    async fn judge(
        &self,
        approval: &Approval,
        slot: &Slot,
        who: &Principal,
        request: AnswerRequest,
        now_ms: i64,
    ) -> Result<(bool, Option<String>, serde_json::Value), ServiceError> {
        let damaged = |what: &str, e: serde_json::Error| {
            ServiceError::Unavailable(format!(
                "the stored {what} of approval {} is damaged: {e}",
                approval.id
            ))
        };
        let action: ActionContext = serde_json::from_value(approval.request["action"].clone())
            .map_err(|e| damaged("action", e))?;
        let prompt: Prompt =
            serde_json::from_value(slot.prompt.clone()).map_err(|e| damaged("prompt", e))?;
        let key = serde_json::from_value(slot.key.clone()).map_err(|e| damaged("answer key", e))?;
        // A well-formed answer that does not fit this slot's questions
        // conflicts with the slot (409), as the document says: it is not a
        // malformed request (400), and not a failed slot either, so the
        // approver can read the prompt again and resend.
        if request.answers.len() != prompt.questions.len() {
            return Err(ServiceError::Conflict(format!(
                "slot {} asks {} question(s) and got {} answer(s); send exactly one answer \
                 per question, in order (POST /v1/approvals/{}/slot shows them again)",
                slot.index,
                prompt.questions.len(),
                request.answers.len(),
                approval.id
            )));
        }
        let interrogation = self
            .engine
            .approver_rotation()
            .into_iter()
            .find(|i| i.challenge_type().as_str() == slot.challenge)
            .ok_or_else(|| {
                ServiceError::Unavailable(format!(
                    "this server cannot judge a `{}` challenge; check its policy",
                    slot.challenge
                ))
            })?;
        let opened = slot.claimed_at_ms.unwrap_or(now_ms);
        let review =
            Duration::from_millis(u64::try_from(now_ms.saturating_sub(opened)).unwrap_or(0));
        let response = Response {
            answers: request.answers,
            principal: attesta::channel::Principal::new(who.id.clone(), "server_token"),
            review_time: review,
        };
        let prepared = Prepared { prompt, key };
        let judgement = interrogation.judge(&action, &prepared, &response).await;
        let min_review = prepared.prompt.min_review;
        let rushed = review < min_review;
        let rejected = rushed && self.engine.policy().rubber_stamp == RubberStampMode::Reject;
        let passed = judgement.passed && !rejected;
        let reason = if rejected {
            Some(format!(
                "answered after {:.1} s, before the minimum review time of {:.1} s",
                review.as_secs_f64(),
                min_review.as_secs_f64()
            ))
        } else {
            judgement.reason.clone()
        };
        let details = serde_json::to_value(attesta::Value::Map(judgement.details))
            .unwrap_or(serde_json::Value::Null);
        let result = serde_json::json!({
            "passed": passed,
            "reason": reason,
            "questions_asked": judgement.questions_asked,
            "questions_correct": judgement.questions_correct,
            "review_seconds": review.as_secs_f64(),
            "min_review_seconds": min_review.as_secs_f64(),
            "min_review_met": !rushed,
            "verified_by": "server_token",
            "details": details,
        });
        Ok((passed, reason, result))
    }

    /// Withdraws the requester's own pending approval.
    pub async fn cancel(
        &self,
        who: &Principal,
        id: &str,
        now_ms: i64,
    ) -> Result<ApprovalView, ServiceError> {
        let approval = self.visible(who, id).await?;
        if who.kind != PrincipalKind::Requester || approval.requester != who.id {
            return Err(ServiceError::Forbidden(format!(
                "only the requester of approval {id} may cancel it"
            )));
        }
        if approval.state.is_final() {
            return Err(ServiceError::Conflict(format!(
                "approval {id} is {} already; it cannot be cancelled",
                approval.state.as_str()
            )));
        }
        let decided = self
            .decide(&approval, ApprovalState::Cancelled, now_ms)
            .await?;
        // Decided otherwise meanwhile (the last answer came first).
        if decided.state != ApprovalState::Cancelled {
            return Err(ServiceError::Conflict(format!(
                "approval {id} is {} already; it cannot be cancelled",
                decided.state.as_str()
            )));
        }
        view(&decided)
    }

    /// Decides `approval` if its slots or its deadline say so; returns it
    /// as it stands afterwards.
    pub async fn settle(&self, approval: Approval, now_ms: i64) -> Result<Approval, ServiceError> {
        if approval.state.is_final() {
            return Ok(approval);
        }
        let state = if approval.slots.iter().any(|s| s.state == SlotState::Failed) {
            ApprovalState::Denied
        } else if approval.slots.iter().all(|s| s.state == SlotState::Passed) {
            ApprovalState::Approved
        } else if now_ms >= approval.deadline_ms {
            ApprovalState::Expired
        } else {
            return Ok(approval);
        };
        self.decide(&approval, state, now_ms).await
    }

    /// Signs the decision, records it in the trail, then stores it; if
    /// another decision got there first, that one stands. If the trail
    /// cannot be written the approval stays pending (and will expire).
    async fn decide(
        &self,
        approval: &Approval,
        state: ApprovalState,
        now_ms: i64,
    ) -> Result<Approval, ServiceError> {
        let _one_at_a_time = self.deciding.lock().await;
        // Read again under the lock: another answer may have decided it.
        let approval =
            self.store.approval(&approval.id).await?.ok_or_else(|| {
                ServiceError::NotFound(format!("approval {} not found", approval.id))
            })?;
        if approval.state.is_final() {
            // Settled meanwhile (another answer, the sweeper, another
            // server): that decision stands.
            return Ok(approval);
        }
        let signed = self.signed(&approval, state, now_ms);
        self.trail
            .decided(&approval, state, &signed, now_ms)
            .await
            .map_err(|why| {
                ServiceError::Unavailable(format!(
                    "{why}; approval {} stays undecided",
                    approval.id
                ))
            })?;
        self.store_decision(&approval, state, signed, now_ms).await
    }

    /// Decides without a trail record: only to withdraw a submission the
    /// trail could not record.
    async fn decide_unrecorded(
        &self,
        approval: &Approval,
        state: ApprovalState,
        now_ms: i64,
    ) -> Result<Approval, ServiceError> {
        let signed = self.signed(approval, state, now_ms);
        self.store_decision(approval, state, signed, now_ms).await
    }

    fn signed(&self, approval: &Approval, state: ApprovalState, now_ms: i64) -> serde_json::Value {
        let key_id = self.key.public_key().key_id();
        crate::decision::sign(
            &self.key,
            crate::decision::content(approval, state, now_ms, &key_id),
        )
    }

    async fn store_decision(
        &self,
        approval: &Approval,
        state: ApprovalState,
        signed: serde_json::Value,
        now_ms: i64,
    ) -> Result<Approval, ServiceError> {
        let decided = match self.store.decide(&approval.id, state, signed, now_ms).await {
            Ok(decided) => decided,
            Err(StoreError::Conflict(_)) => {
                self.store.approval(&approval.id).await?.ok_or_else(|| {
                    ServiceError::NotFound(format!("approval {} not found", approval.id))
                })?
            }
            Err(other) => return Err(other.into()),
        };
        self.decided.notify_waiters();
        Ok(decided)
    }

    /// Settles every approval that is past its deadline or fully answered
    /// (run periodically); returns how many were decided.
    pub async fn sweep(&self, now_ms: i64) -> Result<usize, ServiceError> {
        let mut decided = 0;
        for id in self.store.unsettled(now_ms, 100).await? {
            if let Some(approval) = self.store.approval(&id).await?
                && self.settle(approval, now_ms).await?.state.is_final()
            {
                decided += 1;
            }
        }
        Ok(decided)
    }

    /// The approval's signed decision, waiting up to `wait` (at most
    /// [`MAX_WAIT`]) for it. `Ok(None)` if it is still pending then.
    pub async fn decision(
        &self,
        who: &Principal,
        id: &str,
        wait: Duration,
    ) -> Result<(ApprovalView, Option<serde_json::Value>), ServiceError> {
        let until = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        loop {
            let woken = self.decided.notified();
            let approval = self.visible(who, id).await?;
            let approval = self.settle(approval, crate::store::now_ms()).await?;
            if approval.state.is_final() || tokio::time::Instant::now() >= until {
                let decision = approval.decision.clone();
                return Ok((view(&approval)?, decision));
            }
            let next = (tokio::time::Instant::now() + Duration::from_secs(1)).min(until);
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep_until(next) => {}
            }
        }
    }
}

/// Whether `who` may answer `approval`: an approver who did not request it
/// (neither as the submitting principal nor as the action's agent).
fn may_answer(who: &Principal, approval: &Approval, scopes: &[Scope]) -> Result<(), ServiceError> {
    if who.kind != PrincipalKind::Approver {
        return Err(ServiceError::Forbidden(format!(
            "`{}` is a {}; only approvers answer approvals",
            who.id, who.kind
        )));
    }
    let agent = approval
        .request
        .pointer("/action/agent_id")
        .and_then(serde_json::Value::as_str);
    if approval.requester == who.id || agent == Some(who.id.as_str()) {
        return Err(ServiceError::Forbidden(format!(
            "`{}` requested this action; someone else must approve it",
            who.id
        )));
    }
    let action = approval
        .request
        .pointer("/action/function_name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    if let Some(why) = crate::scope::refusal(scopes, who, action) {
        return Err(ServiceError::Forbidden(why));
    }
    Ok(())
}

fn slot_view(approval: &Approval, slot: &Slot) -> SlotView {
    SlotView {
        approval_id: approval.id.clone(),
        index: slot.index,
        of: u32::try_from(approval.slots.len()).unwrap_or(u32::MAX),
        challenge: slot.challenge.clone(),
        prompt: slot.prompt.clone(),
        opened_at_ms: slot.claimed_at_ms.unwrap_or(approval.created_at_ms),
        deadline_ms: approval.deadline_ms,
        totp_required: false,
    }
}

fn check_key(key: &str) -> Result<(), ServiceError> {
    if key.is_empty() || key.len() > MAX_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ServiceError::Invalid(format!(
            "idempotency_key must be 1 to {MAX_KEY} printable ASCII characters without spaces \
             (a UUID is a good choice)"
        )));
    }
    Ok(())
}

fn action_digest(action: &ActionContext) -> Result<String, ServiceError> {
    attesta::approval::action_digest(action)
        .map_err(|e| ServiceError::Invalid(format!("the action cannot be serialised: {e}")))
}

fn view(approval: &Approval) -> Result<ApprovalView, ServiceError> {
    let request = &approval.request;
    let action: ActionContext = serde_json::from_value(request["action"].clone())
        .map_err(|e| ServiceError::Unavailable(format!("a stored action is damaged: {e}")))?;
    Ok(ApprovalView {
        id: approval.id.clone(),
        state: approval.state,
        requester: approval.requester.clone(),
        action_digest: approval.action_digest.clone(),
        action: action.description(),
        risk_level: request
            .pointer("/risk/level")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        risk_score: request
            .pointer("/risk/score")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(1.0),
        required_approvers: request["required_approvers"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1),
        slots: approval
            .slots
            .iter()
            .map(|s| SlotSummary {
                index: s.index,
                challenge: s.challenge.clone(),
                state: s.state,
                approver: s.approver.clone(),
            })
            .collect(),
        created_at_ms: approval.created_at_ms,
        deadline_ms: approval.deadline_ms,
        decided_at_ms: approval.decided_at_ms,
    })
}
