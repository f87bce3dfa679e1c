//! The orchestrator: [`Attesta::evaluate`] runs one action through
//! score → adjust → challenge → decide → audit, and [`Attesta::gate`] runs the
//! action only if the decision approves it.
//!
//! Invariants (each has a test in `tests/gate_invariants.rs`):
//! - fail closed: no channel, a channel error, a timeout or a failed audit
//!   write denies, unless `fail_mode: allow` is set (recorded, never for
//!   CRITICAL);
//! - CRITICAL is never lowered: not by trust, the environment multiplier, the
//!   challenge map, shadow/audit-only modes or fail-open;
//! - explicit overrides are absolute: not scaled by the environment, not moved
//!   by trust;
//! - a name that only resembles a `risk.overrides` entry (see
//!   [`crate::names::fold`]) is gated at least at the entry's level, by the
//!   scorer, the environment and trust alike;
//! - the audit record is written before the action runs;
//! - the minimum review time applies only where a human was asked.

mod ask;
mod assess;
mod escalate;
mod registry;
mod route;

pub use escalate::{Escalation, EscalationSource};

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use crate::audit::{AuditRecord, AuditSink, JsonlAuditLog, MemoryAuditSink};
use crate::challenge::{Challenge, ChallengeType};
use crate::channel::Channel;
use crate::clock::{Clock, SystemClock};
use crate::context::ActionContext;
use crate::decision::{Decision, Denied, Verdict};
use crate::environment::detect_environment;
use crate::events::{Event, EventBus, EventType};
use crate::policy::{GateMode, Policy, PolicyError};
use crate::risk::{AmplifiedScorer, DefaultRiskScorer, RiskAssessment, RiskLevel, RiskScorer};
use crate::trust::{TrustEngine, TrustModel};
use crate::value::{Value, ValueMap};

use escalate::Escalated;
pub use registry::{ApprovalRequest, ApprovalRouting, ApprovalService};
use registry::{ChallengeRegistry, Resolved, ResolvedChallenges};

/// Why an [`Attesta`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The policy file could not be loaded.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The policy is inconsistent (for example CRITICAL mapped to
    /// auto-approve without the explicit opt-in).
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
    /// A component could not be set up (for example the trust store).
    #[error("{0}")]
    Component(String),
}

/// Why [`Attesta::gate_blocking`] did not run the action.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// The decision was not an approval.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Called from inside an async runtime, where blocking would stall it;
    /// use [`Attesta::gate`] there instead.
    #[error("gate_blocking was called inside an async runtime; await Attesta::gate instead")]
    InsideRuntime,
    /// The private runtime for the blocking call could not start.
    #[error("could not start a runtime for the blocking gate: {0}")]
    Runtime(String),
}

/// The decision engine. Cheap to clone; clones share state (novelty, trust).
///
/// ```
/// use attesta::{ActionContext, Attesta, RiskLevel};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let attesta = Attesta::builder().environment("ci").build().unwrap();
/// let decision = attesta.evaluate(&ActionContext::new("get_users")).await;
/// assert!(decision.is_approved());
/// assert_eq!(decision.risk.level, RiskLevel::Low);
/// // Above LOW a human is needed; with no channel configured, that fails closed.
/// let decision = attesta.evaluate(&ActionContext::new("delete_database").with_arg("production")).await;
/// assert!(!decision.is_approved());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Attesta {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    policy: Policy,
    scorer: Arc<dyn RiskScorer>,
    challenges: ResolvedChallenges,
    /// Kept to build a challenge for one action when a rule escalates it.
    registry: ChallengeRegistry,
    /// Escalation rules (the active domain profiles), if any.
    escalations: Option<Arc<dyn EscalationSource>>,
    /// What building the engine found worth saying (domain resolution).
    startup_warnings: Vec<String>,
    audit: Arc<dyn AuditSink>,
    trust: Option<Arc<dyn TrustModel>>,
    events: Option<Arc<EventBus>>,
    clock: Arc<dyn Clock>,
    /// Used when a context names no environment.
    default_environment: String,
}

/// What the gate would do with an action, short of asking anyone
/// ([`Attesta::preview_decision`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Preview {
    /// The final risk (overrides, environment, trust applied).
    pub risk: RiskAssessment,
    /// The challenge it would present (escalation applied).
    pub challenge: ChallengeType,
    /// Distinct approvers a multi-party approval would need.
    pub required_approvers: u32,
    /// What the escalation rules that hold demand (empty without any).
    pub escalation: Escalation,
    /// Warnings about the context (ignored hints and the like).
    pub warnings: Vec<String>,
}

/// Builds an [`Attesta`]; every component has a safe default.
#[derive(Debug, Default)]
pub struct AttestaBuilder {
    policy: Option<Policy>,
    scorer: Option<Arc<dyn RiskScorer>>,
    challenges: ChallengeRegistry,
    escalations: Option<Arc<dyn EscalationSource>>,
    audit: Option<Arc<dyn AuditSink>>,
    trust: Option<Arc<dyn TrustModel>>,
    events: Option<Arc<EventBus>>,
    clock: Option<Arc<dyn Clock>>,
    environment: Option<String>,
}

impl AttestaBuilder {
    /// The policy (default: [`Policy::default`]).
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The risk scorer (default: [`DefaultRiskScorer`], plus the policy's
    /// amplifiers).
    #[must_use]
    pub fn scorer(mut self, scorer: Arc<dyn RiskScorer>) -> Self {
        self.scorer = Some(scorer);
        self
    }

    /// How built-in challenges reach a human. Without a channel, every action
    /// above auto-approve is denied (fail closed).
    #[must_use]
    pub fn channel(mut self, channel: Arc<dyn Channel>) -> Self {
        self.challenges.channel = Some(channel);
        self
    }

    /// Puts every approval that needs a human to an approval server (see
    /// [`ApprovalService`]; `attesta::remote::RemoteApprovals` with the
    /// `remote` feature), which asks its approvers, judges their answers
    /// and signs the decision. The gate still checks the approvers it
    /// reports (distinct, not the agent, enough of them). Challenge
    /// instances configured for a level or a type still take precedence.
    /// [`AttestaBuilder::approval_routing`] narrows the levels and adds the
    /// local channel as a route before or after the server.
    #[must_use]
    pub fn approval_service(mut self, service: Arc<dyn ApprovalService>) -> Self {
        self.challenges.approvals = Some(service);
        self
    }

    /// Which levels go to the approval service and in which order the
    /// server and the local channel are tried (default: every level, the
    /// server only). A later route is tried only when the one before could
    /// not take the approval at all, never after anyone decided. `build`
    /// refuses an order without the server or with a route twice, and an
    /// empty list of levels.
    #[must_use]
    pub fn approval_routing(mut self, routing: ApprovalRouting) -> Self {
        self.challenges.routing = routing;
        self
    }

    /// Escalation rules to apply after scoring (the active domain profiles):
    /// they can block an action, demand more approvers or a stronger
    /// challenge, and name roles to notify; never lower anything.
    #[must_use]
    pub fn escalations(mut self, source: Arc<dyn EscalationSource>) -> Self {
        self.escalations = Some(source);
        self
    }

    /// Replaces the channel with one built from the current one (`None` if
    /// none is set): for wrapping the policy's terminal channel in a router
    /// that tries another channel first, as the MCP gateway does.
    #[must_use]
    pub fn map_channel(
        mut self,
        wrap: impl FnOnce(Option<Arc<dyn Channel>>) -> Arc<dyn Channel>,
    ) -> Self {
        self.challenges.channel = Some(wrap(self.challenges.channel.take()));
        self
    }

    /// Presents `challenge` for every action at `level`, whatever the
    /// policy's challenge map says.
    #[must_use]
    pub fn challenge_for_level(mut self, level: RiskLevel, challenge: Arc<dyn Challenge>) -> Self {
        self.challenges.per_level.insert(level, challenge);
        self
    }

    /// Uses `challenge` wherever the policy asks for `kind` (e.g. a TOTP
    /// check instead of multi-party).
    #[must_use]
    pub fn challenge_for_type(
        mut self,
        kind: ChallengeType,
        challenge: Arc<dyn Challenge>,
    ) -> Self {
        self.challenges.per_type.insert(kind, challenge);
        self
    }

    /// Where decisions are recorded (default: in memory).
    #[must_use]
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(sink);
        self
    }

    /// Adaptive per-agent trust (default: a [`TrustEngine`] when the policy
    /// has a `trust:` section, else none).
    #[must_use]
    pub fn trust(mut self, trust: Arc<dyn TrustModel>) -> Self {
        self.trust = Some(trust);
        self
    }

    /// Receives pipeline events.
    #[must_use]
    pub fn events(mut self, bus: Arc<EventBus>) -> Self {
        self.events = Some(bus);
        self
    }

    /// The clock (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Environment for contexts that name none (default: the policy's
    /// `default_environment`, else detected once from the process
    /// environment).
    #[must_use]
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Checks the configuration and builds the engine.
    pub fn build(self) -> Result<Attesta, BuildError> {
        let policy = self.policy.unwrap_or_default();
        let domains = crate::domain::resolve_policy(&policy)
            .map_err(|e| BuildError::InvalidPolicy(format!("domains: {e}")))?;
        // Built-in quiz and teach-back ask the profile's templates.
        let mut registry = self.challenges;
        registry
            .routing
            .check()
            .map_err(|e| BuildError::InvalidPolicy(format!("approval routing: {e}")))?;
        registry.domain = domains.profile.clone().map(Arc::new);
        let challenges = registry.resolve_all(&policy);
        let (critical, _) = challenges.get(RiskLevel::Critical);
        if critical == ChallengeType::AutoApprove && !policy.allow_critical_auto_approve {
            return Err(BuildError::InvalidPolicy(
                "CRITICAL actions are mapped to auto_approve; set \
                 policy.allow_critical_auto_approve: true if that is really intended"
                    .to_owned(),
            ));
        }
        if policy.required_approvers == 0 {
            return Err(BuildError::InvalidPolicy(
                "multi-party approval needs at least one approver".to_owned(),
            ));
        }
        if policy.timeout.is_zero() {
            return Err(BuildError::InvalidPolicy(
                "the approval timeout must be greater than zero".to_owned(),
            ));
        }
        let scorer = self.scorer.unwrap_or_else(|| default_scorer(&policy));
        let startup_warnings = domains.warnings.clone();
        let (scorer, escalations) = match domains.profile {
            Some(profile) => {
                let domain = Arc::new(crate::domain::DomainRiskScorer::with_base(profile, scorer));
                let rules: Arc<dyn EscalationSource> =
                    Arc::new(crate::domain::DomainEscalations::new(Arc::clone(&domain)));
                let escalations = match self.escalations {
                    Some(own) => Arc::new(escalate::Both(own, rules)) as Arc<dyn EscalationSource>,
                    None => rules,
                };
                (domain as Arc<dyn RiskScorer>, Some(escalations))
            }
            None => (scorer, self.escalations),
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock::new()));
        let trust = match (self.trust, &policy.trust) {
            (Some(trust), _) => Some(trust),
            (None, Some(settings)) => {
                let engine = TrustEngine::open(settings.clone(), Arc::clone(&clock))
                    .map_err(|e| BuildError::Component(e.to_string()))?;
                Some(Arc::new(engine) as Arc<dyn TrustModel>)
            }
            (None, None) => None,
        };
        let default_environment = self
            .environment
            .or_else(|| policy.default_environment.clone())
            .unwrap_or_else(|| detect_environment().as_str().to_owned());
        Ok(Attesta {
            inner: Arc::new(Inner {
                scorer,
                challenges,
                registry,
                escalations,
                startup_warnings,
                audit: self
                    .audit
                    .unwrap_or_else(|| Arc::new(MemoryAuditSink::new())),
                trust,
                events: self.events,
                clock,
                default_environment,
                policy,
            }),
        })
    }
}

/// The default scorer plus the policy's amplifiers, if any.
fn default_scorer(policy: &Policy) -> Arc<dyn RiskScorer> {
    let base: Arc<dyn RiskScorer> = Arc::new(DefaultRiskScorer::new());
    if policy.risk_amplifiers.is_empty() {
        base
    } else {
        Arc::new(AmplifiedScorer::new(base, policy.risk_amplifiers.clone()))
    }
}

/// What the challenge stage produced, before auditing.
struct Outcome {
    verdict: Verdict,
    reason: String,
    result: Option<crate::challenge::ChallengeResult>,
    approvers: Vec<String>,
    min_review_seconds: f64,
    min_review_met: bool,
    fail_open: bool,
    metadata: ValueMap,
}

impl Outcome {
    fn without_human(verdict: Verdict, reason: impl Into<String>) -> Self {
        Self {
            verdict,
            reason: reason.into(),
            result: None,
            approvers: Vec::new(),
            min_review_seconds: 0.0,
            min_review_met: true,
            fail_open: false,
            metadata: ValueMap::new(),
        }
    }
}

impl Attesta {
    /// A builder with safe defaults.
    pub fn builder() -> AttestaBuilder {
        AttestaBuilder::default()
    }

    /// An engine configured by a policy file (`attesta.yaml` or
    /// `attesta.toml`). Fails if the file is missing or invalid.
    ///
    /// Decisions are written to the policy's audit log (`audit.path`, by
    /// default `.attesta/audit.jsonl`). On Unix it asks humans at the
    /// controlling terminal, with the policy's
    /// `approvers:` (TOTP-verified where configured) for multi-party
    /// approval. With no terminal, prompts are unavailable and the gate
    /// denies (fail closed).
    pub fn from_config(path: impl AsRef<Path>) -> Result<Self, BuildError> {
        Self::config_builder(path)?.build()
    }

    /// The builder [`Attesta::from_config`] uses, before `build`: the policy,
    /// its audit log and clock, and (on Unix) its terminal channel, ready to
    /// be adjusted (for example with [`AttestaBuilder::map_channel`]).
    pub fn config_builder(path: impl AsRef<Path>) -> Result<AttestaBuilder, BuildError> {
        let policy = Policy::from_file(path.as_ref())?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
        let mut log = JsonlAuditLog::new(policy.audit.path.clone()).with_fsync(policy.audit.fsync);
        if policy.audit.checkpoint_every.is_some() {
            let key = crate::audit::AuditSigningKey::load(&policy.audit.key_path).map_err(|e| {
                BuildError::Component(format!(
                    "audit.checkpoint_every is set, but the signing key cannot be loaded: {e}; \
                     create it with `attesta init` or set audit.key"
                ))
            })?;
            log = log.with_checkpointer(crate::audit::Checkpointer::new(
                &policy.audit.path,
                key,
                policy.audit.checkpoint_policy(),
                Arc::clone(&clock),
            ));
        }
        let audit = Arc::new(log);
        let builder = Self::builder().clock(Arc::clone(&clock)).audit(audit);
        #[cfg(unix)]
        let builder = builder.channel(terminal_channel(&policy, clock)?);
        let builder = match &policy.approvals {
            Some(settings) => builder
                .approval_service(approval_server(settings)?)
                .approval_routing(ApprovalRouting {
                    order: settings.order.clone(),
                    levels: settings.levels.clone(),
                }),
            None => builder,
        };
        Ok(builder.policy(policy))
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Where decisions are recorded (for records a caller adds itself, such
    /// as the MCP gateway's notice that a tool's definition changed).
    pub fn audit_sink(&self) -> &Arc<dyn AuditSink> {
        &self.inner.audit
    }

    /// Warnings from building the engine (for example a domain shorthand
    /// rule that names nothing the profile knows); show them to the operator.
    pub fn startup_warnings(&self) -> &[String] {
        &self.inner.startup_warnings
    }

    /// The scorer in use.
    pub fn scorer(&self) -> &Arc<dyn RiskScorer> {
        &self.inner.scorer
    }

    /// The environment used for contexts that name none.
    pub fn default_environment(&self) -> &str {
        &self.inner.default_environment
    }

    /// The risk this engine would assign to `ctx` and the challenge it would
    /// select, without asking anyone, writing an audit record or recording
    /// trust. Scoring still advances the scorer's novelty memory.
    pub fn preview(&self, ctx: &ActionContext) -> (RiskAssessment, ChallengeType, Vec<String>) {
        let preview = self.preview_decision(ctx);
        (preview.risk, preview.challenge, preview.warnings)
    }

    /// The sub-challenges a multi-party approval rotates through under this
    /// engine's policy (teach-back → quiz → confirm, with the policy's
    /// settings, per-type minimum review times and domain profile): for an
    /// approval server that prepares and judges each approver's slot
    /// itself. Slot `n` (1-based) uses entry `(n - 1) % len`.
    pub fn approver_rotation(&self) -> Vec<Arc<dyn crate::challenge::Interrogation>> {
        self.inner.registry.rotation(&self.inner.policy)
    }

    /// Everything [`Attesta::preview`] says, plus what the escalation rules
    /// demand and how many distinct approvers a multi-party approval would
    /// need: the gate's own reckoning, for tools that explain decisions.
    pub fn preview_decision(&self, ctx: &ActionContext) -> Preview {
        let environment = self.environment_of(ctx);
        let scored_ctx = self.with_environment(ctx);
        let ctx = &*scored_ctx;
        let keep = self.inner.escalations.is_some();
        let mut assessed = assess::assess(
            ctx,
            environment,
            &self.inner.policy,
            &*self.inner.scorer,
            keep,
        );
        if let (Some(trust), Some(agent)) = (&self.inner.trust, non_empty(ctx.agent_id.as_deref()))
        {
            let domain = trust_domain(ctx, environment);
            assess::apply_trust(&mut assessed, &**trust, agent, domain);
        }
        let inner = &*self.inner;
        let escalation = self.escalation(ctx, &assessed);
        let base = inner.challenges.get(assessed.risk.level);
        let escalated =
            inner
                .registry
                .escalated(&inner.policy, assessed.risk.level, base, &escalation);
        Preview {
            risk: assessed.risk,
            challenge: escalated.kind,
            required_approvers: escalated.required_approvers,
            escalation,
            warnings: assessed.warnings,
        }
    }

    /// `ctx` with the environment it is judged in, when domain profiles
    /// read it (their production multiplier and `environment:` rules) and
    /// the context names none. Otherwise `ctx` itself, at no cost.
    fn with_environment<'a>(&self, ctx: &'a ActionContext) -> std::borrow::Cow<'a, ActionContext> {
        if self.inner.escalations.is_some() && ctx.environment.is_empty() {
            std::borrow::Cow::Owned(
                ctx.clone()
                    .with_environment(self.inner.default_environment.clone()),
            )
        } else {
            std::borrow::Cow::Borrowed(ctx)
        }
    }

    /// The escalation rules that hold for `ctx`, judged on the final risk
    /// and on the scorer's own (rules only raise, so both count).
    fn escalation(&self, ctx: &ActionContext, assessed: &assess::AssessedRisk) -> Escalation {
        let Some(source) = &self.inner.escalations else {
            return Escalation::default();
        };
        match &assessed.scored {
            Some(scored) if scored.score != assessed.risk.score => {
                source.escalation(ctx, &[&assessed.risk, scored])
            }
            _ => source.escalation(ctx, &[&assessed.risk]),
        }
    }

    fn environment_of<'a>(&'a self, ctx: &'a ActionContext) -> &'a str {
        if ctx.environment.is_empty() {
            &self.inner.default_environment
        } else {
            &ctx.environment
        }
    }

    /// Decides whether `ctx` may run. Never fails: every problem becomes a
    /// non-approving decision with a reason.
    pub async fn evaluate(&self, ctx: &ActionContext) -> Decision {
        let inner = &*self.inner;
        let policy = &inner.policy;
        // One wall-clock reading per evaluation; the decision time is that
        // plus the monotonic time elapsed (a wall-clock read with the local
        // time zone costs more than scoring a typical call).
        let started = inner.clock.monotonic();
        let now = inner.clock.now();
        let intercepted_at = ctx.timestamp.unwrap_or(now);
        let environment = self.environment_of(ctx);
        let action = ctx.function_name.as_str();
        let scored_ctx = self.with_environment(ctx);

        let keep = inner.escalations.is_some();
        let mut assessed = assess::assess(&scored_ctx, environment, policy, &*inner.scorer, keep);
        self.emit(EventType::RiskScored, || {
            [
                ("action_name", action.into()),
                ("risk_score", assessed.risk.score.into()),
                ("risk_level", assessed.risk.level.as_str().into()),
            ]
        });
        let agent = non_empty(ctx.agent_id.as_deref());
        if let (Some(trust), Some(agent)) = (&inner.trust, agent) {
            let domain = trust_domain(ctx, environment);
            if let Some(before) = assess::apply_trust(&mut assessed, &**trust, agent, domain) {
                self.emit(EventType::TrustComputed, || {
                    [
                        ("action_name", action.into()),
                        ("agent_id", agent.into()),
                        ("trust_domain", domain.into()),
                        ("risk_before", before.into()),
                        ("risk_score", assessed.risk.score.into()),
                    ]
                });
            }
        }
        let escalation = self.escalation(&scored_ctx, &assessed);
        let risk = assessed.risk;
        let escalated = inner.registry.escalated(
            policy,
            risk.level,
            inner.challenges.get(risk.level),
            &escalation,
        );
        let challenge_type = escalated.kind;
        let refused = ctx.trusted_refusal.as_deref();
        let mut outcome = match (refused, &escalation.blocked_by) {
            // The integration knows the action must not run: like a block,
            // enforced in every mode and never put to a human.
            (Some(why), _) => {
                let mut outcome = Outcome::without_human(Verdict::Denied, why);
                // Marks the record as unusual, so it carries the reason.
                outcome
                    .metadata
                    .insert(crate::decision::REFUSED_KEY.into(), true.into());
                outcome
            }
            // Enforced in every mode, like CRITICAL: a rule that says an
            // action may not run is not a suggestion.
            (None, Some(rule)) => {
                let mut reason = format!("blocked by the escalation rule {rule}");
                if !escalation.notify.is_empty() {
                    reason.push_str("; notify: ");
                    reason.push_str(&escalation.notify.join(", "));
                }
                Outcome::without_human(Verdict::Denied, reason)
            }
            (None, None) => self.decide(ctx, &risk, escalated).await,
        };
        outcome.metadata.extend(escalation.metadata());

        let mut decision = Decision {
            verdict: outcome.verdict,
            reason: outcome.reason,
            challenge: challenge_type,
            challenge_result: outcome.result,
            approvers: outcome.approvers,
            review_time_seconds: 0.0,
            min_review_seconds: outcome.min_review_seconds,
            min_review_met: outcome.min_review_met,
            mode: if escalation.blocked_by.is_some() || refused.is_some() {
                GateMode::Enforce
            } else {
                effective_mode(policy.mode, risk.level)
            },
            fail_mode: policy.fail_mode,
            fail_open: outcome.fail_open,
            audit_entry_id: None,
            intercepted_at,
            decided_at: now + inner.clock.monotonic().saturating_sub(started),
            environment: environment.to_owned(),
            metadata: outcome.metadata,
            warnings: assessed.warnings,
            risk,
        };
        if let Some(result) = &decision.challenge_result {
            decision.review_time_seconds = round3(result.response_time_seconds);
        }
        self.audit(ctx, &mut decision).await;
        self.record_trust(ctx, environment, &mut decision).await;
        decision
    }

    /// Runs the challenge stage for the final risk.
    async fn decide(
        &self,
        ctx: &ActionContext,
        risk: &RiskAssessment,
        escalated: Escalated,
    ) -> Outcome {
        let inner = &*self.inner;
        let policy = &inner.policy;
        let Escalated {
            kind: challenge_type,
            resolved,
            required_approvers,
        } = escalated;
        let mode = effective_mode(policy.mode, risk.level);
        if mode == GateMode::AuditOnly {
            let mut outcome = Outcome::without_human(
                Verdict::Approved,
                "audit-only mode: recorded without asking anyone",
            );
            outcome
                .metadata
                .insert("skipped_challenge".into(), challenge_type.as_str().into());
            return outcome;
        }
        let challenge = match resolved {
            Resolved::AutoApprove => {
                return Outcome::without_human(
                    Verdict::Approved,
                    format!("{} risk: runs without asking", risk.level),
                );
            }
            Resolved::Present(challenge) => challenge,
            Resolved::Unavailable(kind, why) => {
                let result = crate::challenge::ChallengeResult::unanswered(
                    kind,
                    crate::challenge::Unanswered::NoChannel,
                    why,
                );
                return self.judged(ctx, risk, result, mode, required_approvers);
            }
        };
        let kind = challenge.challenge_type();
        self.emit(EventType::ChallengeIssued, || {
            [
                ("action_name", ctx.function_name.as_str().into()),
                ("challenge_type", kind.as_str().into()),
                ("risk_level", risk.level.as_str().into()),
            ]
        });
        // The human must see the environment the action was judged for, even
        // when the context did not name one. Cloning is fine here: a human
        // is about to spend seconds on this.
        let shown = if ctx.environment.is_empty() {
            std::borrow::Cow::Owned(
                ctx.clone()
                    .with_environment(self.inner.default_environment.clone()),
            )
        } else {
            std::borrow::Cow::Borrowed(ctx)
        };
        let result = ask::present_with_timeout(&*challenge, &shown, risk, policy.timeout).await;
        self.emit(EventType::ChallengeCompleted, || {
            [
                ("action_name", ctx.function_name.as_str().into()),
                ("challenge_type", kind.as_str().into()),
                ("passed", result.passed.into()),
            ]
        });
        self.judged(ctx, risk, result, mode, required_approvers)
    }

    /// Judges a challenge result, then applies shadow mode.
    fn judged(
        &self,
        ctx: &ActionContext,
        risk: &RiskAssessment,
        result: crate::challenge::ChallengeResult,
        mode: GateMode,
        required_approvers: u32,
    ) -> Outcome {
        let policy = &self.inner.policy;
        let min_review = self
            .inner
            .registry
            .min_review(policy, risk.level, result.challenge_type);
        let asked = ask::judge(result, ctx, risk, policy, required_approvers, min_review);
        let mut outcome = Outcome {
            verdict: asked.verdict,
            reason: asked.reason,
            result: Some(asked.result),
            approvers: asked.approvers,
            min_review_seconds: asked.min_review.as_secs_f64(),
            min_review_met: asked.min_review_met,
            fail_open: asked.fail_open,
            metadata: ValueMap::new(),
        };
        if outcome.fail_open {
            outcome.metadata.insert("fail_open".into(), true.into());
        }
        if let Some(crate::challenge::Unanswered::TimedOut) =
            outcome.result.as_ref().and_then(|r| r.unanswered)
        {
            outcome.metadata.insert("timed_out".into(), true.into());
        }
        if mode == GateMode::Shadow && outcome.verdict != Verdict::Approved {
            outcome
                .metadata
                .insert("shadow_verdict".into(), outcome.verdict.as_str().into());
            outcome.reason = format!(
                "shadow mode: would have been {} ({}); allowed to run",
                outcome.verdict, outcome.reason
            );
            outcome.verdict = Verdict::Approved;
        }
        outcome
    }

    /// Writes the audit record; a failed write turns an approval into a
    /// denial. Emits the verdict and audit events.
    async fn audit(&self, ctx: &ActionContext, decision: &mut Decision) {
        let entry_id = uuid::Uuid::new_v4().simple().to_string();
        let record = AuditRecord::from_decision(ctx, decision, entry_id);
        match self.inner.audit.append(record).await {
            Ok(id) => decision.audit_entry_id = Some(id),
            Err(err) => {
                decision.warnings.push(err.to_string());
                if decision.verdict == Verdict::Approved {
                    decision.verdict = Verdict::Denied;
                    decision.reason =
                        format!("{err}; the action may not run without an audit record");
                }
            }
        }
        let verdict_event = match decision.verdict {
            Verdict::Approved => EventType::Approved,
            Verdict::Escalated => EventType::Escalated,
            _ => EventType::Denied,
        };
        self.emit(verdict_event, || {
            [
                ("action_name", ctx.function_name.as_str().into()),
                ("risk_score", decision.risk.score.into()),
                ("risk_level", decision.risk.level.as_str().into()),
                ("verdict", decision.verdict.as_str().into()),
            ]
        });
        if let Some(id) = &decision.audit_entry_id {
            self.emit(EventType::AuditLogged, || {
                [
                    ("action_name", ctx.function_name.as_str().into()),
                    ("audit_entry_id", id.as_str().into()),
                    ("verdict", decision.verdict.as_str().into()),
                ]
            });
        }
    }

    /// Teaches the trust model from what humans decided. Only answered,
    /// enforced challenges count: auto-approvals, shadow and audit-only runs,
    /// fail-open approvals and unanswered prompts prove nothing about the
    /// agent.
    async fn record_trust(&self, ctx: &ActionContext, environment: &str, decision: &mut Decision) {
        let (Some(trust), Some(agent)) = (&self.inner.trust, non_empty(ctx.agent_id.as_deref()))
        else {
            return;
        };
        let Some(result) = &decision.challenge_result else {
            return;
        };
        if decision.mode != GateMode::Enforce || result.unanswered.is_some() || decision.fail_open {
            return;
        }
        // Recording may lock, write and fsync the trust store: do it on the
        // blocking pool so a single-threaded runtime keeps serving other
        // traffic (the MCP gateway relays messages while this runs).
        let trust = Arc::clone(trust);
        let agent = agent.to_owned();
        let domain = trust_domain(ctx, environment).to_owned();
        let action = ctx.function_name.clone();
        let success = decision.verdict == Verdict::Approved;
        let score = decision.risk.score;
        let recorded = tokio::task::spawn_blocking(move || {
            if success {
                trust.record_success(&agent, &action, &domain, score)
            } else {
                trust.record_denial(&agent, &action, &domain, score)
            }
            .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(format!("the trust recorder stopped: {e}")));
        if let Err(err) = recorded {
            decision
                .warnings
                .push(format!("trust outcome not recorded: {err}"));
        }
    }

    /// Emits an event; the payload is only built when someone listens.
    fn emit<const N: usize>(
        &self,
        kind: EventType,
        data: impl FnOnce() -> [(&'static str, Value); N],
    ) {
        let Some(bus) = &self.inner.events else {
            return;
        };
        let data = data();
        let now = self.inner.clock.now();
        let event = Event {
            kind,
            timestamp: now.timestamp_micros() as f64 / 1e6,
            data: data.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        };
        bus.emit(&event);
    }

    /// Evaluates `ctx` and runs `action` only if approved.
    pub async fn gate<T>(
        &self,
        ctx: &ActionContext,
        action: impl FnOnce() -> T,
    ) -> Result<T, Denied> {
        let decision = self.evaluate(ctx).await;
        if decision.is_approved() {
            Ok(action())
        } else {
            Err(denied(ctx, decision))
        }
    }

    /// Evaluates `ctx` and runs the async `action` only if approved.
    pub async fn gate_async<F, Fut>(
        &self,
        ctx: &ActionContext,
        action: F,
    ) -> Result<Fut::Output, Denied>
    where
        F: FnOnce() -> Fut,
        Fut: Future,
    {
        let decision = self.evaluate(ctx).await;
        if decision.is_approved() {
            Ok(action().await)
        } else {
            Err(denied(ctx, decision))
        }
    }

    /// [`Attesta::gate`] for synchronous code: runs the evaluation on a
    /// private single-threaded runtime. Refuses to run inside an async
    /// runtime, where it would block a worker thread.
    pub fn gate_blocking<T>(
        &self,
        ctx: &ActionContext,
        action: impl FnOnce() -> T,
    ) -> Result<T, GateError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(GateError::InsideRuntime);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| GateError::Runtime(e.to_string()))?;
        Ok(runtime.block_on(self.gate(ctx, action))?)
    }
}

/// The terminal channel for a policy: its approvers, checked by TOTP where
/// they have a secret.
#[cfg(unix)]
fn terminal_channel(
    policy: &Policy,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn Channel>, BuildError> {
    use crate::challenge::{ConfiguredSecrets, TotpVerifier};
    use crate::channel::{TerminalChannel, TerminalConfig};
    let secrets = Arc::new(ConfiguredSecrets::from_approvers(&policy.approvers));
    let verifier = TotpVerifier::new(policy.totp, secrets, Arc::clone(&clock))
        .map_err(|e| BuildError::InvalidPolicy(format!("policy.totp: {e}")))?;
    let config = TerminalConfig::from_policy(policy)
        .with_code_verifier(Arc::new(verifier))
        .with_clock(clock);
    Ok(Arc::new(TerminalChannel::new(config)))
}

fn denied(ctx: &ActionContext, decision: Decision) -> Denied {
    Denied {
        description: ctx.description(),
        decision: Box::new(decision),
    }
}

/// CRITICAL actions are always enforced, whatever the configured mode.
fn effective_mode(mode: GateMode, level: RiskLevel) -> GateMode {
    if level == RiskLevel::Critical {
        GateMode::Enforce
    } else {
        mode
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// The trust domain: the `domain` hint if it is a non-empty string, else the
/// environment, else `general`.
fn trust_domain<'a>(ctx: &'a ActionContext, environment: &'a str) -> &'a str {
    match ctx.hints.get("domain") {
        Some(Value::Str(d)) if !d.is_empty() => d,
        _ if !environment.is_empty() => environment,
        _ => "general",
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The approval server `policy.approvals` names, as the engine's
/// [`ApprovalService`]: the token from its environment variable or file,
/// the server's public key from its file. Anything missing is an error at
/// start-up, never a silent fallback to another channel.
#[cfg(feature = "remote")]
fn approval_server(
    settings: &crate::policy::ApprovalsSettings,
) -> Result<Arc<dyn ApprovalService>, BuildError> {
    let token = match &settings.token_file {
        Some(path) => crate::remote::read_token_file(path)
            .map_err(|e| BuildError::Component(format!("policy.approvals.token_file: {e}")))?,
        None => std::env::var(&settings.token_env).map_err(|_| {
            BuildError::Component(format!(
                "policy.approvals needs the requester token in the environment variable {}; \
                 create one with `attesta server principals add NAME --kind requester` and \
                 export it",
                settings.token_env
            ))
        })?,
    };
    let public_key = crate::audit::AuditPublicKey::load(&settings.public_key).map_err(|e| {
        BuildError::Component(format!(
            "policy.approvals.public_key: {e}; copy the server's server-signing.pub (or GET \
             /v1/public-key) there"
        ))
    })?;
    let remote = crate::remote::RemoteApprovals::new(crate::remote::RemoteConfig {
        server: settings.server.clone(),
        token: token.trim().to_owned(),
        public_key,
        retry_for: settings.retry,
    })
    .map_err(|e| BuildError::Component(format!("policy.approvals: {e}")))?;
    Ok(Arc::new(remote))
}

/// Without the `remote` feature, a policy that names an approval server is
/// refused rather than silently asking locally.
#[cfg(not(feature = "remote"))]
fn approval_server(
    _settings: &crate::policy::ApprovalsSettings,
) -> Result<Arc<dyn ApprovalService>, BuildError> {
    Err(BuildError::Component(
        "policy.approvals names an approval server, but this build of attesta has no `remote` \
         feature; rebuild with `--features remote` (the attesta CLI has it)"
            .to_owned(),
    ))
}
