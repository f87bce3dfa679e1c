//! Errors that stop the proxy before or while it relays.

use std::io;

/// Why the proxy could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// No upstream command was given after `--`.
    #[error(
        "no upstream MCP server command given; usage: attesta mcp wrap -- <command> [args...] \
         (for example: attesta mcp wrap -- npx @modelcontextprotocol/server-filesystem /tmp)"
    )]
    NoCommand,
    /// The upstream program could not be started (not found, not executable).
    #[error(
        "cannot start the upstream MCP server `{program}`: {cause}; check that it is installed \
         and on PATH, or give its full path"
    )]
    Spawn {
        /// The program as given on the command line.
        program: String,
        /// The operating system's error.
        cause: io::Error,
    },
    /// Reading from or writing to a pipe, or waiting for the upstream, failed.
    #[error("MCP relay I/O failed while {doing}: {cause}")]
    Io {
        /// What the proxy was doing.
        doing: &'static str,
        /// The underlying error.
        cause: io::Error,
    },
}
