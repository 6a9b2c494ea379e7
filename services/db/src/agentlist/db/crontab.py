"""When a cron schedule fires next, in its own time zone (so 09:00 stays 09:00 across DST)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter


class ScheduleError(ValueError):
    pass


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"Unknown time zone {name!r}: use an IANA name such as Europe/Paris"
        ) from None


def next_run(schedule: str, timezone: str | None, after: datetime) -> datetime:
    """The first firing strictly after ``after``, in UTC."""
    if not croniter.is_valid(schedule):
        raise ScheduleError(f"Invalid cron schedule {schedule!r}")
    local = after.astimezone(zone(timezone))
    fired: datetime = croniter(schedule, local).get_next(datetime)
    return fired.astimezone(UTC)
