//! What the upstream said about its tools: definitions from `tools/list`
//! answers, the hints drawn from them, and which definitions changed since
//! they were pinned.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use tokio::sync::Mutex;

use crate::gate::ToolHints;

/// Tool definitions seen this session.
#[derive(Debug, Default)]
pub(crate) struct ToolBook {
    state: Mutex<State>,
    /// Held while the proxy lists the tools itself, so concurrent calls wait
    /// for one listing instead of starting several.
    pub(crate) listing: Mutex<()>,
    /// Whether the proxy has tried listing the tools itself.
    tried_listing: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    definitions: HashMap<String, Value>,
    /// Tools whose definition differs from the accepted pin, with the
    /// fingerprint of the definition listed.
    changed: HashMap<String, String>,
    /// The pins could not be checked: every tool counts as changed.
    all_changed: bool,
    /// Whether any `tools/list` answer has been read.
    listed: bool,
}

impl ToolBook {
    /// Records a page of a `tools/list` result (pages add up; a tool listed
    /// again replaces its old definition). Returns the named tools.
    pub(crate) async fn learn(&self, tools: &[Value]) -> Vec<String> {
        let mut state = self.state.lock().await;
        state.listed = true;
        let mut names = Vec::new();
        for tool in tools {
            if let Some(name) = tool.get("name").and_then(Value::as_str) {
                state.definitions.insert(name.to_owned(), tool.clone());
                names.push(name.to_owned());
            }
        }
        names
    }

    /// Marks `tool` as changed (or no longer changed) since its pin.
    /// Marks `tool` as changed since its pin (with the fingerprint of the
    /// definition now listed), or as matching it (`None`).
    pub(crate) async fn set_changed(&self, tool: &str, seen: Option<String>) {
        let mut state = self.state.lock().await;
        match seen {
            Some(seen) => state.changed.insert(tool.to_owned(), seen),
            None => state.changed.remove(tool),
        };
    }

    /// The pins cannot be checked: from now on every tool counts as changed.
    pub(crate) async fn set_all_changed(&self) {
        self.state.lock().await.all_changed = true;
    }

    /// True the first time only: the proxy lists tools itself at most once
    /// (an upstream that does not answer would otherwise delay every call).
    pub(crate) fn first_listing_attempt(&self) -> bool {
        !self.tried_listing.swap(true, Ordering::AcqRel)
    }

    /// Whether any `tools/list` answer has been read this session.
    pub(crate) async fn listed(&self) -> bool {
        self.state.lock().await.listed
    }

    /// The hints for `tool` (defaults for a tool never listed), and the
    /// fingerprint of its listed definition if that differs from its pin.
    pub(crate) async fn hints(&self, tool: &str) -> (ToolHints, Option<String>) {
        let state = self.state.lock().await;
        let mut hints = state
            .definitions
            .get(tool)
            .and_then(ToolHints::from_tool)
            .map(|(_, hints)| hints)
            .unwrap_or_default();
        let seen = state.changed.get(tool).cloned();
        hints.definition_changed = state.all_changed || seen.is_some();
        (hints, seen)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn definitions_give_hints_and_changes_are_tracked() {
        let book = ToolBook::default();
        assert!(!book.listed().await);
        assert_eq!(book.hints("rm").await, (ToolHints::default(), None));
        let names = book
            .learn(&[
                json!({"name": "rm", "annotations": {"destructiveHint": true}}),
                json!({"description": "no name"}),
            ])
            .await;
        assert_eq!(names, ["rm"]);
        assert!(book.listed().await);
        assert!(book.hints("rm").await.0.destructive);
        book.set_changed("rm", Some("sha256:x".into())).await;
        let (hints, seen) = book.hints("rm").await;
        assert!(hints.definition_changed);
        assert_eq!(seen.as_deref(), Some("sha256:x"));
        book.set_changed("rm", None).await;
        assert!(!book.hints("rm").await.0.definition_changed);
        book.set_all_changed().await;
        assert!(book.hints("anything").await.0.definition_changed);
    }
}
