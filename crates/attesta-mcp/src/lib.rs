//! A stdio proxy for the Model Context Protocol that puts Attesta between an
//! MCP client (an editor or agent) and an MCP server it launches.
//!
//! The client talks to the proxy on stdin/stdout; the proxy runs the real
//! server (the *upstream*) as a child process and relays newline-delimited
//! JSON-RPC between the two. Every line that is not intercepted is forwarded
//! as its original bytes, in both directions. The upstream's stderr is
//! inherited, and the proxy writes nothing to stdout but relayed or
//! answered messages.
//!
//! Layout:
//! * [`relay`]: the relay loop and the process lifecycle ([`relay::run`]);
//! * [`gate`]: a `tools/call` as an Attesta action, and the denial reply;
//! * [`pins`]: tool definitions pinned on first use, and changes to them;
//! * [`upstream`]: spawning the upstream in its own process group and
//!   stopping it;
//! * `jsonrpc`: classifying lines and building JSON-RPC replies.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod batch;
mod call;
mod continuation;
mod elicit;
mod error;
mod framing;
pub mod gate;
mod jsonrpc;
mod links;
mod outbound;
mod peers;
mod pinning;
pub mod pins;
pub mod relay;
mod route;
mod strict;
mod tools;
pub mod upstream;

pub use error::ProxyError;
pub use framing::DEFAULT_MAX_LINE_BYTES;
pub use gate::{ToolCall, ToolGate, ToolHints};
pub use pinning::Pinning;
pub use relay::{RelayOptions, exit_code, run, shutdown_signal};
pub use route::McpChannel;
