//! Events the gate emits as a decision progresses, for metrics and hooks.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;

use crate::value::ValueMap;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventType {
    /// The action was scored (after the environment multiplier, before trust).
    RiskScored,
    /// Trust adjusted the score.
    TrustComputed,
    /// A human is being asked.
    ChallengeIssued,
    /// The human answered, or the challenge ended without an answer.
    ChallengeCompleted,
    /// The action may run.
    Approved,
    /// The action may not run.
    Denied,
    /// The action may not run and needs follow-up.
    Escalated,
    /// The decision was written to the audit trail.
    AuditLogged,
}

impl EventType {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RiskScored => "risk_scored",
            Self::TrustComputed => "trust_computed",
            Self::ChallengeIssued => "challenge_issued",
            Self::ChallengeCompleted => "challenge_completed",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Escalated => "escalated",
            Self::AuditLogged => "audit_logged",
        }
    }
}

/// One event: its type, when (Unix seconds) and its payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Unix time in seconds.
    pub timestamp: f64,
    /// Payload; keys per event type are listed in `docs/events.md`.
    pub data: ValueMap,
}

type Handler = Arc<dyn Fn(&Event) + Send + Sync>;

/// Delivers events to subscribers, in subscription order.
///
/// A handler that panics is isolated: the panic is caught, the other
/// handlers still run, and the gate's decision is unaffected.
#[derive(Default)]
pub struct EventBus {
    handlers: RwLock<Vec<(Option<EventType>, Handler)>>,
}

impl fmt::Debug for EventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.handlers.read().map_or(0, |h| h.len());
        f.debug_struct("EventBus")
            .field("handlers", &count)
            .finish()
    }
}

impl EventBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls `handler` for every event of type `kind`.
    pub fn subscribe(&self, kind: EventType, handler: impl Fn(&Event) + Send + Sync + 'static) {
        self.handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push((Some(kind), Arc::new(handler)));
    }

    /// Calls `handler` for every event.
    pub fn subscribe_all(&self, handler: impl Fn(&Event) + Send + Sync + 'static) {
        self.handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push((None, Arc::new(handler)));
    }

    /// Delivers `event`; returns how many handlers panicked.
    pub fn emit(&self, event: &Event) -> usize {
        let handlers: Vec<Handler> = self
            .handlers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(kind, _)| kind.is_none_or(|k| k == event.kind))
            .map(|(_, h)| Arc::clone(h))
            .collect();
        handlers
            .iter()
            .filter(|handler| catch_unwind(AssertUnwindSafe(|| handler(event))).is_err())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn filters_by_type_and_survives_panicking_handlers() {
        let bus = EventBus::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        bus.subscribe_all(|_| panic!("handler bug"));
        bus.subscribe(EventType::Approved, move |e| {
            s.lock().expect("not poisoned").push(e.kind);
        });
        let approved = Event {
            kind: EventType::Approved,
            timestamp: 0.0,
            data: ValueMap::new(),
        };
        let denied = Event {
            kind: EventType::Denied,
            ..approved.clone()
        };
        assert_eq!(bus.emit(&approved), 1);
        assert_eq!(bus.emit(&denied), 1);
        assert_eq!(
            *seen.lock().expect("not poisoned"),
            vec![EventType::Approved]
        );
    }
}
