"""The next time a 5-field crontab schedule fires (minute hour day-of-month month
day-of-week; ``*``, ``*/n``, ``a-b``, ``a-b/n`` and lists), for "next evaluation" on the
Alerts page. Day-of-month and day-of-week combine as cron does: either matches when both
are restricted."""

from __future__ import annotations

import datetime as dt

from analytics.core.errors import BadInput

RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _field(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            first, last = low, high
        elif "-" in body:
            first, last = (int(x) for x in body.split("-", 1))
        else:
            first = last = int(body)
            if step_text:
                last = high
        if not (low <= first <= high and low <= last <= high) or step < 1:
            raise ValueError(part)
        values.update(range(first, last + 1, step))
    return values


def parse(schedule: str) -> list[set[int]]:
    parts = schedule.split()
    if len(parts) != 5:
        raise BadInput(f"The cron schedule '{schedule}' needs 5 fields (minute hour day "
                       "month weekday).")
    try:
        fields = [_field(p, *r) for p, r in zip(parts, RANGES, strict=True)]
    except ValueError as exc:
        raise BadInput(f"The cron schedule '{schedule}' has an invalid field '{exc}'.") from None
    if 7 in fields[4]:
        fields[4].add(0)
    return fields


def next_time(schedule: str, after: dt.datetime) -> dt.datetime:
    """The first time strictly after ``after`` (same time zone) the schedule fires."""
    minutes, hours, days, months, weekdays = parse(schedule)
    dom_star, dow_star = schedule.split()[2] == "*", schedule.split()[4] == "*"
    start = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    day = start.date()
    for _ in range(366 * 5):
        weekday = (day.isoweekday()) % 7  # cron: 0 = Sunday
        if dom_star or dow_star:
            day_ok = (day.day in days) and (weekday in weekdays)
        else:
            day_ok = (day.day in days) or (weekday in weekdays)
        if day.month in months and day_ok:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    moment = dt.datetime.combine(day, dt.time(hour, minute), after.tzinfo)
                    if moment >= start:
                        return moment
        day += dt.timedelta(days=1)
    raise BadInput(f"The cron schedule '{schedule}' never fires.")
