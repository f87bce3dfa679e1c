//! Where approvals and principals live: one async [`Store`] trait, with an
//! embedded SQLite implementation ([`SqliteStore`], the default) and, for
//! teams running several servers, PostgreSQL behind the same trait.
//!
//! The store holds data and enforces what must hold under concurrency
//! (one approval per requester and idempotency key; a slot answered once;
//! an approval decided once). Judging answers and deciding is the service's
//! job ([`crate::service`]), so both backends behave the same.

mod migrate;
mod postgres;
mod postgres_audit;
mod postgres_tls;
mod rules;
mod sqlite;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use postgres::PostgresStore;
pub use postgres_audit::PostgresAuditLog;
pub use postgres_tls::PostgresTls;
pub use sqlite::SqliteStore;

use crate::principal::{NewPrincipal, Principal, TokenHash};

/// What went wrong in the store, in words that say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The change conflicts with what is stored (a principal id that
    /// exists, a slot already answered, an approval already decided).
    #[error("{0}")]
    Conflict(String),
    /// The database's schema is not one this attesta can use (written by a
    /// newer version, or damaged).
    #[error("{0}")]
    Schema(String),
    /// The database itself failed (I/O, locked, unreachable).
    #[error("the database failed: {0}")]
    Backend(String),
}

/// Where an approval is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for its approvers.
    Pending,
    /// Every slot passed: the action may run.
    Approved,
    /// A slot failed (or the approval was refused): the action must not run.
    Denied,
    /// The deadline passed first: denied.
    Expired,
    /// The requester withdrew it.
    Cancelled,
}

impl ApprovalState {
    /// The name in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state with this name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            "expired" => Self::Expired,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }

    /// Whether the approval is decided (nothing can change it any more).
    pub fn is_final(self) -> bool {
        self != Self::Pending
    }
}

/// Where one approver's slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotState {
    /// Nobody has answered it yet.
    Open,
    /// Answered and passed.
    Passed,
    /// Answered and failed: the approval is denied.
    Failed,
}

impl SlotState {
    /// The name in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Passed => "passed",
            Self::Failed => "failed",
        }
    }

    /// The state with this name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "passed" => Self::Passed,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// One slot of a new approval, prepared by the server.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSlot {
    /// The challenge type's name (`teach_back`, `quiz`, `confirm`).
    pub challenge: String,
    /// The prompt as JSON: what the approver sees (never the answers).
    pub prompt: serde_json::Value,
    /// The answer key as JSON: never sent to any client.
    pub key: serde_json::Value,
}

/// A new approval, as the service stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApproval {
    /// The approval's id (chosen by the service: random, unguessable).
    pub id: String,
    /// The submitting principal.
    pub requester: String,
    /// The requester's key for this approval: submitting again with the
    /// same key returns the same approval.
    pub idempotency_key: String,
    /// SHA-256 of the submitted action's canonical JSON: what the decision
    /// is about, and how a resubmission is recognised as the same action.
    pub action_digest: String,
    /// What was submitted (action, risk, escalation), as JSON.
    pub request: serde_json::Value,
    /// When it was submitted (Unix milliseconds).
    pub created_at_ms: i64,
    /// When it expires undecided (Unix milliseconds).
    pub deadline_ms: i64,
    /// One slot per required approver, in rotation order.
    pub slots: Vec<NewSlot>,
}

/// A stored slot, as the service reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// 1-based slot number.
    pub index: u32,
    /// The challenge type's name.
    pub challenge: String,
    /// The prompt as JSON.
    pub prompt: serde_json::Value,
    /// The answer key as JSON (the service never lets it leave the server).
    pub key: serde_json::Value,
    /// Where the slot is.
    pub state: SlotState,
    /// Who answered it, once answered.
    pub approver: Option<String>,
    /// The approver who holds the slot: the one who opened it first (or
    /// took it over after the claim lapsed). Their review time runs from
    /// `claimed_at_ms`.
    pub claimed_by: Option<String>,
    /// When the current claim started (Unix milliseconds).
    pub claimed_at_ms: Option<i64>,
    /// When it was answered (Unix milliseconds).
    pub answered_at_ms: Option<i64>,
    /// The judged result as JSON, once answered.
    pub result: Option<serde_json::Value>,
}

/// A stored approval.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// The approval's id.
    pub id: String,
    /// The submitting principal.
    pub requester: String,
    /// The requester's idempotency key.
    pub idempotency_key: String,
    /// SHA-256 of the action's canonical JSON.
    pub action_digest: String,
    /// What was submitted, as JSON.
    pub request: serde_json::Value,
    /// Where it is.
    pub state: ApprovalState,
    /// Submitted at (Unix milliseconds).
    pub created_at_ms: i64,
    /// Expires at (Unix milliseconds).
    pub deadline_ms: i64,
    /// Decided at (Unix milliseconds), once final.
    pub decided_at_ms: Option<i64>,
    /// The signed decision as JSON, once final.
    pub decision: Option<serde_json::Value>,
    /// The slots, by slot number.
    pub slots: Vec<Slot>,
}

/// What [`Store::submit`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// The approval (new, or the one the idempotency key already named).
    pub approval: Approval,
    /// Whether it was created by this call.
    pub created: bool,
}

/// Durable storage for the approval server. Every method is one
/// transaction; implementations must keep the guarantees listed on each.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Whether the database answers (for the readiness endpoint).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a principal with this token hash. A taken id is a
    /// [`StoreError::Conflict`].
    async fn add_principal(
        &self,
        new: &NewPrincipal,
        token: &TokenHash,
        totp_secret: Option<&str>,
        now_ms: i64,
    ) -> Result<Principal, StoreError>;

    /// Every principal, revoked ones included, by id.
    async fn principals(&self) -> Result<Vec<Principal>, StoreError>;

    /// Revokes a principal's token (idempotent: revoking again keeps the
    /// first time).
    async fn revoke_principal(&self, id: &str, now_ms: i64) -> Result<Principal, StoreError>;

    /// The principal whose token has this hash, revoked or not.
    async fn principal_by_token(&self, token: &TokenHash) -> Result<Option<Principal>, StoreError>;

    /// Stores a new approval, unless the requester already has one under
    /// the same idempotency key: then that one is returned (`created:
    /// false`), whatever its state. Two concurrent submissions with one key
    /// create one approval.
    async fn submit(&self, new: NewApproval) -> Result<Submitted, StoreError>;

    /// The approval with this id.
    async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError>;

    /// How many pending approvals the requester has.
    async fn pending_count(&self, requester: &str) -> Result<u64, StoreError>;

    /// Every pending approval, oldest first, at most `limit`.
    async fn pending(&self, limit: u32) -> Result<Vec<Approval>, StoreError>;

    /// Gives `approver` a slot of approval `id` to answer: the open slot
    /// they already hold, else the lowest open slot nobody holds (or whose
    /// holder's claim started before `lapsed_before_ms`), claimed for them
    /// from `now_ms`. Never gives one approver two slots of one approval.
    async fn claim_slot(
        &self,
        id: &str,
        approver: &str,
        now_ms: i64,
        lapsed_before_ms: i64,
    ) -> Result<Claim, StoreError>;

    /// Records `approver`'s judged answer to slot `index`: passed or
    /// failed, with the result as JSON. The approval must be pending and
    /// the slot open and held by `approver`; otherwise (another answer got
    /// there first, the claim was taken over, the approval was decided) a
    /// [`StoreError::Conflict`]. Of two answers to one slot exactly one is
    /// recorded. Returns the approval afterwards.
    async fn record_answer(
        &self,
        id: &str,
        index: u32,
        approver: &str,
        passed: bool,
        result: serde_json::Value,
        now_ms: i64,
    ) -> Result<Approval, StoreError>;

    /// Decides a pending approval: its final state and the signed decision.
    /// Only a pending approval can be decided, so it is decided once; a
    /// second decision is a [`StoreError::Conflict`].
    async fn decide(
        &self,
        id: &str,
        state: ApprovalState,
        decision: serde_json::Value,
        now_ms: i64,
    ) -> Result<Approval, StoreError>;

    /// Ids of pending approvals that need settling: past their deadline at
    /// `now_ms`, or with every slot answered (a decision interrupted by a
    /// crash), at most `limit`.
    async fn unsettled(&self, now_ms: i64, limit: u32) -> Result<Vec<String>, StoreError>;

    /// The TOTP secret (base32) of principal `id`, if it has one.
    async fn totp_secret(&self, id: &str) -> Result<Option<String>, StoreError>;

    /// Records that `id` used the TOTP code of time step `step`; `false`
    /// (nothing recorded) if it already used that step or a later one, so
    /// a code is accepted once, across every server sharing the store.
    async fn accept_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError>;

    /// Wakes `wake` whenever any server sharing this store decides an
    /// approval, for as long as the process runs (PostgreSQL: LISTEN /
    /// NOTIFY). A single-process store needs nothing: the service wakes its
    /// own waiters.
    async fn watch_decisions(&self, wake: std::sync::Arc<tokio::sync::Notify>) {
        let _ = wake;
    }
}

/// What [`Store::claim_slot`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This open slot is the approver's to answer.
    Held(Slot),
    /// The approver already answered this slot of the approval.
    AlreadyAnswered(Slot),
    /// Every open slot is held by another approver.
    Busy,
    /// No slot is open (the approval is decided, or every slot answered).
    NoneOpen,
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
