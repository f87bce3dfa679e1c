//! Turning an MCP `tools/call` into an Attesta decision, and a denial into
//! an MCP tool result.

use std::collections::HashMap;
use std::fmt;

use attesta::challenge::Unanswered;
use attesta::{ActionContext, Attesta, Decision, RiskLevel};
use serde_json::{Map, Value, json};

/// What the upstream's `tools/list` said about a tool. Annotations come from
/// the MCP server, so they may only *raise* risk, never lower it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolHints {
    /// `annotations.readOnlyHint == true`. Recorded, never used to lower risk.
    pub read_only: bool,
    /// `annotations.destructiveHint == true`: the call is at least HIGH.
    pub destructive: bool,
    /// The tool's definition differs from the one pinned when it was first
    /// seen: the call is CRITICAL until `attesta mcp pins accept`.
    pub definition_changed: bool,
}

impl ToolHints {
    /// Reads the hints of one `tools/list` entry (`{"name", "annotations"}`).
    pub fn from_tool(tool: &Value) -> Option<(String, Self)> {
        let name = tool.get("name")?.as_str()?.to_owned();
        let flag = |key: &str| {
            tool.get("annotations")
                .and_then(|a| a.get(key))
                .and_then(Value::as_bool)
                == Some(true)
        };
        Some((
            name,
            Self {
                read_only: flag("readOnlyHint"),
                destructive: flag("destructiveHint"),
                definition_changed: false,
            },
        ))
    }
}

/// A `tools/call` request's validated parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// `params.name`.
    pub name: String,
    /// `params.arguments`, in the order they were sent (empty if absent).
    pub arguments: Map<String, Value>,
}

impl ToolCall {
    /// Validates `params`; the error is the message of a `-32602` reply.
    pub fn from_params(params: Option<&Value>) -> Result<Self, String> {
        let Some(Value::Object(params)) = params else {
            return Err(
                "invalid params: tools/call needs a `params` object with `name` and \
                        `arguments`"
                    .to_owned(),
            );
        };
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Err(
                "invalid params: tools/call needs `params.name`, the tool's name".to_owned(),
            );
        };
        let arguments = match params.get("arguments") {
            None => Map::new(),
            Some(Value::Object(arguments)) => arguments.clone(),
            Some(_) => {
                return Err(
                    "invalid params: `params.arguments` must be an object of named arguments"
                        .to_owned(),
                );
            }
        };
        Ok(Self {
            name: name.to_owned(),
            arguments,
        })
    }
}

/// The engine plus the operator's choices for this proxy session.
#[derive(Clone)]
pub struct ToolGate {
    /// Scores, asks and audits.
    engine: Attesta,
    /// `--agent-id`; otherwise the client's `initialize` `clientInfo.name`.
    agent_id: Option<String>,
    /// `--environment`; otherwise the engine's default.
    environment: Option<String>,
    /// `--risk-override TOOL=LEVEL`: exact levels pinned by the operator.
    overrides: HashMap<String, RiskLevel>,
    /// One id per proxy process, so the audit trail groups its calls.
    session_id: String,
}

impl fmt::Debug for ToolGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolGate")
            .field("agent_id", &self.agent_id)
            .field("environment", &self.environment)
            .field("overrides", &self.overrides)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl ToolGate {
    /// A gate with a fresh session id and no overrides.
    pub fn new(engine: Attesta) -> Self {
        Self {
            engine,
            agent_id: None,
            environment: None,
            overrides: HashMap::new(),
            session_id: format!("mcp-{}", uuid::Uuid::new_v4()),
        }
    }

    /// Fixes the agent id (instead of the client's `clientInfo.name`).
    #[must_use]
    pub fn with_agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }

    /// Fixes the environment (instead of the policy's default).
    #[must_use]
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Pins `tool` to exactly `level`, whatever the scorer or annotations say.
    #[must_use]
    pub fn with_risk_override(mut self, tool: impl Into<String>, level: RiskLevel) -> Self {
        self.overrides.insert(tool.into(), level);
        self
    }

    /// The engine that decides (and audits).
    pub fn engine(&self) -> &Attesta {
        &self.engine
    }

    /// The per-process session id written to audit records.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The context Attesta evaluates for `call`.
    pub fn context(
        &self,
        call: &ToolCall,
        hints: ToolHints,
        client_name: Option<&str>,
    ) -> ActionContext {
        let mut ctx = ActionContext::new(call.name.clone())
            .with_session(self.session_id.clone())
            .with_metadata("source", "mcp");
        for (key, value) in &call.arguments {
            ctx = ctx.with_kwarg(key.clone(), attesta::Value::from(value.clone()));
        }
        if let Some(agent) = self.agent_id.as_deref().or(client_name) {
            ctx = ctx.with_agent(agent);
        }
        if let Some(environment) = &self.environment {
            ctx = ctx.with_environment(environment.clone());
        }
        if hints.definition_changed {
            // A silently changed tool is not the tool the operator pinned.
            return ctx
                .with_metadata("tool_definition_changed", true)
                .with_trusted_risk_override(RiskLevel::Critical);
        }
        if let Some(level) = self.overrides.get(&call.name) {
            return ctx.with_trusted_risk_override(*level);
        }
        // A name that only resembles a pinned one (case, spacing, invisible
        // or look-alike characters) gets the pin as a floor: at least as
        // high, never lower.
        let mut floor = None;
        if let Some((pinned, level)) = self.resembled_override(&call.name) {
            ctx = ctx.with_metadata("resembles_risk_override", pinned.to_owned());
            floor = Some(level);
        }
        if hints.destructive {
            floor = floor.max(Some(RiskLevel::High));
        }
        if let Some(floor) = floor {
            // A floor, not a pin: keep a higher computed level.
            let (risk, _, _) = self.engine.preview(&ctx);
            ctx = ctx.with_trusted_risk_override(risk.level.max(floor));
        }
        ctx
    }

    /// The highest `--risk-override` whose tool name `name` is a near-miss
    /// of, with that tool name.
    fn resembled_override(&self, name: &str) -> Option<(&str, RiskLevel)> {
        if self.overrides.is_empty() {
            return None;
        }
        let key = attesta::names::fold(name);
        self.overrides
            .iter()
            .filter(|(pinned, _)| attesta::names::fold(pinned) == key)
            .max_by_key(|(_, level)| **level)
            .map(|(pinned, level)| (pinned.as_str(), *level))
    }

    /// Decides `call`.
    pub async fn decide(
        &self,
        call: &ToolCall,
        hints: ToolHints,
        client_name: Option<&str>,
    ) -> Decision {
        let ctx = self.context(call, hints, client_name);
        self.engine.evaluate(&ctx).await
    }
}

/// The `tools/call` result the client gets instead of the tool's: an MCP
/// `CallToolResult` with `isError: true`, which agents read and act on.
pub fn denial_result(tool: &str, decision: &Decision) -> Value {
    let audit = decision
        .audit_entry_id
        .as_deref()
        .unwrap_or("none (not audited)");
    let mut text = format!(
        "Attesta did not allow the tool call `{tool}` (verdict: {verdict}; risk: {level}, \
         score {score:.2}). Reason: {reason}",
        verdict = decision.verdict,
        level = decision.risk.level,
        score = decision.risk.score,
        reason = decision.reason.trim_end_matches('.'),
    );
    text.push('.');
    let nobody_reachable = !decision.was_refused()
        && decision
            .challenge_result
            .as_ref()
            .is_none_or(|result| result.unanswered == Some(Unanswered::NoChannel));
    if nobody_reachable {
        text.push_str(
            " No human could be asked: approving it needs an MCP client that supports form \
             elicitation, or a person at the proxy's controlling terminal (start the MCP \
             client from a terminal).",
        );
    }
    text.push_str(" Audit entry: ");
    text.push_str(audit);
    text.push('.');
    json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
        "_meta": {"attesta/decision": {
            "verdict": decision.verdict.as_str(),
            "risk_level": decision.risk.level.as_str(),
            "risk_score": decision.risk.score,
            "audit_entry_id": decision.audit_entry_id,
        }},
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::Arc;

    use attesta::audit::MemoryAuditSink;

    use super::*;

    fn call(json: &Value) -> ToolCall {
        ToolCall::from_params(Some(json)).unwrap()
    }

    #[test]
    fn params_must_be_an_object_with_a_name_and_object_arguments() {
        assert!(ToolCall::from_params(None).is_err());
        assert!(ToolCall::from_params(Some(&Value::Null)).is_err());
        assert!(ToolCall::from_params(Some(&json!({"arguments": {}}))).is_err());
        assert!(ToolCall::from_params(Some(&json!({"name": "x", "arguments": null}))).is_err());
        assert!(ToolCall::from_params(Some(&json!({"name": "x", "arguments": [1]}))).is_err());
        assert_eq!(call(&json!({"name": "x"})).arguments, Map::new());
    }

    #[test]
    fn context_carries_arguments_in_order_agent_session_and_source() {
        let gate = ToolGate::new(Attesta::builder().build().unwrap()).with_environment("ci");
        let c = call(&json!({"name": "write", "arguments": {"z": 1, "a": "x"}}));
        let ctx = gate.context(&c, ToolHints::default(), Some("claude-code"));
        assert_eq!(ctx.kwargs.keys().collect::<Vec<_>>(), ["z", "a"]);
        assert_eq!(ctx.agent_id.as_deref(), Some("claude-code"));
        assert_eq!(ctx.environment, "ci");
        assert_eq!(ctx.session_id.as_deref(), Some(gate.session_id()));
        assert_eq!(
            ctx.metadata.get("source"),
            Some(&attesta::Value::from("mcp"))
        );
        assert_eq!(ctx.trusted_risk_override, None);

        let pinned = gate.clone().with_agent_id("ops-bot");
        assert_eq!(
            pinned
                .context(&c, ToolHints::default(), Some("claude-code"))
                .agent_id
                .as_deref(),
            Some("ops-bot")
        );
    }

    #[test]
    fn annotations_only_raise_and_operator_pins_win() {
        let gate = ToolGate::new(Attesta::builder().build().unwrap())
            .with_risk_override("pinned", RiskLevel::Low);
        let destructive = ToolHints {
            destructive: true,
            ..ToolHints::default()
        };
        let read_only = ToolHints {
            read_only: true,
            ..ToolHints::default()
        };
        let c = call(&json!({"name": "get_weather", "arguments": {"city": "Oslo"}}));
        let raised = gate.context(&c, destructive, None).trusted_risk_override;
        assert!(raised >= Some(RiskLevel::High));
        assert_eq!(
            gate.context(&c, read_only, None).trusted_risk_override,
            None
        );
        let p = call(&json!({"name": "pinned"}));
        assert_eq!(
            gate.context(&p, destructive, None).trusted_risk_override,
            Some(RiskLevel::Low)
        );
    }

    #[test]
    fn near_misses_of_a_pinned_tool_are_pinned_at_least_as_high_never_lower() {
        let gate = ToolGate::new(Attesta::builder().build().unwrap())
            .with_risk_override("danger", RiskLevel::Critical)
            .with_risk_override("drop_table", RiskLevel::Low);
        for name in [
            "DANGER",
            "danger ",
            "d\u{430}nger",
            "dan\u{200b}ger",
            "\u{ff44}anger",
        ] {
            let c = call(&json!({"name": name}));
            let ctx = gate.context(&c, ToolHints::default(), None);
            assert_eq!(
                ctx.trusted_risk_override,
                Some(RiskLevel::Critical),
                "{name:?}"
            );
            assert_eq!(
                ctx.metadata.get("resembles_risk_override"),
                Some(&attesta::Value::from("danger"))
            );
        }
        // A near-miss of a LOW pin is scored as itself, not pinned low.
        let c = call(&json!({"name": "DROP_TABLE", "arguments": {"sql": "DROP TABLE users"}}));
        let scored = gate.context(&c, ToolHints::default(), None);
        let plain = ActionContext::new("DROP_TABLE").with_kwarg("sql", "DROP TABLE users");
        let computed = gate.engine().preview(&plain).0.level;
        assert!(
            computed > RiskLevel::Low,
            "the call itself scores {computed:?}"
        );
        assert_eq!(scored.trusted_risk_override, Some(computed));
        let exact = gate.context(
            &call(&json!({"name": "drop_table"})),
            ToolHints::default(),
            None,
        );
        assert_eq!(
            exact.trusted_risk_override,
            Some(RiskLevel::Low),
            "exact pins stay"
        );
    }

    #[tokio::test]
    async fn a_denial_without_a_channel_names_risk_reason_channel_and_audit_id() {
        let sink = Arc::new(MemoryAuditSink::new());
        let engine = Attesta::builder().audit(sink.clone()).build().unwrap();
        let gate = ToolGate::new(engine).with_risk_override("drop_table", RiskLevel::High);
        let c = call(&json!({"name": "drop_table", "arguments": {"table": "users"}}));
        let decision = gate.decide(&c, ToolHints::default(), None).await;
        assert!(!decision.is_approved());
        let result = denial_result("drop_table", &decision);
        assert_eq!(result["isError"], true);
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("`drop_table`"), "{text}");
        assert!(text.contains("risk: high"), "{text}");
        assert!(text.contains("terminal"), "{text}");
        assert!(text.contains("elicitation"), "{text}");
        let id = decision.audit_entry_id.clone().unwrap();
        assert!(text.contains(&id), "{text}");
        assert_eq!(sink.records().len(), 1);
    }
}
