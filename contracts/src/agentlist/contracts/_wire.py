"""The base every wire model shares: immutable, and tolerant of fields it does not know."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """A message that crosses a process boundary.

    Readers ignore unknown fields so that a newer sender (which may only *add* optional fields
    within a version) never breaks an older reader.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")
