//! Challenge templates: questions a domain asks about an action (§8.3).

use serde::Serialize;

use crate::challenge::ChallengeType;
use crate::context::ActionContext;
use crate::risk::RiskLevel;

/// A question a domain asks from some risk level up.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ChallengeTemplate {
    /// The question, with `{placeholders}` (see [`ChallengeTemplate::render`]).
    pub question_template: String,
    /// Terms a good answer contains (compared case-insensitively).
    pub answer_hints: Vec<String>,
    /// The placeholders the author meant to use; documentation only.
    pub context_vars: Vec<String>,
    /// `quiz` or `teach_back`.
    pub challenge_type: ChallengeType,
    /// The lowest level the question is asked at (default `high`).
    pub min_risk_level: RiskLevel,
}

impl ChallengeTemplate {
    /// The question with placeholders filled from the call:
    /// `{function_name}` and `{action}` (the same), `{environment}`,
    /// `{agent_id}`, `{description}` and each keyword argument by name
    /// (Python `str()` of the value). An unknown placeholder stays as
    /// written, so a template never fails to render (the reference raised
    /// a `KeyError` on its own built-in templates).
    ///
    /// `environment` is the one the gate decided on, which may differ from
    /// `ctx.environment` when the call names none.
    ///
    /// ```
    /// # use attesta::domain::DomainRegistry;
    /// # use attesta::ActionContext;
    /// # use attesta::RiskLevel;
    /// let registry = DomainRegistry::with_presets().unwrap();
    /// let devops = registry.get("devops").unwrap();
    /// let template = devops.templates_for_level(RiskLevel::Medium)[0];
    /// let ctx = ActionContext::new("deploy_to_prod");
    /// assert!(template.render(&ctx, "production").contains("deploy_to_prod"));
    /// ```
    pub fn render(&self, ctx: &ActionContext, environment: &str) -> String {
        render_placeholders(&self.question_template, |name| {
            placeholder(ctx, environment, name)
        })
    }

    /// The answer hints with placeholders filled as in
    /// [`ChallengeTemplate::render`], so a hint can be a fact of the call
    /// (`{table}`: the answer must name the table). A hint that renders
    /// empty is dropped, and so is one naming a placeholder the call does
    /// not have: an empty hint would be found in every answer, and an
    /// unfilled one is not what the author meant.
    ///
    /// ```
    /// # use attesta::domain::DomainRegistry;
    /// # use attesta::{ActionContext, RiskLevel};
    /// let registry = DomainRegistry::with_presets().unwrap();
    /// let devops = registry.get("devops").unwrap();
    /// let template = devops.templates_for_level(RiskLevel::High)[0];
    /// let ctx = ActionContext::new("deploy_service");
    /// assert!(template.render_hints(&ctx, "staging").contains(&"rollback".to_owned()));
    /// ```
    pub fn render_hints(&self, ctx: &ActionContext, environment: &str) -> Vec<String> {
        self.answer_hints
            .iter()
            .filter_map(|hint| {
                let unknown = std::cell::Cell::new(false);
                let rendered = render_placeholders(hint, |name| {
                    let value = placeholder(ctx, environment, name);
                    unknown.set(unknown.get() || value.is_none());
                    value
                });
                let rendered = rendered.trim();
                (!unknown.get() && !rendered.is_empty()).then(|| rendered.to_owned())
            })
            .collect()
    }
}

/// The value of one `{placeholder}` for a call, if the name is known.
fn placeholder(ctx: &ActionContext, environment: &str, name: &str) -> Option<String> {
    match name {
        "function_name" | "action" => Some(ctx.function_name.clone()),
        "environment" => Some(environment.to_owned()),
        "agent_id" => Some(ctx.agent_id.clone().unwrap_or_default()),
        "description" => Some(ctx.description()),
        other => ctx.kwargs.get(other).map(crate::value::Value::py_str),
    }
}

/// Replaces `{name}` with `lookup(name)` where it gives a value; `{{` and
/// `}}` are literal braces, as in Python's `str.format`.
fn render_placeholders(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('{')
            && let Some(end) = tail.find('}')
        {
            let name = &tail[1..end];
            match lookup(name.trim()) {
                Some(value) => out.push_str(&value),
                None => out.push_str(&tail[..=end]),
            }
            rest = &tail[end + 1..];
            continue;
        }
        out.push_str(&tail[..1]);
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> ChallengeTemplate {
        ChallengeTemplate {
            question_template: text.to_owned(),
            answer_hints: vec![],
            context_vars: vec![],
            challenge_type: ChallengeType::Quiz,
            min_risk_level: RiskLevel::High,
        }
    }

    #[test]
    fn placeholders_are_filled_and_unknown_ones_kept() {
        let ctx = ActionContext::new("drop_table")
            .with_kwarg("table", "users")
            .with_kwarg("rows", 3)
            .with_agent("bot");
        let t = template(
            "{action} on {table} ({rows} rows) in {environment} by {agent_id}: {unknown} {{x}} {",
        );
        assert_eq!(
            t.render(&ctx, "staging"),
            "drop_table on users (3 rows) in staging by bot: {unknown} {x} {"
        );
        assert_eq!(template("{function_name}}").render(&ctx, ""), "drop_table}");
    }

    #[test]
    fn hints_are_rendered_and_empty_or_unfilled_ones_dropped() {
        let ctx = ActionContext::new("drop_table").with_kwarg("table", "users");
        let mut t = template("Which table?");
        t.answer_hints = [
            "{table}",
            " Backup ",
            "{agent_id}",
            "{environment}",
            "{runbook}",
            "",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(t.render_hints(&ctx, ""), ["users", "Backup"]);
        assert_eq!(
            t.render_hints(&ctx, "staging"),
            ["users", "Backup", "staging"]
        );
    }
}
