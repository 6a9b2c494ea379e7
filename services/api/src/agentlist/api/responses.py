"""JSON responses rendered by orjson (datetimes as RFC 3339 with offset, UUIDs as strings)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
