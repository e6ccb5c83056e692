"""Publication dates to ISO `YYYY-MM-DD`.

The date is kept as the publisher wrote it: "Tue, 20 Dec 2016 23:48:56 -0500" is 2016-12-20 (its
local calendar day), not converted to UTC, so the date matches what a reader sees on the article.
Anything unparseable becomes None rather than a guess.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime
from email.utils import parsedate_to_datetime

_ISO_PREFIX = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?=$|[T\s])")
_FORMATS = (
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%d %B, %Y",
    "%A, %d %B %Y",
    "%A, %B %d, %Y",
)


def _valid(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def to_iso_date(value: object) -> str | None:
    """`value` (a date string in a common format, a date/datetime or a struct_time) as `YYYY-MM-DD`."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time.struct_time):
        return _valid(value.tm_year, value.tm_mon, value.tm_mday)
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text:
        return None
    m = _ISO_PREFIX.match(text)
    if m:
        return _valid(int(m[1]), int(m[2]), int(m[3]))
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None
