"""An MCP server built on the official Python SDK (`mcp` 2.3.0, `MCPServer`),
for attesta's integration tests: two filesystem tools shaped like
server-filesystem's. Unlike the npm servers (TypeScript SDK 1.32.2, newest
protocol 2025-11-25) it serves both eras on stdio: the client's first request
decides, `server/discover` or a request carrying
`_meta["io.modelcontextprotocol/protocolVersion"]` opens a 2026-07-28
connection, `initialize` a legacy one. So the proxy's 2026-07-28 path
(input_required) can be tested against a real peer.
"""
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

server = MCPServer("attesta-test-sdk-server", version="1")


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def read_text_file(path: str) -> str:
    """Read a text file."""
    return Path(path).read_text()


@server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True))
def write_file(path: str, content: str) -> str:
    """Write a text file."""
    Path(path).write_text(content)
    return f"Successfully wrote to {path}"


if __name__ == "__main__":
    server.run("stdio")
