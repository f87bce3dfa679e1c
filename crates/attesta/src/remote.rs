//! Approvals through an approval server (`attesta serve`): the gate submits
//! the action, waits for the server's decision, and trusts nothing it
//! cannot verify.
//!
//! [`RemoteApprovals`] is an [`ApprovalService`]: with it, every level that
//! needs a human is put to the server, which gives each required approver
//! a slot with its own sub-challenge, judges the answers itself and signs
//! the decision. The challenge here:
//!
//! 1. submits the action, its risk, the challenge and the number of
//!    distinct approvers (with an idempotency key: the context's
//!    `metadata.idempotency_key` if it has one, so a restarted requester
//!    re-attaches to the same approval; else a fresh random key);
//! 2. waits for the decision with long polls (the gate's approval timeout
//!    bounds the whole wait);
//! 3. verifies the decision's signature with the server's public key, and
//!    that it is about this approval and *this* action (its digest);
//! 4. reports the approvers the decision names, so the gate's own
//!    approver checks run on them.
//!
//! An unreachable server, an error answer, a bad signature, a decision
//! about something else: the approval is unanswered or failed, and the gate
//! denies.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value as Json, json};

use crate::approval::{action_digest, verify};
use crate::audit::AuditPublicKey;
use crate::challenge::{Challenge, ChallengeResult, ChallengeType, Unanswered};
use crate::context::ActionContext;
use crate::gate::{ApprovalRequest, ApprovalService, Escalation};
use crate::risk::RiskAssessment;
use crate::value::Value;

/// A token from an owner-only file (refused if the group or others can
/// read it), trimmed: what `policy.approvals.token_file` and the CLI's
/// `--token-file` read.
pub fn read_token_file(path: &std::path::Path) -> Result<String, String> {
    crate::challenge::totp::read_owner_only(path).map(|text| text.trim().to_owned())
}

/// The context metadata key whose string value is the idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency_key";

/// How long one long poll waits on the server.
const POLL: Duration = Duration::from_secs(30);

/// Where the approval server is and how to trust it.
#[derive(Clone)]
pub struct RemoteConfig {
    /// The server's base URL (`https://approvals.example.com`).
    pub server: String,
    /// The requester's bearer token.
    pub token: String,
    /// The server's public key: decisions signed by anything else are
    /// refused.
    pub public_key: AuditPublicKey,
    /// How long an unreachable server is retried (with backoff) before the
    /// approval counts as unanswered: a server restarting mid-approval
    /// loses nothing. The gate's approval timeout bounds the whole wait.
    pub retry_for: Duration,
}

/// The default [`RemoteConfig::retry_for`].
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(60);

impl fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("server", &self.server)
            .field("token", &"<redacted>")
            .field("public_key", &self.public_key.key_id())
            .field("retry_for", &self.retry_for)
            .finish()
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The URL is not an `http(s)://` URL.
    #[error("the approval server URL `{0}` must start with https:// (or http:// on loopback)")]
    Url(String),
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTPS client: {0}")]
    Client(String),
}

/// The approval server as the engine's [`ApprovalService`].
#[derive(Debug, Clone)]
pub struct RemoteApprovals {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: RemoteConfig,
    api: ApiClient,
}

impl RemoteApprovals {
    /// A client of the server in `config`.
    pub fn new(config: RemoteConfig) -> Result<Self, RemoteError> {
        let api = ApiClient::new(&config.server, &config.token)?;
        Ok(Self {
            inner: Arc::new(Inner { config, api }),
        })
    }
}

/// The approval server's JSON API with a bearer token: what
/// [`RemoteApprovals`] and the approvers' CLI speak.
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client of the server at `server` (`https://…`, or `http://` for
    /// loopback) presenting `token`.
    pub fn new(server: &str, token: &str) -> Result<Self, RemoteError> {
        let base = server.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(RemoteError::Url(server.to_owned()));
        }
        // The ring provider, once per process (an error means one is
        // installed already, which is fine).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(POLL + Duration::from_secs(15))
            .build()
            .map_err(|e| RemoteError::Client(e.to_string()))?;
        Ok(Self {
            http,
            base,
            token: token.trim().to_owned(),
        })
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.base
    }

    /// `GET path` (under the base URL): the JSON answer, or what went wrong.
    pub async fn get(&self, path: &str) -> Result<Json, ApiError> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// `POST path` with a JSON body: the JSON answer, or what went wrong.
    pub async fn post(&self, path: &str, body: &Json) -> Result<Json, ApiError> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Json, ApiError> {
        let server = &self.base;
        let response = request.bearer_auth(&self.token).send().await.map_err(|e| {
            ApiError::Unreachable(format!(
                "the approval server {server} cannot be reached: {e}"
            ))
        })?;
        let status = response.status();
        let body: Json = response.json().await.unwrap_or(Json::Null);
        if status.is_success() {
            return Ok(body);
        }
        Err(ApiError::Refused {
            status: status.as_u16(),
            detail: body["detail"].as_str().unwrap_or("no detail").to_owned(),
        })
    }
}

/// A failed API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No answer (connection refused, timeout, TLS failure).
    #[error("{0}")]
    Unreachable(String),
    /// The server answered with an error status; `detail` says what to do.
    #[error("the approval server refused the request ({status}): {detail}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The problem's `detail`.
        detail: String,
    },
}

impl ApprovalService for RemoteApprovals {
    fn challenge(&self, request: &ApprovalRequest) -> Arc<dyn Challenge> {
        Arc::new(RemoteApproval {
            inner: Arc::clone(&self.inner),
            kind: request.kind,
            required: request.required_approvers.max(1),
            escalation: escalation_json(&request.escalation),
        })
    }
}

/// The submission's `escalation`: the rules that held (as one line) and
/// the roles to notify; `None` when no rule held.
fn escalation_json(escalation: &Escalation) -> Option<Json> {
    if escalation.is_empty() {
        return None;
    }
    Some(json!({
        "rule": escalation.rules.join("; "),
        "notify": escalation.notify,
    }))
}

/// One action put to the server.
#[derive(Debug)]
struct RemoteApproval {
    inner: Arc<Inner>,
    kind: ChallengeType,
    required: u32,
    escalation: Option<Json>,
}

// By value so it reads `map_err(unreachable)`.
#[allow(clippy::needless_pass_by_value)]
fn unreachable(err: ApiError) -> Failure {
    Failure::Unreachable(err.to_string())
}

/// A failure to get a verified decision.
enum Failure {
    /// The server could not be reached before it accepted the request:
    /// nobody was asked, so another route may be.
    Undelivered(String),
    /// The server was lost after it accepted the request, or refused it.
    Unreachable(String),
    /// The server answered with something that cannot be trusted.
    Untrusted(String),
}

#[async_trait]
impl Challenge for RemoteApproval {
    fn challenge_type(&self) -> ChallengeType {
        self.kind
    }

    async fn present(&self, ctx: &ActionContext, risk: &RiskAssessment) -> ChallengeResult {
        match self.approve(ctx, risk).await {
            Ok(result) => result,
            Err(Failure::Undelivered(why)) => {
                ChallengeResult::unanswered(self.kind, Unanswered::Undelivered, why)
            }
            Err(Failure::Unreachable(why)) => {
                ChallengeResult::unanswered(self.kind, Unanswered::ChannelError, why)
            }
            Err(Failure::Untrusted(why)) => {
                let mut result = ChallengeResult::new(self.kind, false);
                result.details.insert("reason".into(), why.into());
                result
            }
        }
    }
}

impl RemoteApproval {
    async fn approve(
        &self,
        ctx: &ActionContext,
        risk: &RiskAssessment,
    ) -> Result<ChallengeResult, Failure> {
        let inner = &*self.inner;
        let digest = action_digest(ctx)
            .map_err(|e| Failure::Untrusted(format!("the action cannot be serialised: {e}")))?;
        let key = match ctx.metadata.get(IDEMPOTENCY_KEY) {
            Some(Value::Str(key)) => key.clone(),
            _ => uuid::Uuid::new_v4().to_string(),
        };
        let mut submission = json!({
            "idempotency_key": key,
            "action": ctx,
            "risk": risk,
            "required_approvers": self.required,
        });
        if self.kind != ChallengeType::MultiParty {
            submission["challenge"] = json!(self.kind.as_str());
        }
        if let Some(escalation) = &self.escalation {
            submission["escalation"] = escalation.clone();
        }
        // Never reached: another route may ask instead. (Had the server
        // stored it and only its answer been lost, the approval waits there
        // until it expires; nothing runs on it.)
        let submitted = self
            .retrying(|| inner.api.post("/v1/approvals", &submission))
            .await
            .map_err(|err| match err {
                ApiError::Unreachable(why) => Failure::Undelivered(why),
                refused => unreachable(refused),
            })?;
        let id = submitted["id"]
            .as_str()
            .ok_or_else(|| Failure::Untrusted("the server's answer names no approval id".into()))?
            .to_owned();
        // A requester that restarted may find its approval decided already.
        let signed = loop {
            let path = format!("/v1/approvals/{id}/decision?wait={}", POLL.as_secs());
            let answer = self
                .retrying(|| inner.api.get(&path))
                .await
                .map_err(unreachable)?;
            if !answer["signed_decision"].is_null() {
                break answer["signed_decision"].clone();
            }
        };
        self.judge(&id, &digest, &signed)
    }

    /// Runs `call`, again and again while the server cannot be reached, for
    /// up to [`RemoteConfig::retry_for`]; a refusal is final at once.
    async fn retrying<F, Fut>(&self, call: F) -> Result<Json, ApiError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Json, ApiError>>,
    {
        let give_up = tokio::time::Instant::now() + self.inner.config.retry_for;
        let mut pause = Duration::from_millis(200);
        loop {
            match call().await {
                Ok(answer) => return Ok(answer),
                Err(ApiError::Unreachable(_)) if tokio::time::Instant::now() < give_up => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// The verified decision as a challenge result.
    fn judge(&self, id: &str, digest: &str, signed: &Json) -> Result<ChallengeResult, Failure> {
        let inner = &*self.inner;
        if !verify(&inner.config.public_key, signed) {
            return Err(Failure::Untrusted(format!(
                "the decision for approval {id} does not carry a valid signature by the server's \
                 key {}; it is not trusted",
                inner.config.public_key.key_id()
            )));
        }
        let decision = &signed["decision"];
        if decision["approval_id"].as_str() != Some(id)
            || decision["action_digest"].as_str() != Some(digest)
        {
            return Err(Failure::Untrusted(format!(
                "the signed decision is about another approval or action than approval {id}; it \
                 is not trusted"
            )));
        }
        let verdict = decision["verdict"].as_str().unwrap_or("unknown");
        let approvers: Vec<String> = decision["approvers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["passed"] == true)
            .filter_map(|a| a["approver"].as_str().map(str::to_owned))
            .collect();
        let approved = verdict == "approved";
        if approved && u32::try_from(approvers.len()).unwrap_or(0) < self.required {
            return Err(Failure::Untrusted(format!(
                "the signed decision for approval {id} approves with {} approver(s), but this \
                 action needs {}; it is not trusted",
                approvers.len(),
                self.required
            )));
        }
        let mut result = if verdict == "expired" {
            ChallengeResult::unanswered(
                self.kind,
                Unanswered::TimedOut,
                format!("approval {id} expired on the server before enough approvers answered"),
            )
        } else {
            ChallengeResult::new(self.kind, approved)
        };
        if !approved && verdict != "expired" {
            result.details.insert(
                "reason".into(),
                format!("the approval server's decision for approval {id} is `{verdict}`").into(),
            );
        }
        let review = decision["approvers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["result"]["review_seconds"].as_f64())
            .fold(0.0_f64, f64::max);
        result.response_time_seconds = review;
        result.questions_asked =
            u32::try_from(decision["approvers"].as_array().map_or(0, Vec::len)).unwrap_or(u32::MAX);
        result.questions_correct = u32::try_from(approvers.len()).unwrap_or(u32::MAX);
        if !approvers.is_empty() {
            result.responder = approvers.join(", ");
        }
        result.details.insert(
            "approver_ids".into(),
            Value::List(approvers.into_iter().map(Value::Str).collect()),
        );
        result
            .details
            .insert("required_approvers".into(), i64::from(self.required).into());
        result
            .details
            .insert("verified_by".into(), "approval_server".into());
        result
            .details
            .insert("server_approval_id".into(), id.to_owned().into());
        result
            .details
            .insert("server_decision".into(), Value::from(signed.clone()));
        Ok(result)
    }
}
