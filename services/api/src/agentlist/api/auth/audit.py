"""The audit trail: who was refused, who was denied someone else's object, who changed keys and
who drained workers. One logger, ``agentlist.audit``, one line per event with the tenant, the
actor and the request id, so that an operator can route it apart from the service's own logs.

Never a credential: an actor is an identity, a key id or ``anonymous``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Final

from starlette.requests import Request

logger = logging.getLogger("agentlist.audit")

REQUEST_ID_HEADER: Final = "x-request-id"
_MAX_REQUEST_ID: Final = 128


def request_id(request: Request) -> str:
    """The caller's ``X-Request-Id`` (bounded, printable), or one made for this request."""
    known: str | None = getattr(request.state, "request_id", None)
    if known is None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        usable = given.isprintable() and " " not in given and 0 < len(given) <= _MAX_REQUEST_ID
        known = given if usable else uuid.uuid4().hex
        request.state.request_id = known
    return known


def record(
    event: str, *, tenant: str, actor: str, request_id: str = "-", **details: object
) -> None:
    """One audit line (``request_id`` ``-``: not an HTTP request, e.g. the CLI)."""
    extra = "".join(f" {name}={value}" for name, value in details.items())
    logger.warning(
        "audit event=%s tenant=%s actor=%s request_id=%s%s",
        event,
        tenant,
        actor or "anonymous",
        request_id,
        extra,
    )
