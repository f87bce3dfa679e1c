#!/usr/bin/env python3
"""Independent checker for attesta v1 audit logs (Python 3 standard library only).

Written from the format description (docs/audit-format.md), not from any
implementation: it recomputes every entry's chain hash and prints one JSON
object: {"intact": bool, "entries": int, "broken": [physical line indices]}.

Usage: verify_chain.py LOG
"""
import hashlib
import json
import sys
import uuid

GENESIS = "0" * 64
DEFAULTS = {
    "entry_id": None,  # absent: the entry cannot verify
    "chain_hash": "",
    "previous_hash": "",
    "action_name": "",
    "action_description": "",
    "agent_id": "",
    "risk_score": 0.0,
    "risk_level": "",
    "challenge_type": "",
    "challenge_passed": None,
    "approver_ids": [],
    "verdict": "",
    "review_duration_seconds": 0.0,
    "min_review_met": True,
    "intercepted_at": "",
    "decided_at": "",
    "executed_at": "",
    "session_id": "",
    "environment": "",
    "metadata": {},
}


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def main(path):
    running = GENESIS
    entries = 0
    broken = []
    with open(path, "rb") as f:
        data = f.read()
    # Universal newlines: \r\n, \r and \n all end a line.
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for index, raw in enumerate(lines):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            entries += 1
            broken.append(index)
            continue
        text = text.strip()
        if not text:
            continue
        entries += 1
        try:
            obj = json.loads(text)
        except ValueError:
            broken.append(index)
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("chain_hash", ""), str):
            broken.append(index)
            continue
        entry = {k: obj.get(k, v) for k, v in DEFAULTS.items()}
        if "entry_id" not in obj:
            entry["entry_id"] = uuid.uuid4().hex
        stored = entry.pop("chain_hash")
        expected = hashlib.sha256((running + canonical(entry)).encode("utf-8", "surrogatepass")).hexdigest()
        if stored != expected:
            broken.append(index)
        running = stored
    print(json.dumps({"intact": not broken, "entries": entries, "broken": broken}))


if __name__ == "__main__":
    main(sys.argv[1])
