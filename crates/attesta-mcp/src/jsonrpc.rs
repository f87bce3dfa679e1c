//! Classifying JSON-RPC lines and building the replies the proxy sends itself.

use serde_json::{Map, Value, json};

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
}

/// Classifies one line (with or without its trailing newline).
pub(crate) fn classify(line: &[u8]) -> Message {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Message::Blank;
    }
    let Ok(value) = serde_json::from_slice::<Value>(line) else {
        return Message::Malformed;
    };
    let Value::Object(body) = value else {
        return Message::NotAnObject;
    };
    let method = body
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let id = body.get("id").cloned();
    match (method, id) {
        (Some(method), Some(id)) => Message::Request { id, method, body },
        (Some(method), None) => Message::Notification { method, body },
        (None, Some(id)) => Message::Response { id, body },
        (None, None) => Message::Other,
    }
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
