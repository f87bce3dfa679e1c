"""An MCP client built on the official Python SDK (`mcp` 2.3.0), for attesta's
integration tests: it launches a command over stdio (normally `attesta mcp
wrap ... -- <server>`), runs the scenario given on the command line, and prints
one JSON object describing what happened to stdout.

How the SDK negotiates (mcp 2.3.0, read from mcp/client/{client,_probe,session}.py
and observed on the wire):

* `Client(mode="auto")` (the default) first sends `server/discover` stamped with
  `_meta["io.modelcontextprotocol/protocolVersion"] = "2026-07-28"`. Any JSON-RPC
  error other than -32022-with-only-modern-versions falls back to the legacy
  `initialize` handshake (offering 2025-11-25) + `notifications/initialized`.
  The npm servers (@modelcontextprotocol/server-filesystem and
  server-everything 2026.8.31, built on the TypeScript SDK 1.32.2, newest
  version 2025-11-25) answer `server/discover` with -32601, so auto ends in
  the legacy era at 2025-11-25. The SDK's own server (`MCPServer`, used by
  sdk_server.py) answers discover, so auto ends modern (2026-07-28) there.
* `mode="legacy"` skips the probe and does `initialize` (2025-11-25).
* `mode="2026-07-28"` skips both and stamps every request's `_meta` with the
  version, clientInfo and clientCapabilities. The npm servers process such
  requests (the TS SDK does not enforce `initialize`) but their results lack
  `resultType`/`ttlMs`, which this client rejects as invalid at 2026-07-28, so
  the modern era can only be exercised against a modern server (sdk_server.py).
* Capabilities follow the callbacks given: `elicitation_callback` declares
  `elicitation: {form: {}, url: {}}`, `sampling_callback` declares `sampling`,
  `list_roots_callback` declares `roots: {listChanged: true}`. Without an
  elicitation callback nothing is declared (elicitation mode `none`).
* One elicitation callback serves both eras: legacy server->client
  `elicitation/create` requests (context.request_id is the JSON-RPC id) and the
  entries of a 2026-07-28 `input_required` result (`Client.call_tool` drives
  the retry loop itself, up to 10 rounds, resending `tools/call` with
  `inputResponses` + the echoed `requestState`; context.request_id is then the
  `inputRequests` key).

Usage:
    mcp_client.py [--mode auto|legacy|2026-07-28]
                  [--elicitation correct|wrong|decline|cancel|none]
                  [--environment ENV] [--sampling] [--roots DIR]...
                  [--list] [--call NAME JSON]... [--timeout SECONDS]
                  -- COMMAND [ARG...]

Elicitations are attesta's when every requested property is one of its
question ids (approve, directory, name, environment, number, table,
operation, explanation); they are answered according to --elicitation from
the arguments of the call in flight. Any other elicitation (e.g.
server-everything's own form) is accepted with {"name": "peer-test"} unless
--elicitation is decline/cancel.
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import sys
import traceback
from typing import Any

import anyio
import mcp_types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

ATTESTA_QUESTIONS = {"approve", "directory", "name", "environment", "number", "table", "operation", "explanation"}


class Scenario:
    """What the callbacks saw, and the call they answer for."""

    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.current: tuple[str, dict[str, Any]] | None = None
        self.elicitations: list[dict[str, Any]] = []
        self.sampling: list[dict[str, Any]] = []
        self.roots_requests = 0

    # --- attesta's questions ---------------------------------------------------

    def _path(self) -> str | None:
        if self.current is None:
            return None
        for value in self.current[1].values():
            if isinstance(value, str) and value.startswith("/"):
                return value
        return None

    def _expected(self, qid: str) -> Any:
        path = self._path()
        if qid == "approve":
            return True
        if qid == "directory" and path:
            return posixpath.dirname(path)
        if qid == "name" and path:
            return posixpath.basename(path)
        if qid == "environment":
            return self.opts.environment
        if qid == "explanation" and self.current:
            tool, args = self.current
            parts = ", ".join(f"{k} set to {v}" for k, v in args.items())
            return (
                f"This runs the {tool} tool with {parts}. It changes the file "
                f"{posixpath.basename(path or '')} in the directory {posixpath.dirname(path or '')} "
                "and replaces whatever that file held before."
            )
        return None

    def _candidates(self) -> list[str]:
        """Strings the action itself offers, for questions without a rule."""
        out: list[str] = []
        if self.current:
            tool, args = self.current
            out.append(tool)
            out.extend(tool.split("_"))
            for value in args.values():
                out.append(str(value))
                if isinstance(value, str) and value.startswith("/"):
                    out.extend([posixpath.dirname(value), posixpath.basename(value)])
        if self.opts.environment:
            out.append(self.opts.environment)
        return out

    def _answer(self, qid: str, prop: dict[str, Any], correct: bool) -> Any:
        options = _options(prop)
        expected = self._expected(qid)
        if prop.get("type") == "boolean":
            return bool(correct)
        if options:
            if expected is None:
                expected = next((c for c in self._candidates() if c in options), options[0])
            if correct:
                return expected if expected in options else options[0]
            return next((o for o in options if o != expected), options[0])
        if prop.get("type") in ("number", "integer"):
            return 0 if not correct else next((float(c) for c in self._candidates() if _is_number(c)), 0)
        if correct:
            return expected if expected is not None else (self._candidates() or [""])[0]
        return "ok" if qid == "explanation" else "wrong-answer"

    # --- callbacks -------------------------------------------------------------

    async def elicit(self, context: Any, params: Any) -> types.ElicitResult | types.ErrorData:
        raw = params.model_dump(by_alias=True, mode="json", exclude_none=True)
        schema = raw.get("requestedSchema") or {}
        props = schema.get("properties") or {}
        attesta = bool(props) and set(props) <= ATTESTA_QUESTIONS
        mode = self.opts.elicitation
        if mode in ("decline", "cancel"):
            result = types.ElicitResult(action=mode)
        elif attesta:
            correct = mode == "correct"
            content = {qid: self._answer(qid, prop, correct) for qid, prop in props.items()}
            result = types.ElicitResult(action="accept", content=content)
        else:
            result = types.ElicitResult(action="accept", content={"name": "peer-test"})
        self.elicitations.append(
            {
                "request_id": context.request_id,
                "attesta": attesta,
                "during_call": self.current[0] if self.current else None,
                "params": raw,
                "response": result.model_dump(by_alias=True, mode="json", exclude_none=True),
            }
        )
        return result

    async def sample(self, context: Any, params: Any) -> types.CreateMessageResult:
        self.sampling.append(
            {
                "request_id": context.request_id,
                "params": params.model_dump(by_alias=True, mode="json", exclude_none=True),
            }
        )
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="sampled by the attesta test client"),
            model="attesta-test-model",
            stop_reason="endTurn",
        )

    async def list_roots(self, context: Any) -> types.ListRootsResult:
        self.roots_requests += 1
        roots = [types.Root(uri=f"file://{os.path.abspath(d)}") for d in self.opts.roots]
        return types.ListRootsResult(roots=roots)


def _options(prop: dict[str, Any]) -> list[Any]:
    if "enum" in prop:
        return list(prop["enum"])
    for key in ("oneOf", "anyOf"):
        if key in prop:
            return [o.get("const") for o in prop[key] if "const" in o]
    return []


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _call_record(name: str, result: types.CallToolResult) -> dict[str, Any]:
    texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
    dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return {
        "name": name,
        "is_error": bool(result.is_error),
        "text": "\n".join(texts),
        "structured": result.structured_content,
        "meta": dumped.get("_meta"),
    }


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    scenario = Scenario(opts)
    out: dict[str, Any] = {"calls": []}
    params = StdioServerParameters(
        command=opts.command[0], args=opts.command[1:], env=dict(os.environ), cwd=os.getcwd()
    )
    client = Client(
        params,
        mode=opts.mode,
        read_timeout_seconds=opts.timeout,
        client_info=types.Implementation(name="attesta-peer-test", version="1"),
        elicitation_callback=scenario.elicit if opts.elicitation != "none" else None,
        sampling_callback=scenario.sample if opts.sampling else None,
        list_roots_callback=scenario.list_roots if opts.roots else None,
        cache=None,
    )
    try:
        with anyio.fail_after(opts.timeout * 3):
            async with client:
                out["protocol_version"] = client.protocol_version
                info = client.server_info
                out["server_info"] = info.model_dump(mode="json", exclude_none=True) if info else None
                if opts.list:
                    tools = await client.list_tools()
                    out["tools"] = [
                        {
                            "name": t.name,
                            "annotations": t.annotations.model_dump(by_alias=True, mode="json", exclude_none=True)
                            if t.annotations
                            else None,
                        }
                        for t in tools.tools
                    ]
                for name, arguments in opts.call:
                    args = json.loads(arguments)
                    scenario.current = (name, args)
                    try:
                        out["calls"].append(_call_record(name, await client.call_tool(name, args)))
                    except MCPError as e:
                        out["calls"].append(
                            {"name": name, "error": {"code": e.error.code, "message": e.error.message}}
                        )
                    except Exception as e:  # noqa: BLE001 - reported, the test decides
                        out["calls"].append({"name": name, "exception": f"{type(e).__name__}: {e}"})
                    scenario.current = None
    except BaseException as e:  # noqa: BLE001 - reported, the test decides
        if isinstance(e, KeyboardInterrupt):
            raise
        out["error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc(file=sys.stderr)
    out["elicitations"] = scenario.elicitations
    out["sampling"] = scenario.sampling
    out["roots_requests"] = scenario.roots_requests
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="auto", help="auto | legacy | 2026-07-28")
    parser.add_argument(
        "--elicitation", default="none", choices=["correct", "wrong", "decline", "cancel", "none"]
    )
    parser.add_argument("--environment", default=None, help="the environment attesta runs the call in")
    parser.add_argument("--sampling", action="store_true", help="declare sampling and answer it")
    parser.add_argument("--roots", action="append", default=[], metavar="DIR", help="declare roots")
    parser.add_argument("--list", action="store_true", help="tools/list after connecting")
    parser.add_argument("--call", nargs=2, action="append", default=[], metavar=("NAME", "JSON"))
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per request")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    opts = parser.parse_args()
    if opts.command[:1] == ["--"]:
        opts.command = opts.command[1:]
    if not opts.command:
        parser.error("give the server command after --")
    result = anyio.run(run, opts)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
