"""schemathesis hooks for the approval server's conformance test.

`GET /v1/approvals/{id}/decision?wait=S` is a long poll: on a pending approval
the server holds the request for S seconds, up to the documented 60. Left
alone, schemathesis' boundary and random waits on the approvals it creates
(which nobody answers) spend minutes waiting. Every wait is still generated
and sent as generated when it is invalid (negative, over 60, not a number),
so the server's refusals are checked; a valid wait longer than MAX_SENT is
sent as MAX_SENT, which the document allows too, so the run stays short.
"""

import schemathesis

DECISION = "/v1/approvals/{id}/decision"
MAX_SENT = 1


def _shortened(wait):
    """`wait` if it is invalid or short already, else MAX_SENT (same type)."""
    if isinstance(wait, bool):
        return wait
    if isinstance(wait, int) and MAX_SENT < wait <= 60:
        return MAX_SENT
    if isinstance(wait, str) and wait.isascii() and wait.isdigit() and MAX_SENT < int(wait) <= 60:
        return str(MAX_SENT)
    return wait


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path == DECISION and case.query and "wait" in case.query:
        case.query["wait"] = _shortened(case.query["wait"])
