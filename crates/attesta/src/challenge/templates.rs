//! The active domain profile's challenge templates for one action, rendered
//! the way the built-in quiz and teach-back ask them.

use super::ChallengeType;
use crate::channel::sanitize_for_display;
use crate::context::ActionContext;
use crate::domain::DomainProfile;
use crate::risk::RiskLevel;

/// One template rendered for one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rendered {
    /// The question, placeholders filled, made displayable.
    pub(super) text: String,
    /// Terms a good answer contains, placeholders filled; empty and
    /// unfillable hints are already gone (see
    /// [`crate::domain::ChallengeTemplate::render_hints`]).
    pub(super) hints: Vec<String>,
}

/// The templates of `kind` that `profile` asks at `level`, rendered for
/// `ctx` in the environment it names, most severe first: a template written
/// for a higher minimum level comes before one for a lower level, and within
/// a level the profile's order holds. When there is room for one question
/// only, it is the one the domain wrote for actions this risky.
pub(super) fn rendered(
    profile: &DomainProfile,
    kind: ChallengeType,
    ctx: &ActionContext,
    level: RiskLevel,
) -> Vec<Rendered> {
    let mut templates = profile.templates_of_type(kind, level);
    // A stable sort, so equal levels keep the profile's order.
    templates.sort_by_key(|t| std::cmp::Reverse(t.min_risk_level));
    templates
        .into_iter()
        .map(|t| Rendered {
            text: sanitize_for_display(&t.render(ctx, &ctx.environment)),
            hints: t.render_hints(ctx, &ctx.environment),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DomainRegistry;

    #[test]
    fn most_severe_first_then_profile_order() {
        let registry = DomainRegistry::with_presets().expect("presets load");
        let devops = registry.get("devops").expect("devops");
        let ctx = ActionContext::new("deploy_service").with_environment("staging");
        let quiz = rendered(devops, ChallengeType::Quiz, &ctx, RiskLevel::High);
        let texts: Vec<_> = quiz.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Has deploy_service been tested outside production? Where?",
                "Which environment will deploy_service change?",
            ]
        );
        assert_eq!(
            quiz[1].hints,
            ["production", "staging", "development", "ci"]
        );
        let medium = rendered(devops, ChallengeType::Quiz, &ctx, RiskLevel::Medium);
        assert_eq!(medium.len(), 1);
        assert!(rendered(devops, ChallengeType::TeachBack, &ctx, RiskLevel::Medium).is_empty());
    }
}
