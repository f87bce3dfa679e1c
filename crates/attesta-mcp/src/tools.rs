//! What the upstream said about its tools: definitions from `tools/list`
//! answers, the hints drawn from them, which definitions changed since
//! they were pinned, and which names the upstream currently lists (a call
//! to any other name is never forwarded).

use std::collections::{HashMap, HashSet};
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
    /// Whether the proxy has tried listing the tools itself since the
    /// listing was last known to be current.
    tried_listing: AtomicBool,
}

/// Where a `tools/list` answer sits in its listing (pages follow cursors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    /// The request had no cursor: a new listing starts.
    pub(crate) first: bool,
    /// The answer had no `nextCursor`: the listing is complete.
    pub(crate) last: bool,
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
    /// The names of the last complete listing.
    current: HashSet<String>,
    /// The names of a listing whose later pages are still to come. Until it
    /// completes, the previous listing stays in force too.
    building: Option<HashSet<String>>,
    /// The upstream said its tools changed (`notifications/tools/list_changed`)
    /// and nobody has listed them since.
    stale: bool,
}

impl ToolBook {
    /// Records a page of a `tools/list` result (a tool listed again
    /// replaces its old definition). Returns the named tools.
    pub(crate) async fn learn(&self, tools: &[Value], page: Page) -> Vec<String> {
        let mut state = self.state.lock().await;
        state.listed = true;
        state.stale = false;
        let mut names = Vec::new();
        for tool in tools {
            if let Some(name) = tool.get("name").and_then(Value::as_str) {
                state.definitions.insert(name.to_owned(), tool.clone());
                names.push(name.to_owned());
            }
        }
        let mut building = if page.first {
            HashSet::new()
        } else {
            // A later page with no first one seen adds to what is listed.
            state
                .building
                .take()
                .unwrap_or_else(|| state.current.clone())
        };
        building.extend(names.iter().cloned());
        if page.last {
            // Definitions of tools no longer listed are forgotten too.
            state.definitions.retain(|name, _| building.contains(name));
            state.current = building;
        } else {
            state.building = Some(building);
        }
        self.tried_listing.store(false, Ordering::Release);
        names
    }

    /// Whether the upstream currently lists a tool named exactly `tool`.
    pub(crate) async fn lists(&self, tool: &str) -> bool {
        let state = self.state.lock().await;
        state.current.contains(tool) || state.building.as_ref().is_some_and(|b| b.contains(tool))
    }

    /// The listed names, sorted (for messages).
    pub(crate) async fn names(&self) -> Vec<String> {
        let state = self.state.lock().await;
        let mut names: Vec<String> = state
            .current
            .iter()
            .chain(state.building.iter().flatten())
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        names.sort();
        names
    }

    /// The upstream's tools changed: list them again before the next call.
    pub(crate) async fn mark_stale(&self) {
        self.state.lock().await.stale = true;
        self.tried_listing.store(false, Ordering::Release);
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
    /// per listing it needs (an upstream that does not answer would
    /// otherwise delay every call).
    pub(crate) fn first_listing_attempt(&self) -> bool {
        !self.tried_listing.swap(true, Ordering::AcqRel)
    }

    /// Whether the tools have been listed and nothing said they changed
    /// since.
    pub(crate) async fn fresh(&self) -> bool {
        let state = self.state.lock().await;
        state.listed && !state.stale
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
        assert!(!book.fresh().await);
        assert_eq!(book.hints("rm").await, (ToolHints::default(), None));
        let names = book
            .learn(
                &[
                    json!({"name": "rm", "annotations": {"destructiveHint": true}}),
                    json!({"description": "no name"}),
                ],
                WHOLE,
            )
            .await;
        assert_eq!(names, ["rm"]);
        assert!(book.fresh().await);
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

    const WHOLE: Page = Page {
        first: true,
        last: true,
    };

    fn tools(names: &[&str]) -> Vec<Value> {
        names.iter().map(|n| json!({"name": n})).collect()
    }

    #[tokio::test]
    async fn only_names_of_the_current_listing_count() {
        let book = ToolBook::default();
        assert!(!book.lists("a").await, "nothing is listed before a listing");
        book.learn(&tools(&["a", "b"]), WHOLE).await;
        assert!(book.lists("a").await && book.lists("b").await);
        assert!(
            !book.lists("A").await && !book.lists("a ").await,
            "exact names only"
        );
        // A new listing in two pages: the old one holds until it completes.
        let first = Page {
            first: true,
            last: false,
        };
        book.learn(&tools(&["a"]), first).await;
        assert!(book.lists("b").await, "still listed while pages come");
        book.learn(
            &tools(&["c"]),
            Page {
                first: false,
                last: true,
            },
        )
        .await;
        assert_eq!(book.names().await, ["a", "c"]);
        assert!(!book.lists("b").await, "b is gone from the new listing");
        assert_eq!(book.hints("b").await.0, ToolHints::default());
    }

    #[tokio::test]
    async fn a_change_notice_makes_the_listing_stale_until_listed_again() {
        let book = ToolBook::default();
        book.learn(&tools(&["a"]), WHOLE).await;
        assert!(book.first_listing_attempt());
        assert!(!book.first_listing_attempt());
        book.mark_stale().await;
        assert!(!book.fresh().await);
        assert!(book.lists("a").await, "the old names still count meanwhile");
        assert!(book.first_listing_attempt(), "the proxy may list again");
        book.learn(&tools(&["a", "z"]), WHOLE).await;
        assert!(book.fresh().await && book.lists("z").await);
    }
}
