"""When check-ins happen: the user's time zone, quiet hours, and the time of day they arrive.

Pure rules on aware datetimes and IANA zone names (``zoneinfo``); no Telegram, no database.
Times in and out are aware; what goes to storage is UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

QUIET_FROM, QUIET_UNTIL = 21, 9  # no check-ins from 21:00 to 09:00 local time
CHECKIN_TIME = time(10, 0)  # a check-in arrives at 10:00 local time on its day

# The short list offered first, by the user's language: where most of its readers live.
ZONES_BY_LOCALE: dict[str, tuple[str, ...]] = {
    "zh-Hans": ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore",
                "Asia/Kuala_Lumpur", "Australia/Sydney", "Europe/London",
                "America/Los_Angeles"),
    "zh-Hant": ("Asia/Taipei", "Asia/Hong_Kong", "Asia/Macau", "Asia/Shanghai",
                "Asia/Singapore", "Asia/Kuala_Lumpur", "America/Vancouver",
                "America/Los_Angeles"),
    "en": ("Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago",
           "America/Los_Angeles", "Asia/Singapore", "Asia/Kolkata", "Australia/Sydney"),
}
# "What time is it for you now?": one answer per whole-hour offset from UTC-10 to UTC+13 (24
# different clock readings; -11/-12 and +14 would repeat a reading a day apart), plus the zones
# whose offset is not whole hours.
WHOLE_HOURS = range(-10, 14)
ODD_OFFSET_ZONES = ("America/St_Johns", "Asia/Tehran", "Asia/Kabul", "Asia/Kolkata",
                    "Asia/Kathmandu", "Asia/Yangon", "Australia/Darwin", "Australia/Adelaide")


def fixed_offset_zone(hours: int) -> str:
    """The IANA name of a zone `hours` ahead of UTC (no daylight saving): 8 -> "Etc/GMT-8"
    (POSIX inverts the sign in these names), 0 -> "UTC"."""
    if hours == 0:
        return "UTC"
    return f"Etc/GMT{-hours:+d}"


def offered_zones() -> frozenset[str]:
    """Every zone name a button may carry: the lists and the clock answers."""
    return _offered()


@lru_cache(maxsize=1)
def _offered() -> frozenset[str]:
    names = {z for zones in ZONES_BY_LOCALE.values() for z in zones}
    names.update(fixed_offset_zone(h) for h in WHOLE_HOURS)
    names.update(ODD_OFFSET_ZONES)
    return frozenset(names)


def zones_for(locale: str) -> tuple[str, ...]:
    """The short list of zones to offer a user of this locale (English's for any other)."""
    return ZONES_BY_LOCALE.get(locale, ZONES_BY_LOCALE["en"])


def clock_choices(now: datetime) -> list[tuple[str, datetime]]:
    """(zone, local time now) for every clock reading a user may see, earliest reading of the
    day first; zones showing the same reading (hour and minute) are offered once."""
    seen: dict[tuple[int, int], tuple[str, datetime]] = {}
    for name in [fixed_offset_zone(h) for h in WHOLE_HOURS] + list(ODD_OFFSET_ZONES):
        local = now.astimezone(ZoneInfo(name))
        seen.setdefault((local.hour, local.minute), (name, local))
    return [seen[k] for k in sorted(seen)]


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The user's zone, else the operator's default, else UTC (a name that no longer exists
    in the tz database must not stop a check-in)."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def is_quiet(local: datetime) -> bool:
    return not QUIET_UNTIL <= local.hour < QUIET_FROM


def quiet_hours_end(now: datetime, tz_name: str | None, default_tz: str) -> datetime | None:
    """When `now` is at night in the user's time zone, the next 09:00 there (in UTC); else None."""
    where = zone(tz_name, default_tz)
    local = now.astimezone(where)
    if not is_quiet(local):
        return None
    day = local.date() if local.hour < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, time(QUIET_UNTIL), where).astimezone(UTC)


def checkin_at(now: datetime, days: int, where: ZoneInfo) -> datetime:
    """The moment (UTC) of a check-in `days` calendar days after `now` in zone `where`, at
    CHECKIN_TIME local time: "in 7 days" asked on a Monday evening in Shanghai is the next
    Monday at 10:00 in Shanghai, whatever the hour of asking."""
    day = now.astimezone(where).date() + timedelta(days=days)
    return datetime.combine(day, CHECKIN_TIME, where).astimezone(UTC)


def moved_to_zone(due: datetime, old: ZoneInfo, new: ZoneInfo, now: datetime) -> datetime | None:
    """A pending check-in after the user changed their zone: the same local day, at
    CHECKIN_TIME in the new zone (UTC). None when that moment has passed already: it stays."""
    day = due.astimezone(old).date()
    moved = datetime.combine(day, CHECKIN_TIME, new).astimezone(UTC)
    return moved if moved > now else None
