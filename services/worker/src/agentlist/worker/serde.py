"""JSON for whatever a graph streams: messages, interrupts, dataclasses, and worse.

Serialising a chunk must never fail a run, so unknown objects fall back to ``str()``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import deque
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson
from langgraph.types import Interrupt, Send
from pydantic import BaseModel

logger = logging.getLogger(__name__)

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def default(obj: Any) -> Any:
    """orjson's ``default``: turn one unknown object into something JSON can hold."""
    try:
        return _convert(obj)
    except Exception:
        return str(obj)


def _convert(obj: Any) -> Any:
    if isinstance(obj, Interrupt):
        return interrupt_dict(obj)
    if isinstance(obj, BaseModel):
        return obj.model_dump()
    if isinstance(obj, Send):
        return {"node": obj.node, "arg": obj.arg}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return _default_plain(obj)


def _default_plain(obj: Any) -> Any:
    if isinstance(obj, set | frozenset | deque):
        return list(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):
        return obj._asdict()
    if isinstance(obj, tuple):
        return list(obj)
    if isinstance(obj, BaseException):
        return {"error": type(obj).__name__, "message": str(obj)}
    if isinstance(obj, UUID | Decimal):
        return str(obj)
    if isinstance(obj, datetime | date | time):
        # Only reached by the stdlib fallback (orjson writes these itself).
        return obj.isoformat()
    if isinstance(obj, Enum):
        return obj.value
    return _default_other(obj)


def _default_other(obj: Any) -> Any:
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    if isinstance(obj, type) and issubclass(obj, BaseModel):
        return obj.model_json_schema()
    for method in ("model_dump", "dict", "to_json"):
        convert = getattr(obj, method, None)
        if callable(convert):
            return convert()
    return str(obj)


def interrupt_dict(interrupt: Interrupt) -> dict[str, Any]:
    """``{"value", "id"}`` as langgraph-api sends it (plus ``response_schema`` when set)."""
    shaped: dict[str, Any] = {"value": interrupt.value, "id": interrupt.id}
    schema = getattr(interrupt, "response_schema", None)
    if schema is not None:
        shaped["response_schema"] = schema
    return shaped


def dumps(value: Any) -> bytes:
    """Serialise anything; a value orjson refuses (huge ints, cycles) degrades, never raises."""
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS)
    except (orjson.JSONEncodeError, TypeError, ValueError, RecursionError):
        pass
    try:
        return json.dumps(value, default=default, separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        logger.warning("could not serialise a %s (%s); sending its text", type(value), exc)
        return orjson.dumps(str(value))


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (dicts, lists, strings, numbers, booleans, null)."""
    return orjson.loads(dumps(value))


def encode_wire(model: BaseModel, **raw: Any) -> bytes:
    """A contract message with some fields given as arbitrary graph values: the model checks
    every other field, then ``raw`` values are serialised with :func:`default`."""
    envelope = model.model_dump(mode="json")
    envelope.update(raw)
    return dumps(envelope)
