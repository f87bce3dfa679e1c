//! [`TrustEngine`]: per-agent trust from recorded outcomes, optionally
//! persisted in a store shared between processes.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::NaiveDateTime;

use super::TrustSettings;
use super::error::TrustError;
use super::profile::{TrustOutcome, TrustProfile, TrustRecord};
use super::score::{adjust_risk, trust_of};
use super::store::{DecodeContext, Profiles, Store};
use super::time::local_now;
use crate::clock::Clock;

/// Learns how far each agent can be trusted from the outcomes of its
/// actions, and discounts (or raises) the risk of its next action
/// accordingly.
///
/// The engine is `Send + Sync`; every method takes `&self` and the state sits
/// behind a mutex. With a `store_path`, every change is written to disk
/// before the method returns (a blocking `fsync`, so async callers should
/// use `spawn_blocking`), and changes made by other processes sharing the
/// file are picked up on the next call. See `docs/trust.md`.
///
/// ```
/// use std::sync::Arc;
/// use attesta::clock::SystemClock;
/// use attesta::trust::{TrustEngine, TrustSettings};
///
/// let engine = TrustEngine::in_memory(TrustSettings::default(), Arc::new(SystemClock::new()));
/// assert_eq!(engine.compute_trust("bot", None), 0.3); // a new agent
/// engine.record_success("bot", "deploy", "ci", 0.6)?;
/// assert_eq!(engine.compute_trust("bot", None), 0.9); // one success reaches the ceiling
/// engine.revoke("bot")?;
/// assert_eq!(engine.compute_trust("bot", None), 0.0);
/// # Ok::<(), attesta::trust::TrustError>(())
/// ```
#[derive(Debug)]
pub struct TrustEngine {
    /// Formula parameters and the store location; fixed for the engine's life.
    settings: TrustSettings,
    /// Every "now" (record timestamps and record ages) comes from here, so
    /// tests can move time.
    clock: Arc<dyn Clock>,
    /// Profiles and the store bookkeeping, changed together.
    state: Mutex<State>,
}

/// What the engine's mutex protects.
#[derive(Debug)]
struct State {
    /// Known agents in first-seen order (the store's key order).
    profiles: Profiles,
    /// The file behind the profiles; `None` for an in-memory engine.
    store: Option<Store>,
}

impl TrustEngine {
    /// An engine that keeps everything in memory, ignoring
    /// `settings.store_path`.
    pub fn in_memory(settings: TrustSettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            settings,
            clock,
            state: Mutex::new(State {
                profiles: Profiles::new(),
                store: None,
            }),
        }
    }

    /// An engine backed by `settings.store_path`, loading the file if it
    /// exists. A missing file is an empty store; it is created (with its
    /// directory) on the first change. Without a `store_path` this is
    /// [`TrustEngine::in_memory`].
    ///
    /// Fails if a numeric setting is NaN or infinite, or if the file exists
    /// but cannot be read or is not a valid store ([`TrustError::Read`],
    /// [`TrustError::Corrupt`]); a broken store is never silently replaced.
    pub fn open(settings: TrustSettings, clock: Arc<dyn Clock>) -> Result<Self, TrustError> {
        validate(&settings)?;
        let Some(path) = settings.store_path.clone() else {
            return Ok(Self::in_memory(settings, clock));
        };
        let ctx = decode_context(&settings, local_now(clock.as_ref()));
        let (store, profiles) = Store::open(path, ctx)?;
        Ok(Self {
            settings,
            clock,
            state: Mutex::new(State {
                profiles,
                store: Some(store),
            }),
        })
    }

    /// The settings the engine was built with.
    pub fn settings(&self) -> &TrustSettings {
        &self.settings
    }

    /// How far `agent_id` is trusted now, from 0.0 up to `ceiling`,
    /// considering only records of `domain` when one is given (`Some("")` is
    /// a real filter that matches records with an empty domain; `None`
    /// considers every record).
    ///
    /// The formula is the reference implementation's, to the last bit:
    ///
    /// 1. A revoked agent has trust **0.0**, whatever its history.
    /// 2. If no record matches (including an agent never seen), trust is
    ///    `initial_score`, whatever the incidents.
    /// 3. Each matching record gets the weight `w = exp(−0.1 × days_ago)`,
    ///    where `days_ago` is the record's age in whole microseconds / 1e6 /
    ///    86400. The 0.1 per day is a constant, not `decay_rate`.
    /// 4. `rate = Σ w(successes) / Σ w(all)`, summed left to right in history
    ///    order (0.5 if the weights sum to zero). Denials and incidents both
    ///    count as non-successes.
    /// 5. `recency = exp(−decay_rate × days since last_action_at)`, or 1.0 if
    ///    the agent never had a success or denial. It uses the agent-wide last
    ///    action even for a domain query.
    /// 6. `penalty = incident_penalty ^ incidents` (agent-wide; a revocation
    ///    adds three incidents that stay after reinstatement).
    /// 7. Trust is `min(rate × recency × penalty, ceiling)`, with no lower
    ///    clamp.
    ///
    /// Consequences worth knowing: the rate is a proportion, not a ramp, so
    /// **a single success takes a new agent from `initial_score` straight to
    /// the ceiling** (0.3 → 0.9 with the defaults); one success and one
    /// denial give about 0.5; an incident alone gives 0.0 and an incident
    /// plus a success 0.35 (a rate of ½ times the 0.7 penalty).
    ///
    /// While a persistent store cannot be read or parsed (another process
    /// or a person broke it), every agent's trust is 0.0: the engine fails
    /// closed rather than trusting stale data. Never creates a profile.
    pub fn compute_trust(&self, agent_id: &str, domain: Option<&str>) -> f64 {
        self.query(|profiles, store_broken, now| {
            if store_broken {
                return 0.0;
            }
            profiles
                .get(agent_id)
                .map_or(self.settings.initial_score, |p| {
                    trust_of(p, domain, now, &self.settings)
                })
        })
    }

    /// `raw_risk` adjusted by the agent's trust:
    /// `max(0, min(1, raw_risk × (1 − (trust − 0.5) × influence)))` with
    /// `trust = compute_trust(agent_id, domain)`.
    ///
    /// Trust 0.5 is neutral. With the default influence of 0.3, **a new agent
    /// (trust 0.3) gets its risk multiplied by 1.06** — risk goes *up* until
    /// the agent has a success — an agent at the 0.9 ceiling gets ×0.88, and
    /// a revoked agent (trust 0.0) ×1.15. A NaN risk clamps to 1.0. The
    /// engine does not protect CRITICAL actions from being lowered; the gate
    /// does. Never creates a profile.
    pub fn effective_risk(&self, raw_risk: f64, agent_id: &str, domain: Option<&str>) -> f64 {
        let trust = self.compute_trust(agent_id, domain);
        adjust_risk(raw_risk, trust, self.settings.influence)
    }

    /// Records that an action of `agent_id` in `domain` succeeded: appends a
    /// `success` record, sets `last_action_at`, refreshes `overall_score` and
    /// (for a non-empty domain) `domain_scores[domain]`. Creates the profile
    /// if needed. `risk_score` is stored for the record only; it must be
    /// finite.
    pub fn record_success(
        &self,
        agent_id: &str,
        action_name: &str,
        domain: &str,
        risk_score: f64,
    ) -> Result<(), TrustError> {
        self.record_outcome(
            agent_id,
            action_name,
            domain,
            TrustOutcome::Success,
            risk_score,
        )
    }

    /// Records that a human denied an action of `agent_id`: appends a
    /// `denied` record and sets `last_action_at`. As in the reference,
    /// `overall_score` and `domain_scores` are not refreshed (they are
    /// informational; [`TrustEngine::compute_trust`] is always current).
    pub fn record_denial(
        &self,
        agent_id: &str,
        action_name: &str,
        domain: &str,
        risk_score: f64,
    ) -> Result<(), TrustError> {
        self.record_outcome(
            agent_id,
            action_name,
            domain,
            TrustOutcome::Denied,
            risk_score,
        )
    }

    /// Appends an outcome, sets `last_action_at`, and for a success refreshes
    /// the informational scores (the reference leaves them alone on a
    /// denial).
    fn record_outcome(
        &self,
        agent_id: &str,
        action_name: &str,
        domain: &str,
        outcome: TrustOutcome,
        risk_score: f64,
    ) -> Result<(), TrustError> {
        ensure_finite(agent_id, risk_score)?;
        let settings = &self.settings;
        self.mutate(|profiles, now| {
            let profile = profile_entry(profiles, agent_id, settings, now);
            profile.push_record(
                record(now, action_name, domain, outcome, risk_score),
                settings.history_limit,
            );
            profile.last_action_at = Some(now);
            if outcome == TrustOutcome::Success {
                profile.overall_score = trust_of(profile, None, now, settings);
                if !domain.is_empty() {
                    let domain_trust = trust_of(profile, Some(domain), now, settings);
                    profile
                        .domain_scores
                        .insert(domain.to_owned(), domain_trust);
                }
            }
            Ok(())
        })
    }

    /// Records an incident caused by `agent_id`: one more incident (each
    /// multiplies trust by `incident_penalty`), an `incident` record with risk
    /// 1.0 carrying `severity` and `description`, and a refreshed
    /// `overall_score`. `last_action_at` is left alone, as in the reference.
    pub fn record_incident(
        &self,
        agent_id: &str,
        action_name: &str,
        domain: &str,
        severity: &str,
        description: &str,
    ) -> Result<(), TrustError> {
        let settings = &self.settings;
        self.mutate(|profiles, now| {
            let profile = profile_entry(profiles, agent_id, settings, now);
            profile.incidents = profile.incidents.saturating_add(1);
            let mut incident = record(now, action_name, domain, TrustOutcome::Incident, 1.0);
            incident.severity = Some(severity.to_owned());
            incident.description = Some(description.to_owned());
            profile.push_record(incident, settings.history_limit);
            profile.overall_score = trust_of(profile, None, now, settings);
            Ok(())
        })
    }

    /// Revokes `agent_id`: its trust is 0.0 until [`TrustEngine::reinstate`],
    /// in every domain and whatever its history, and the revocation is
    /// persisted. Like the reference it also adds three incidents and clears
    /// `overall_score` and `domain_scores`; history is kept. Revoking an
    /// agent the engine has not seen creates its profile, so an agent can be
    /// revoked before it first acts. Revoking again adds three more
    /// incidents but keeps the original `revoked_at`.
    pub fn revoke(&self, agent_id: &str) -> Result<(), TrustError> {
        let settings = &self.settings;
        self.mutate(|profiles, now| {
            let profile = profile_entry(profiles, agent_id, settings, now);
            profile.overall_score = 0.0;
            profile.domain_scores.clear();
            profile.incidents = profile.incidents.saturating_add(3);
            profile.revoked_at.get_or_insert(now);
            Ok(())
        })
    }

    /// Lifts a revocation: trust is computed from history again (the three
    /// incidents the revocation added stay) and `overall_score` is
    /// refreshed. Reinstating an agent that is not revoked changes nothing.
    /// Fails with [`TrustError::UnknownAgent`] for an agent the store has
    /// never seen, which is most likely a typo.
    pub fn reinstate(&self, agent_id: &str) -> Result<(), TrustError> {
        let settings = &self.settings;
        self.mutate(|profiles, now| {
            let profile = known_profile(profiles, agent_id)?;
            if profile.revoked_at.take().is_some() {
                profile.overall_score = trust_of(profile, None, now, settings);
            }
            Ok(())
        })
    }

    /// Starts `agent_id` over: lifts any revocation and forgets its history,
    /// domain scores and last action, so its trust is `initial_score` again
    /// (a well-trusted agent drops to it, a revoked one rises to it). The
    /// incident count and `created_at` stay: incidents never decrease.
    /// Fails with [`TrustError::UnknownAgent`] for an agent the store has
    /// never seen.
    pub fn reset(&self, agent_id: &str) -> Result<(), TrustError> {
        let settings = &self.settings;
        self.mutate(|profiles, now| {
            let profile = known_profile(profiles, agent_id)?;
            profile.revoked_at = None;
            profile.history.clear();
            profile.domain_scores.clear();
            profile.last_action_at = None;
            profile.overall_score = trust_of(profile, None, now, settings);
            Ok(())
        })
    }

    /// A snapshot of what the engine knows about `agent_id`, or `None` if it
    /// has never recorded anything for it. Never creates a profile. While a
    /// persistent store is broken (see [`TrustEngine::compute_trust`]), this
    /// is the last state that loaded.
    pub fn profile(&self, agent_id: &str) -> Option<TrustProfile> {
        self.query(|profiles, _, _| profiles.get(agent_id).cloned())
    }

    /// Snapshots of every known agent, in the order they were first seen.
    pub fn profiles(&self) -> Vec<TrustProfile> {
        self.query(|profiles, _, _| profiles.values().cloned().collect())
    }

    /// Runs a read-only `f` on up-to-date profiles. `f` also learns whether
    /// the store is broken (so it can fail closed) and the current time.
    fn query<T>(&self, f: impl FnOnce(&Profiles, bool, NaiveDateTime) -> T) -> T {
        let now = local_now(self.clock.as_ref());
        let mut state = self.lock_state();
        let State { profiles, store } = &mut *state;
        let broken = store.as_mut().is_some_and(|store| {
            store.refresh(profiles, decode_context(&self.settings, now));
            store.is_broken()
        });
        f(profiles, broken, now)
    }

    /// Runs `f` on the profiles as they are on disk and persists the result
    /// (see `Store::update`).
    fn mutate<T>(
        &self,
        f: impl FnOnce(&mut Profiles, NaiveDateTime) -> Result<T, TrustError>,
    ) -> Result<T, TrustError> {
        let now = local_now(self.clock.as_ref());
        let mut state = self.lock_state();
        let State { profiles, store } = &mut *state;
        match store {
            Some(store) => {
                store.update(profiles, decode_context(&self.settings, now), |p| f(p, now))
            }
            None => f(profiles, now),
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; should a panic ever poison
        // it, the state is still consistent (every change is a single map
        // update), so carrying on beats making trust unusable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The stored profile of `agent_id`; an agent the store has never seen is
/// [`TrustError::UnknownAgent`] (most likely a typo).
fn known_profile<'a>(
    profiles: &'a mut Profiles,
    agent_id: &str,
) -> Result<&'a mut TrustProfile, TrustError> {
    profiles
        .get_mut(agent_id)
        .ok_or_else(|| TrustError::UnknownAgent {
            agent_id: agent_id.to_owned(),
        })
}

/// The profile of `agent_id`, created with the reference's defaults if new.
fn profile_entry<'a>(
    profiles: &'a mut Profiles,
    agent_id: &str,
    settings: &TrustSettings,
    now: NaiveDateTime,
) -> &'a mut TrustProfile {
    profiles
        .entry(agent_id.to_owned())
        .or_insert_with(|| TrustProfile::new(agent_id, settings.initial_score, now))
}

fn record(
    now: NaiveDateTime,
    action_name: &str,
    domain: &str,
    outcome: TrustOutcome,
    risk_score: f64,
) -> TrustRecord {
    TrustRecord {
        timestamp: now,
        action_name: action_name.to_owned(),
        domain: domain.to_owned(),
        outcome,
        risk_score,
        severity: None,
        description: None,
    }
}

fn decode_context(settings: &TrustSettings, now: NaiveDateTime) -> DecodeContext {
    DecodeContext {
        now,
        initial_score: settings.initial_score,
        history_limit: settings.history_limit,
    }
}

fn ensure_finite(agent_id: &str, risk_score: f64) -> Result<(), TrustError> {
    if risk_score.is_finite() {
        Ok(())
    } else {
        Err(TrustError::InvalidRiskScore {
            agent_id: agent_id.to_owned(),
            risk_score,
        })
    }
}

/// Rejects settings that would make scores NaN or infinite, which JSON
/// cannot hold (a stored score would then make the store unreadable).
fn validate(settings: &TrustSettings) -> Result<(), TrustError> {
    let numbers = [
        ("influence", settings.influence),
        ("ceiling", settings.ceiling),
        ("initial_score", settings.initial_score),
        ("decay_rate", settings.decay_rate),
        ("incident_penalty", settings.incident_penalty),
    ];
    match numbers.into_iter().find(|(_, value)| !value.is_finite()) {
        Some((name, value)) => Err(TrustError::InvalidSettings { name, value }),
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should stop loudly
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    const DAY: Duration = Duration::from_hours(24);

    fn clock() -> ManualClock {
        ManualClock::at("2025-01-15T12:00:00".parse().unwrap())
    }

    fn engine_with(settings: TrustSettings, clock: &ManualClock) -> TrustEngine {
        TrustEngine::in_memory(settings, Arc::new(clock.clone()))
    }

    fn engine(clock: &ManualClock) -> TrustEngine {
        engine_with(TrustSettings::default(), clock)
    }

    #[test]
    fn reset_lifts_revocation_and_forgets_history_but_not_incidents() {
        let e = engine(&clock());
        e.record_success("bot", "deploy", "ci", 0.6).unwrap();
        assert_eq!(e.compute_trust("bot", None), 0.9);
        e.revoke("bot").unwrap();
        assert_eq!(e.compute_trust("bot", None), 0.0);
        e.reset("bot").unwrap();
        assert_eq!(e.compute_trust("bot", None), 0.3);
        let p = e.profile("bot").unwrap();
        assert!(p.history.is_empty() && p.domain_scores.is_empty());
        assert_eq!(
            (p.revoked_at, p.last_action_at, p.incidents),
            (None, None, 3)
        );
        assert_eq!(p.overall_score, 0.3);
        assert!(matches!(
            e.reset("nobody"),
            Err(TrustError::UnknownAgent { .. })
        ));
        assert!(e.profile("nobody").is_none());
    }

    #[test]
    fn engine_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TrustEngine>();
    }

    #[test]
    fn new_agent_has_initial_trust_and_risk_times_1_06() {
        let e = engine(&clock());
        assert_eq!(e.compute_trust("bot", None), 0.3);
        assert_eq!(e.effective_risk(0.7, "bot", Some("ci")), 0.742);
        assert_eq!(e.effective_risk(0.5, "bot", None), 0.53);
    }

    #[test]
    fn one_success_jumps_to_the_ceiling() {
        let e = engine(&clock());
        e.record_success("bot", "deploy", "ci", 0.6).unwrap();
        assert_eq!(e.compute_trust("bot", None), 0.9);
        assert_eq!(e.compute_trust("bot", Some("ci")), 0.9);
        assert_eq!(e.effective_risk(0.5, "bot", None), 0.44); // ×0.88
        let p = e.profile("bot").unwrap();
        assert_eq!(p.overall_score, 0.9);
        assert_eq!(p.domain_scores.get("ci"), Some(&0.9));
        assert_eq!(
            p.last_action_at,
            Some("2025-01-15T12:00:00".parse().unwrap())
        );
    }

    #[test]
    fn custom_ceiling_caps_trust() {
        let settings = TrustSettings {
            ceiling: 0.6,
            ..TrustSettings::default()
        };
        let e = engine_with(settings, &clock());
        e.record_success("bot", "deploy", "ci", 0.6).unwrap();
        assert_eq!(e.compute_trust("bot", None), 0.6);
    }

    #[test]
    fn success_and_denial_give_one_half() {
        let e = engine(&clock());
        e.record_success("bot", "a", "ci", 0.5).unwrap();
        e.record_denial("bot", "b", "ci", 0.5).unwrap();
        assert_eq!(e.compute_trust("bot", None), 0.5);
        // Denials do not refresh the informational score (reference behaviour).
        assert_eq!(e.profile("bot").unwrap().overall_score, 0.9);
    }

    #[test]
    fn incident_alone_gives_zero_and_with_a_success_0_35() {
        let e = engine(&clock());
        e.record_incident("bot", "drop", "db", "high", "dropped a table")
            .unwrap();
        assert_eq!(e.compute_trust("bot", None), 0.0);
        e.record_success("bot", "read", "db", 0.1).unwrap();
        assert_eq!(e.compute_trust("bot", None), 0.35);
        let p = e.profile("bot").unwrap();
        assert_eq!(p.incidents, 1);
        let incident = &p.history[0];
        assert_eq!(incident.outcome, TrustOutcome::Incident);
        assert_eq!(incident.risk_score, 1.0);
        assert_eq!(incident.severity.as_deref(), Some("high"));
        assert_eq!(incident.description.as_deref(), Some("dropped a table"));
        assert_eq!(p.history[1].severity, None);
    }

    #[test]
    fn incidents_affect_every_domain() {
        let e = engine(&clock());
        e.record_success("bot", "a", "ci", 0.5).unwrap();
        e.record_success("bot", "b", "prod", 0.5).unwrap();
        e.record_incident("bot", "c", "prod", "low", "").unwrap();
        // Rate 1.0 times one incident penalty; the ceiling applies after the penalty.
        assert_eq!(e.compute_trust("bot", Some("ci")), 0.7);
    }

    #[test]
    fn trust_decays_with_time_since_the_last_action() {
        let c = clock();
        let e = engine(&c);
        e.record_success("bot", "a", "ci", 0.5).unwrap();
        c.advance(30 * DAY);
        let after_30_days = e.compute_trust("bot", None);
        assert_eq!(after_30_days, (-0.01_f64 * 30.0).exp());
        c.advance(30 * DAY);
        assert!(e.compute_trust("bot", None) < after_30_days);

        let fast = engine_with(
            TrustSettings {
                decay_rate: 0.05,
                ..TrustSettings::default()
            },
            &clock(),
        );
        fast.record_success("bot", "a", "ci", 0.5).unwrap();
        assert_eq!(fast.compute_trust("bot", None), 0.9);
    }

    #[test]
    fn older_records_weigh_less() {
        let c = clock();
        let e = engine(&c);
        e.record_success("bot", "a", "ci", 0.5).unwrap();
        c.advance(30 * DAY);
        e.record_denial("bot", "b", "ci", 0.5).unwrap();
        // The success is 30 days old (weight e^-3), the denial fresh (weight 1);
        // the last action is now, so there is no recency decay.
        let old = (-0.1_f64 * 30.0).exp();
        assert_eq!(e.compute_trust("bot", None), old / (old + 1.0));
    }

    #[test]
    fn domain_filter_empty_string_is_a_filter_and_none_is_not() {
        let e = engine(&clock());
        e.record_denial("bot", "a", "", 0.5).unwrap();
        e.record_success("bot", "b", "ci", 0.5).unwrap();
        assert_eq!(e.compute_trust("bot", Some("")), 0.0);
        assert_eq!(e.compute_trust("bot", Some("ci")), 0.9);
        assert_eq!(e.compute_trust("bot", None), 0.5);
        assert_eq!(e.compute_trust("bot", Some("finance")), 0.3);
        // An empty domain gets no domain score, as in the reference.
        e.record_success("bot", "c", "", 0.5).unwrap();
        let p = e.profile("bot").unwrap();
        assert_eq!(p.domain_scores.keys().collect::<Vec<_>>(), ["ci"]);
    }

    #[test]
    fn effective_risk_is_clamped() {
        let e = engine(&clock());
        e.revoke("bad").unwrap();
        assert_eq!(e.effective_risk(0.95, "bad", None), 1.0); // ×1.15
        assert_eq!(e.effective_risk(0.4, "bad", None), 0.4 * 1.15);
        assert_eq!(e.effective_risk(-0.5, "new", None), 0.0);
        assert_eq!(e.effective_risk(f64::NAN, "new", None), 1.0);
    }

    #[test]
    fn queries_never_create_profiles() {
        let e = engine(&clock());
        let _ = e.compute_trust("ghost", None);
        let _ = e.compute_trust("ghost", Some("ci"));
        let _ = e.effective_risk(0.5, "ghost", Some("ci"));
        assert_eq!(e.profile("ghost"), None);
        assert!(e.profiles().is_empty());
    }

    #[test]
    fn history_keeps_only_the_newest_records() {
        let e = engine_with(
            TrustSettings {
                history_limit: 3,
                ..TrustSettings::default()
            },
            &clock(),
        );
        for i in 0..5 {
            e.record_success("bot", &format!("a{i}"), "ci", 0.5)
                .unwrap();
        }
        let names: Vec<_> = e
            .profile("bot")
            .unwrap()
            .history
            .into_iter()
            .map(|r| r.action_name)
            .collect();
        assert_eq!(names, ["a2", "a3", "a4"]);
    }

    #[test]
    fn revoked_agent_has_zero_trust_until_reinstated() {
        let e = engine(&clock());
        e.record_success("bot", "a", "ci", 0.5).unwrap();
        e.revoke("bot").unwrap();
        assert_eq!(e.compute_trust("bot", None), 0.0);
        assert_eq!(e.compute_trust("bot", Some("ci")), 0.0);
        e.record_success("bot", "b", "ci", 0.5).unwrap();
        assert_eq!(e.compute_trust("bot", None), 0.0);
        let p = e.profile("bot").unwrap();
        assert_eq!(p.incidents, 3);
        assert_eq!(p.overall_score, 0.0);
        assert!(p.revoked_at.is_some());

        e.reinstate("bot").unwrap();
        // Two fresh successes, but the revocation's three incidents remain.
        assert_eq!(e.compute_trust("bot", None), 0.7_f64.powf(3.0));
        let p = e.profile("bot").unwrap();
        assert_eq!(p.revoked_at, None);
        assert_eq!(p.incidents, 3);
        assert_eq!(p.overall_score, 0.7_f64.powf(3.0));
    }

    #[test]
    fn revoking_an_unseen_agent_revokes_it_before_it_acts() {
        let e = engine(&clock());
        e.revoke("newcomer").unwrap();
        assert_eq!(e.compute_trust("newcomer", None), 0.0);
        assert_eq!(e.profile("newcomer").unwrap().incidents, 3);
    }

    #[test]
    fn revoking_twice_keeps_the_first_revocation_time() {
        let c = clock();
        let e = engine(&c);
        e.revoke("bot").unwrap();
        let first = e.profile("bot").unwrap().revoked_at;
        c.advance(DAY);
        e.revoke("bot").unwrap();
        let p = e.profile("bot").unwrap();
        assert_eq!(p.revoked_at, first);
        assert_eq!(p.incidents, 6);
    }

    #[test]
    fn reinstating_an_unknown_agent_is_an_error() {
        let e = engine(&clock());
        let err = e.reinstate("typo").unwrap_err();
        assert!(matches!(err, TrustError::UnknownAgent { ref agent_id } if agent_id == "typo"));
        assert!(e.profiles().is_empty());
    }

    #[test]
    fn non_finite_risk_scores_are_refused_and_not_recorded() {
        let e = engine(&clock());
        let err = e.record_success("bot", "a", "ci", f64::NAN).unwrap_err();
        assert!(matches!(err, TrustError::InvalidRiskScore { .. }));
        assert!(e.record_denial("bot", "a", "ci", f64::INFINITY).is_err());
        assert_eq!(e.profile("bot"), None);
    }

    #[test]
    fn open_refuses_non_finite_settings() {
        let settings = TrustSettings {
            decay_rate: f64::NAN,
            ..TrustSettings::default()
        };
        let err = TrustEngine::open(settings, Arc::new(clock())).unwrap_err();
        assert!(matches!(
            err,
            TrustError::InvalidSettings {
                name: "decay_rate",
                ..
            }
        ));
    }

    #[test]
    fn profiles_keep_first_seen_order() {
        let e = engine(&clock());
        for agent in ["b", "a", "c", "a"] {
            e.record_success(agent, "x", "ci", 0.5).unwrap();
        }
        let ids: Vec<_> = e.profiles().into_iter().map(|p| p.agent_id).collect();
        assert_eq!(ids, ["b", "a", "c"]);
    }
}
