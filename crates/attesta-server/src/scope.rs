//! Who may approve what: scopes that reserve actions for groups of
//! approvers (`drop_*` only for `dba`).
//!
//! An approver may answer an approval whose action matches a scope only if
//! they belong to one of that scope's groups; when several scopes match,
//! every one of them must be met. Actions no scope matches are open to any
//! approver. Names match as the domain profiles' action globs do, and
//! near-misses of a scoped name (case, look-alikes, invisible characters)
//! are scoped too: a look-alike must never escape a restriction.

use attesta::domain::ActionGlob;

use crate::principal::Principal;

/// One scope: actions matching `actions` need a member of `groups`.
#[derive(Debug, Clone)]
pub struct Scope {
    actions: ActionGlob,
    groups: Vec<String>,
}

impl Scope {
    /// Parses `GLOB=GROUP[,GROUP…]` (`drop_*=dba`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some((glob, groups)) = text.split_once('=') else {
            return Err(format!(
                "`{text}` is not a scope; write ACTIONS=GROUP[,GROUP] (e.g. drop_*=dba)"
            ));
        };
        let actions = ActionGlob::new(glob.trim())
            .map_err(|e| format!("the actions of scope `{text}`: {e}"))?;
        let groups: Vec<String> = groups
            .split(',')
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .collect();
        if groups.is_empty() {
            return Err(format!("scope `{text}` names no group after `=`"));
        }
        for group in &groups {
            crate::principal::check_name("group name", group)?;
        }
        Ok(Self { actions, groups })
    }

    /// The scope as written.
    pub fn describe(&self) -> String {
        format!("{}={}", self.actions.as_str(), self.groups.join(","))
    }
}

/// Why `who` may not approve `action` under `scopes`, if so.
pub fn refusal(scopes: &[Scope], who: &Principal, action: &str) -> Option<String> {
    let unmet: Vec<&Scope> = scopes
        .iter()
        .filter(|s| s.actions.matches_or_resembles(action))
        .filter(|s| !s.groups.iter().any(|g| who.groups.contains(g)))
        .collect();
    let first = unmet.first()?;
    Some(format!(
        "`{action}` may be approved only by members of {} (scope {}); `{}` is in {}",
        first.groups.join(" or "),
        first.describe(),
        who.id,
        if who.groups.is_empty() {
            "no group".to_owned()
        } else {
            who.groups.join(", ")
        }
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::principal::PrincipalKind;

    fn approver(groups: &[&str]) -> Principal {
        Principal {
            id: "alice".into(),
            kind: PrincipalKind::Approver,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            has_totp: false,
            created_at_ms: 0,
            revoked_at_ms: None,
        }
    }

    #[test]
    fn scoped_actions_need_a_member_and_near_misses_are_scoped_too() {
        let scopes = vec![
            Scope::parse("drop_*=dba").unwrap(),
            Scope::parse("deploy_prod=sre, leads").unwrap(),
        ];
        let dba = approver(&["dba"]);
        let sre = approver(&["sre"]);
        assert_eq!(refusal(&scopes, &dba, "drop_table"), None);
        let why = refusal(&scopes, &sre, "drop_table").unwrap();
        assert!(
            why.contains("members of dba") && why.contains("is in sre"),
            "{why}"
        );
        assert!(refusal(&scopes, &sre, "DROP_TABLE").is_some(), "case");
        assert!(
            refusal(&scopes, &sre, "dr\u{43e}p_table").is_some(),
            "Cyrillic o"
        );
        assert_eq!(refusal(&scopes, &sre, "deploy_prod"), None);
        assert!(refusal(&scopes, &dba, "deploy_prod").is_some());
        assert_eq!(
            refusal(&scopes, &sre, "read_file"),
            None,
            "unscoped: anyone"
        );
        assert!(
            refusal(&scopes, &approver(&[]), "drop_x")
                .unwrap()
                .contains("no group")
        );
    }

    #[test]
    fn scopes_parse_with_clear_errors() {
        assert!(
            Scope::parse("drop_*")
                .unwrap_err()
                .contains("ACTIONS=GROUP")
        );
        assert!(Scope::parse("drop_*=").unwrap_err().contains("no group"));
        assert!(Scope::parse("drop_*=d b").is_err());
        assert_eq!(
            Scope::parse(" drop_* = dba ").unwrap().describe(),
            "drop_*=dba"
        );
    }
}
