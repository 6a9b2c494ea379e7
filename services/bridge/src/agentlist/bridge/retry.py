"""Which errors mean a server the bridge uses is away (retried by ``agentlist.core.retry``),
as opposed to a message it cannot process."""

from __future__ import annotations

from typing import Final

import redis.exceptions

from agentlist.core.retry import Transient
from agentlist.db import connections

TRANSIENT: Final[Transient] = (*connections.TRANSIENT, redis.exceptions.RedisError)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)
