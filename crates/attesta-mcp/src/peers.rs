//! What the proxy learns about its two peers from the traffic it relays, and
//! how each call can reach the human.
//!
//! Two protocol eras meet here. Up to 2025-11-25 the client opens with
//! `initialize` (its name and capabilities) and a server may send requests
//! to the client, `elicitation/create` among them. From 2026-07-28 there is
//! no handshake: every request carries its version and capabilities in
//! `params._meta`, and a server that needs input answers with an
//! `input_required` result instead of sending a request.

use serde_json::{Map, Value};

/// The first stateless revision.
pub(crate) const MODERN_VERSION: &str = "2026-07-28";
/// The first revision whose form elicitation carries `"mode": "form"`.
const FORM_MODE_VERSION: &str = "2025-11-25";
/// The only revision with JSON-RPC batches.
pub(crate) const BATCH_VERSION: &str = "2025-03-26";
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_CLIENT: &str = "io.modelcontextprotocol/clientInfo";

/// What the handshake said (legacy era).
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerFacts {
    /// The client's `clientInfo.name`.
    pub(crate) client_name: Option<String>,
    /// The client declared form elicitation.
    pub(crate) client_elicits: bool,
    /// The version the upstream answered `initialize` with.
    pub(crate) version: Option<String>,
    /// The upstream's `serverInfo.name` (from `initialize` or
    /// `server/discover`).
    pub(crate) server_name: Option<String>,
}

impl PeerFacts {
    /// Reads the client's `initialize` params.
    pub(crate) fn client_initialize(&mut self, params: Option<&Value>) {
        let Some(params) = params else { return };
        if let Some(name) = params
            .get("clientInfo")
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
        {
            self.client_name = Some(name.to_owned());
        }
        self.client_elicits = params
            .get("capabilities")
            .and_then(|c| c.get("elicitation"))
            .is_some_and(supports_forms);
    }

    /// Reads the upstream's `initialize` or `server/discover` result.
    pub(crate) fn server_answer(&mut self, result: Option<&Value>) {
        let Some(result) = result else { return };
        if let Some(version) = result.get("protocolVersion").and_then(Value::as_str) {
            self.version = Some(version.to_owned());
        }
        if let Some(name) = result
            .get("serverInfo")
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
        {
            self.server_name = Some(name.to_owned());
        }
    }

    /// Whether a JSON-RPC batch is a valid message in this session.
    pub(crate) fn batches_allowed(&self) -> bool {
        self.version.as_deref() == Some(BATCH_VERSION)
    }
}

/// An `elicitation` capability that covers form mode: `{}` (forms only, the
/// 2025-06-18 shape) or an object with `form`. `{"url": {}}` alone does not.
fn supports_forms(capability: &Value) -> bool {
    match capability {
        Value::Object(modes) => modes.is_empty() || modes.contains_key("form"),
        _ => false,
    }
}

/// How one call can put a form in front of the human.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Send the client an `elicitation/create` request while the call waits.
    Request {
        /// Add `"mode": "form"` (2025-11-25 and later).
        form_mode: bool,
    },
    /// Answer the call with an `input_required` result; the client retries.
    InputRequired,
    /// The client cannot show a form.
    None,
}

/// The era and capabilities of one request, from its `params._meta` (modern)
/// or the session's handshake (legacy).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CallPeer {
    /// How a form reaches the human.
    pub(crate) reach: Reach,
    /// The client's name, for the agent id and the approver label.
    pub(crate) client_name: Option<String>,
    /// The request's `_meta` keys that say who is asking (modern era), for
    /// requests the proxy makes on the call's behalf.
    pub(crate) modern_meta: Option<Map<String, Value>>,
}

impl CallPeer {
    pub(crate) fn of(params: Option<&Value>, facts: &PeerFacts) -> Self {
        let meta = params.and_then(|p| p.get("_meta"));
        let version = meta
            .and_then(|m| m.get(META_VERSION))
            .and_then(Value::as_str);
        if let (Some(meta), Some(version)) = (meta, version)
            && version >= MODERN_VERSION
        {
            let elicits = meta
                .get(META_CAPABILITIES)
                .and_then(|c| c.get("elicitation"))
                .is_some_and(supports_forms);
            let client_name = meta
                .get(META_CLIENT)
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let modern_meta = [META_VERSION, META_CAPABILITIES, META_CLIENT]
                .into_iter()
                .filter_map(|key| Some((key.to_owned(), meta.get(key)?.clone())))
                .collect();
            return Self {
                reach: if elicits {
                    Reach::InputRequired
                } else {
                    Reach::None
                },
                client_name,
                modern_meta: Some(modern_meta),
            };
        }
        let form_mode = facts
            .version
            .as_deref()
            .is_some_and(|v| v >= FORM_MODE_VERSION);
        Self {
            reach: if facts.client_elicits {
                Reach::Request { form_mode }
            } else {
                Reach::None
            },
            client_name: facts.client_name.clone(),
            modern_meta: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn legacy_calls_use_the_handshake() {
        let mut facts = PeerFacts::default();
        facts.client_initialize(Some(&json!({
            "clientInfo": {"name": "vscode"},
            "capabilities": {"elicitation": {}},
        })));
        facts.server_answer(Some(&json!({
            "protocolVersion": "2025-06-18",
            "serverInfo": {"name": "fs"},
        })));
        let peer = CallPeer::of(Some(&json!({"name": "x"})), &facts);
        assert_eq!(peer.reach, Reach::Request { form_mode: false });
        assert_eq!(peer.client_name.as_deref(), Some("vscode"));
        assert_eq!(facts.server_name.as_deref(), Some("fs"));

        facts.version = Some("2025-11-25".into());
        let peer = CallPeer::of(None, &facts);
        assert_eq!(peer.reach, Reach::Request { form_mode: true });

        facts.client_initialize(Some(&json!({"capabilities": {"elicitation": {"url": {}}}})));
        assert_eq!(CallPeer::of(None, &facts).reach, Reach::None);
        facts.client_initialize(Some(&json!({"capabilities": {}})));
        assert_eq!(CallPeer::of(None, &facts).reach, Reach::None);
    }

    #[test]
    fn modern_calls_carry_their_own_capabilities() {
        let facts = PeerFacts {
            client_elicits: true,
            ..PeerFacts::default()
        };
        let params = json!({"name": "x", "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
            "io.modelcontextprotocol/clientInfo": {"name": "agent"},
            "progressToken": 5,
        }});
        let peer = CallPeer::of(Some(&params), &facts);
        assert_eq!(peer.reach, Reach::InputRequired);
        assert_eq!(peer.client_name.as_deref(), Some("agent"));
        let meta = peer.modern_meta.unwrap();
        assert!(!meta.contains_key("progressToken"));
        assert_eq!(meta.len(), 3);

        let params = json!({"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }});
        assert_eq!(CallPeer::of(Some(&params), &facts).reach, Reach::None);
    }

    #[test]
    fn batches_only_in_2025_03_26() {
        let mut facts = PeerFacts::default();
        assert!(!facts.batches_allowed());
        facts.version = Some("2025-03-26".into());
        assert!(facts.batches_allowed());
        facts.version = Some("2025-06-18".into());
        assert!(!facts.batches_allowed());
    }
}
