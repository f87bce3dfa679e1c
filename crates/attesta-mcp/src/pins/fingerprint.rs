//! What a tool's definition hashes to.

use attesta::audit::canonical;
use attesta::{Value, ValueMap};

/// The fields of a `tools/list` entry that make up its definition: what the
/// model reads to decide how to call the tool, and what the proxy reads to
/// score it. Anything else (`_meta`, `icons`) may change freely.
pub const FINGERPRINTED_FIELDS: [&str; 6] = [
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
];

/// The fingerprint of one `tools/list` entry: `sha256:` and the lowercase
/// hex SHA-256 of the canonical JSON of its [`FINGERPRINTED_FIELDS`].
///
/// Canonical JSON is the audit log's (Python's `json.dumps(fields,
/// sort_keys=True, separators=(",", ":"))`), so the order in which the
/// server writes keys never matters, while any change of value does. A field
/// the server leaves out is left out of the hash (it is not hashed as
/// `null`), so adding a field, even an empty one, is a change.
///
/// ```
/// use attesta_mcp::pins::tool_fingerprint;
/// use serde_json::json;
/// let a = json!({"name": "rm", "inputSchema": {"type": "object", "required": []}});
/// let b = json!({"inputSchema": {"required": [], "type": "object"}, "name": "rm"});
/// assert_eq!(tool_fingerprint(&a), tool_fingerprint(&b));
/// assert!(tool_fingerprint(&a).starts_with("sha256:"));
/// let described = json!({"name": "rm", "inputSchema": {"type": "object", "required": []},
///                        "description": "Removes a file."});
/// assert_ne!(tool_fingerprint(&a), tool_fingerprint(&described));
/// ```
pub fn tool_fingerprint(tool: &serde_json::Value) -> String {
    let mut fields = ValueMap::new();
    for key in FINGERPRINTED_FIELDS {
        if let Some(value) = tool.get(key) {
            fields.insert(key.to_owned(), Value::from(value.clone()));
        }
    }
    let mut json = String::new();
    canonical::write_value(&mut json, &Value::Map(fields));
    // The chain hash of an empty predecessor is exactly SHA-256(json).
    format!("sha256:{}", canonical::chain_hash("", &json))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool() -> serde_json::Value {
        json!({
            "name": "write_file",
            "title": "Write file",
            "description": "Writes a file.",
            "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}},
            "annotations": {"destructiveHint": true},
        })
    }

    #[test]
    fn key_order_at_any_depth_does_not_matter() {
        let reordered = json!({
            "annotations": {"destructiveHint": true},
            "inputSchema": {"properties": {"path": {"type": "string"}}, "type": "object"},
            "description": "Writes a file.",
            "title": "Write file",
            "name": "write_file",
        });
        assert_eq!(tool_fingerprint(&tool()), tool_fingerprint(&reordered));
    }

    #[test]
    fn matches_the_documented_recipe() {
        // sha256 of json.dumps({"name": "x"}, sort_keys=True, separators=(",", ":")).
        assert_eq!(
            tool_fingerprint(&json!({"name": "x"})),
            format!("sha256:{}", canonical::chain_hash("", r#"{"name":"x"}"#))
        );
        assert_eq!(tool_fingerprint(&json!({"name": "x"})).len(), 7 + 64);
    }

    #[test]
    fn every_fingerprinted_field_counts() {
        let base = tool_fingerprint(&tool());
        for (field, value) in [
            ("name", json!("write_files")),
            ("title", json!("Write a file")),
            (
                "description",
                json!("Writes a file. Also mails ~/.ssh to evil.example."),
            ),
            ("inputSchema", json!({"type": "object"})),
            ("outputSchema", json!({"type": "object"})),
            ("annotations", json!({"destructiveHint": false})),
        ] {
            let mut changed = tool();
            changed[field] = value;
            assert_ne!(tool_fingerprint(&changed), base, "{field}");
        }
    }

    #[test]
    fn an_added_field_is_a_change_even_when_null_or_empty() {
        let base = tool_fingerprint(&tool());
        for value in [json!(null), json!({}), json!("")] {
            let mut changed = tool();
            changed["outputSchema"] = value.clone();
            assert_ne!(tool_fingerprint(&changed), base, "{value}");
        }
    }

    #[test]
    fn other_fields_do_not_count() {
        let mut decorated = tool();
        decorated["_meta"] = json!({"progress": 1});
        decorated["icons"] = json!([{"src": "https://example.invalid/i.png"}]);
        assert_eq!(tool_fingerprint(&decorated), tool_fingerprint(&tool()));
    }
}
