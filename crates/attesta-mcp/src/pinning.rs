//! Reading `tools/list` answers: tool definitions for the gate, and (with a
//! pin store) whether a tool changed since it was first seen.

use serde_json::Value;

use crate::links::Links;

/// Reads one `tools/list` result (one page), whoever asked for it.
pub(crate) async fn read_tools_list(links: &Links, result: &Value) {
    let Some(tools) = result.get("tools").and_then(Value::as_array) else {
        return;
    };
    links.tools.learn(tools).await;
}
