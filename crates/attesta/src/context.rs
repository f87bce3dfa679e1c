//! [`ActionContext`]: everything Attesta knows about one action an agent wants to run.

use chrono::{DateTime, Local};
use serde::{Deserialize, Serialize};

use crate::risk::RiskLevel;
use crate::value::{Value, ValueMap};

/// One intercepted action: which function or tool, with which arguments, on
/// behalf of which agent, in which environment.
///
/// Only `function_name` is required; everything else has a sensible default.
/// The JSON form (used by `attesta risk score`) has the same field names.
///
/// ```
/// use attesta::ActionContext;
/// let ctx = ActionContext::new("deploy")
///     .with_arg("prod")
///     .with_kwarg("version", "2.0");
/// assert_eq!(ctx.description(), "deploy('prod', version='2.0')");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionContext {
    /// The function or tool name, qualified if the caller has one (`Class.method`).
    pub function_name: String,
    /// Positional arguments, in call order.
    #[serde(default)]
    pub args: Vec<Value>,
    /// Keyword arguments, in call order.
    #[serde(default)]
    pub kwargs: ValueMap,
    /// The function's documentation; scanned for risk keywords.
    #[serde(default)]
    pub function_doc: Option<String>,
    /// Caller-supplied risk hints (`{"pii": true, "rows": 50000}`).
    #[serde(default)]
    pub hints: ValueMap,
    /// The agent asking for the action; enables per-agent trust.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The agent's session, carried into the audit record.
    #[serde(default)]
    pub session_id: Option<String>,
    /// `production`, `staging`, `ci`, `development`, or any other name.
    /// Empty means "not said": the gate then uses its default environment
    /// (the policy's `default_environment`, else the detected one).
    #[serde(default)]
    pub environment: String,
    /// When the action was intercepted; the gate stamps it if absent.
    #[serde(default)]
    pub timestamp: Option<DateTime<Local>>,
    /// Source code of the gated function, if the integration has it.
    #[serde(default)]
    pub source_code: Option<String>,
    /// Free-form data carried into the audit record. Never read as policy.
    #[serde(default)]
    pub metadata: ValueMap,
    /// A risk level fixed by trusted integration code (for example an MCP
    /// tool pinned in the operator's configuration).
    ///
    /// Unlike the reference implementation, this is not a metadata key: data
    /// that arrives from an agent can never set it, because it is not part of
    /// the serialised form.
    #[serde(skip)]
    pub trusted_risk_override: Option<RiskLevel>,
    /// Set by trusted integration code that knows the action must not run
    /// (for example an MCP tool the server never listed): the gate denies
    /// it without asking anyone, in every mode, and audits why. Like
    /// [`ActionContext::trusted_risk_override`] it is not serialised, so an
    /// agent's data cannot set it (nor clear it).
    #[serde(skip)]
    pub trusted_refusal: Option<String>,
}

impl ActionContext {
    /// A context for `function_name` with no arguments and no environment.
    pub fn new(function_name: impl Into<String>) -> Self {
        Self {
            function_name: function_name.into(),
            args: Vec::new(),
            kwargs: ValueMap::new(),
            function_doc: None,
            hints: ValueMap::new(),
            agent_id: None,
            session_id: None,
            environment: String::new(),
            timestamp: None,
            source_code: None,
            metadata: ValueMap::new(),
            trusted_risk_override: None,
            trusted_refusal: None,
        }
    }

    /// Adds a positional argument.
    #[must_use]
    pub fn with_arg(mut self, value: impl Into<Value>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Adds a keyword argument.
    #[must_use]
    pub fn with_kwarg(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.kwargs.insert(name.into(), value.into());
        self
    }

    /// Sets the function documentation.
    #[must_use]
    pub fn with_doc(mut self, doc: impl Into<String>) -> Self {
        self.function_doc = Some(doc.into());
        self
    }

    /// Adds a risk hint.
    #[must_use]
    pub fn with_hint(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.hints.insert(name.into(), value.into());
        self
    }

    /// Sets the requesting agent.
    #[must_use]
    pub fn with_agent(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }

    /// Sets the session.
    #[must_use]
    pub fn with_session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Sets the environment name.
    #[must_use]
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = environment.into();
        self
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Pins the risk level from trusted code (see
    /// [`ActionContext::trusted_risk_override`]).
    #[must_use]
    pub fn with_trusted_risk_override(mut self, level: RiskLevel) -> Self {
        self.trusted_risk_override = Some(level);
        self
    }

    /// Makes the gate deny this action without asking anyone, for `reason`
    /// (see [`ActionContext::trusted_refusal`]).
    #[must_use]
    pub fn with_trusted_refusal(mut self, reason: impl Into<String>) -> Self {
        self.trusted_refusal = Some(reason.into());
        self
    }

    /// The call as Python would print it: `name(repr(arg), ..., key=repr(value), ...)`.
    ///
    /// This exact string is stored in audit records as `action_description`
    /// (cut at [`MAX_DESCRIPTION_CHARS`](crate::audit::MAX_DESCRIPTION_CHARS)
    /// characters when longer), so it follows Python's `repr` rules (see
    /// [`Value::py_repr`]).
    pub fn description(&self) -> String {
        // Room for typical arguments, so building the string rarely
        // reallocates (it is built for every audit record).
        let mut out = String::with_capacity(self.function_name.len() + 64);
        out.push_str(&self.function_name);
        out.push('(');
        let mut first = true;
        for arg in &self.args {
            if !first {
                out.push_str(", ");
            }
            first = false;
            arg.write_py_repr(&mut out);
        }
        for (name, value) in &self.kwargs {
            if !first {
                out.push_str(", ");
            }
            first = false;
            out.push_str(name);
            out.push('=');
            value.write_py_repr(&mut out);
        }
        out.push(')');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_matches_fixture_forms() {
        let ctx = ActionContext::new("delete_records")
            .with_arg("table_a")
            .with_arg(100)
            .with_kwarg("cascade", true)
            .with_kwarg("dry_run", false);
        assert_eq!(
            ctx.description(),
            "delete_records('table_a', 100, cascade=True, dry_run=False)"
        );
        assert_eq!(ActionContext::new("get_users").description(), "get_users()");
        let ctx = ActionContext::new("f").with_kwarg("x", Value::Null);
        assert_eq!(ctx.description(), "f(x=None)");
    }

    #[test]
    fn json_form_requires_only_function_name_and_rejects_unknown_fields() {
        let ctx: ActionContext =
            serde_json::from_str(r#"{"function_name":"get_users"}"#).expect("minimal context");
        assert_eq!(ctx.environment, "");
        assert!(ctx.args.is_empty());
        let err = serde_json::from_str::<ActionContext>(r#"{"function_name":"x","argz":[]}"#)
            .expect_err("unknown field");
        assert!(err.to_string().contains("argz"), "{err}");
    }

    #[test]
    fn trusted_override_cannot_come_from_json() {
        let ctx: ActionContext = serde_json::from_str(
            r#"{"function_name":"x","metadata":{"_attesta_trusted_risk_override":"low"}}"#,
        )
        .expect("valid");
        assert_eq!(ctx.trusted_risk_override, None);
    }
}
