//! Classifying JSON-RPC lines and building the replies the proxy sends itself.

use serde_json::{Map, Value, json};

use crate::strict::{self, Depth};

/// JSON-RPC "Parse error".
pub(crate) const PARSE_ERROR: i64 = -32700;
/// JSON-RPC "Invalid Request".
pub(crate) const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC "Invalid params".
pub(crate) const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC "Internal error".
pub(crate) const INTERNAL_ERROR: i64 = -32603;

/// What one line holds, as far as the proxy cares.
#[derive(Debug)]
pub(crate) enum Message {
    /// Only whitespace: not a message.
    Blank,
    /// Not JSON at all.
    Malformed,
    /// JSON, but not an object (a batch array, a number, ...).
    NotAnObject,
    /// An object with `method` and `id`.
    Request {
        /// The request id (any JSON value).
        id: Value,
        /// The method name.
        method: String,
        /// The whole message.
        body: Map<String, Value>,
    },
    /// An object with `method` and no `id`.
    Notification {
        /// The method name.
        method: String,
        /// The whole message.
        body: Map<String, Value>,
    },
    /// An object with `id` and no `method`: a response.
    Response {
        /// The id it answers.
        id: Value,
        /// The whole message.
        body: Map<String, Value>,
    },
    /// Any other object.
    Other,
    /// A message peers could read differently, or that breaks a rule the
    /// gateway's safety depends on: answered with `-32600` (when it came
    /// with a usable id), never forwarded.
    Rejected {
        /// The id to answer (`null` if it had none or it was ambiguous).
        id: Value,
        /// What is wrong and what to do, for the error message.
        reason: String,
    },
}

/// Methods the gateway handles itself when a client sends them: a message
/// that a lenient server could read as one of these must be exactly it.
const INTERCEPTED: &[&str] = &[
    "tools/call",
    "tools/list",
    "initialize",
    "server/discover",
    "notifications/cancelled",
];
/// What every id of a request the gateway sends starts with; no peer may
/// use it for ids of its own.
pub(crate) const OWN_ID_PREFIX: &str = "attesta-";

/// Classifies one line from the client (with or without its trailing
/// newline). Everything a lenient parser could read differently is
/// rejected: equal keys anywhere, near-misses of envelope and `params` keys,
/// a `method` that is not a string or that resembles one the gateway
/// intercepts, and ids in the gateway's own namespace.
pub(crate) fn classify(line: &[u8]) -> Message {
    let message = classify_with(line, Depth::Everywhere);
    match &message {
        Message::Request { id, method, .. } => {
            if let Some(reason) = method_near_miss(method) {
                return Message::Rejected {
                    id: id.clone(),
                    reason,
                };
            }
            if is_own_id(id) {
                return Message::Rejected {
                    id: id.clone(),
                    reason: format!(
                        "invalid request: request ids starting with `{OWN_ID_PREFIX}` are \
                         reserved for the Attesta gateway's own requests; use another id"
                    ),
                };
            }
        }
        Message::Notification { method, .. } => {
            if let Some(reason) = method_near_miss(method) {
                return Message::Rejected {
                    id: Value::Null,
                    reason,
                };
            }
        }
        _ => {}
    }
    message
}

/// Classifies one line from the upstream: only its envelope must be
/// unambiguous (the proxy relays a result's data without reading it; see
/// [`is_unambiguous`] for the answers it reads).
pub(crate) fn classify_upstream(line: &[u8]) -> Message {
    classify_with(line, Depth::Envelope)
}

/// Whether no object anywhere in `line` has keys that parsers could read
/// differently, and if not, why.
pub(crate) fn is_unambiguous(line: &[u8]) -> Result<(), String> {
    match strict::parse(line, Depth::Everywhere) {
        strict::Parsed::Json {
            ambiguity: Some(why),
            ..
        } => Err(why),
        strict::Parsed::Json { .. } => Ok(()),
        strict::Parsed::Malformed => Err("it is not valid JSON".to_owned()),
    }
}

/// Whether `id` is in the gateway's own namespace.
pub(crate) fn is_own_id(id: &Value) -> bool {
    id.as_str().is_some_and(|s| s.starts_with(OWN_ID_PREFIX))
}

fn classify_with(line: &[u8], depth: Depth) -> Message {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Message::Blank;
    }
    let (value, ambiguity, id_ambiguous) = match strict::parse(line, depth) {
        strict::Parsed::Malformed => return Message::Malformed,
        strict::Parsed::Json {
            value,
            ambiguity,
            id_ambiguous,
        } => (value, ambiguity, id_ambiguous),
    };
    let Value::Object(body) = value else {
        return Message::NotAnObject;
    };
    let id = body.get("id").cloned();
    if let Some(why) = ambiguity {
        return Message::Rejected {
            // The id itself may be what is ambiguous: then nobody can tell
            // whom to answer.
            id: id.filter(|_| !id_ambiguous).unwrap_or(Value::Null),
            reason: format!("invalid request: {why}"),
        };
    }
    let method = match body.get("method") {
        None => None,
        Some(Value::String(method)) => Some(method.clone()),
        Some(_) => {
            return Message::Rejected {
                id: id.unwrap_or(Value::Null),
                reason: "invalid request: `method` must be a string".to_owned(),
            };
        }
    };
    match (method, id) {
        (Some(method), Some(id)) => Message::Request { id, method, body },
        (Some(method), None) => Message::Notification { method, body },
        (None, Some(id)) => Message::Response { id, body },
        (None, None) => Message::Other,
    }
}

/// Why `method` must be refused: it is not one of the methods the gateway
/// intercepts, but a lenient server could take it for one (case, spaces,
/// control or invisible characters, compatibility forms, look-alikes).
fn method_near_miss(method: &str) -> Option<String> {
    if INTERCEPTED.contains(&method) {
        return None;
    }
    let meant = INTERCEPTED
        .iter()
        .find(|m| attesta::names::is_near_miss(method, m))?;
    Some(format!(
        "invalid request: the method `{}` is not `{meant}`, but a lenient server could read it \
         as `{meant}`; send `{meant}` exactly",
        method.escape_debug()
    ))
}

/// A key for an id in maps: its compact JSON text (so `1` and `"1"` differ).
pub(crate) fn id_key(id: &Value) -> String {
    id.to_string()
}

/// A JSON-RPC error response, as one newline-terminated line.
pub(crate) fn error_line(id: &Value, code: i64, message: &str) -> Vec<u8> {
    to_line(&json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    }))
}

/// A JSON-RPC success response, as one newline-terminated line.
pub(crate) fn result_line(id: &Value, result: &Value) -> Vec<u8> {
    to_line(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

/// A notification, as one newline-terminated line.
pub(crate) fn notification_line(method: &str, params: &Value) -> Vec<u8> {
    to_line(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
}

/// Any JSON value as one newline-terminated line (serde_json escapes
/// newlines inside strings, so the line never breaks).
pub(crate) fn to_line(value: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail; an empty object is a safe fallback.
    let mut out = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_requests_notifications_and_responses() {
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Message::Request { method, .. } if method == "ping"
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Message::Notification { .. }
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
            Message::Response { .. }
        ));
        assert!(matches!(classify(b"{nope\n"), Message::Malformed));
        assert!(matches!(classify(b"[1]\n"), Message::NotAnObject));
        assert!(matches!(classify(b"  \r\n"), Message::Blank));
    }

    #[test]
    fn error_lines_are_one_json_line() {
        let out = error_line(&Value::Null, PARSE_ERROR, "bad");
        assert_eq!(
            out,
            b"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"bad\"}}\n"
        );
    }
}
