"""Typed reading of raw TOML values that collects every problem instead of stopping at the first.

A technician fixing a hall file wants the whole list in one go, so each getter records what is wrong under
its dotted path (``windows[3].services[0].weight``) and returns a harmless stand-in; the loader refuses
the file at the end if anything was recorded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from config.model import TimeRange

REQUIRED: Any = object()  # default meaning "this key must be given"

_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def sub(path: str, key: str | int) -> str:
    """The dotted path of ``key`` inside ``path`` (``services[2]`` + ``prefix`` → ``services[2].prefix``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def describe(value: object) -> str:
    """A value's TOML type in plain words, with the value when short, for 'expected X, got Y'."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, dt.datetime):
        return f"a date-time ({value.isoformat()})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, dt.time):
        return f"a time ({value.isoformat()})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "…"
        return f"a string ({shown!r})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def listing(names: Iterable[str], limit: int = 12) -> str:
    """``a, b, c`` with an ellipsis past ``limit`` names, for 'known: …' hints."""
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (", …" if len(names) > limit else "") if names else "none"


def parse_time(text: str) -> dt.time | None:
    """``"HH:MM"`` (00:00–23:59) to a time, or None."""
    match = _TIME.fullmatch(text)
    return dt.time(int(match[1]), int(match[2])) if match else None


def parse_range(text: str) -> TimeRange | str:
    """``"HH:MM-HH:MM"`` to a TimeRange, or the reason it is not one."""
    start_text, sep, end_text = text.partition("-")
    start = parse_time(start_text.strip())
    # "24:00" ends a span at midnight (an all-day service, e.g. a 24-hour self-service area)
    end = dt.time.max if end_text.strip() == "24:00" else parse_time(end_text.strip())
    if not sep or start is None or end is None:
        return f"bad time range {text!r}: write it as \"HH:MM-HH:MM\" in 24-hour time, e.g. \"09:00-12:00\""
    if start >= end:
        return f"time range {text!r} ends before it starts (start must be earlier than end)"
    return TimeRange(start, end)


def overlaps(a: TimeRange, b: TimeRange) -> bool:
    """Half-open ranges share at least one minute."""
    return a.start < b.end and b.start < a.end


def merged(ranges: Iterable[TimeRange]) -> list[TimeRange]:
    """Ranges joined where they overlap or touch (13:30-17:30 + 17:30-19:00 → 13:30-19:00)."""
    out: list[TimeRange] = []
    for rng in sorted(ranges, key=lambda r: (r.start, r.end)):
        if out and rng.start <= out[-1].end:
            out[-1] = TimeRange(out[-1].start, max(out[-1].end, rng.end))
        else:
            out.append(rng)
    return out


def within(rng: TimeRange, sessions: Sequence[TimeRange]) -> bool:
    """``rng`` lies wholly inside one of ``sessions`` (after merging touching ones)."""
    return any(s.start <= rng.start and rng.end <= s.end for s in merged(sessions))


class Reader:
    """Collects (dotted path, message) problems while reading raw TOML data into typed values."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def table(self, value: object, path: str, allowed: Sequence[str]) -> dict[str, Any]:
        """``value`` as a table whose keys are all in ``allowed``; anything else is reported."""
        if not isinstance(value, dict):
            self.problem(path, f"expected a table, got {describe(value)}")
            return {}
        for key in value:
            if key not in allowed:
                self.problem(sub(path, key), f"unknown key (allowed: {', '.join(allowed)})")
        return value

    def _get(self, table: dict[str, Any], path: str, key: str, default: Any) -> tuple[bool, Any]:
        if key in table:
            return True, table[key]
        if default is REQUIRED:
            self.problem(sub(path, key), "missing (this key is required)")
        return False, default

    def string(self, table: dict[str, Any], path: str, key: str, default: Any = REQUIRED, *,
               pattern: str | None = None, hint: str = "", max_len: int = 200) -> str:
        """A non-empty string, optionally matching ``pattern`` (``hint`` says what is expected)."""
        found, value = self._get(table, path, key, default)
        if not found:
            return "" if value is REQUIRED else value
        where = sub(path, key)
        if not isinstance(value, str):
            self.problem(where, f"expected a string, got {describe(value)}")
            return ""
        if not value.strip():
            self.problem(where, "must not be empty")
        elif len(value) > max_len:
            self.problem(where, f"too long ({len(value)} characters, at most {max_len})")
        elif pattern is not None and re.fullmatch(pattern, value) is None:
            self.problem(where, f"{value!r} is not {hint or 'allowed here'}")
        return value

    def integer(self, table: dict[str, Any], path: str, key: str, default: Any = REQUIRED, *,
                low: int, high: int) -> int:
        """An integer in [low, high]."""
        found, value = self._get(table, path, key, default)
        if not found:
            return low if value is REQUIRED else value
        where = sub(path, key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(where, f"expected a whole number, got {describe(value)}")
            return low
        if not low <= value <= high:
            self.problem(where, f"{value} is out of range (allowed {low} to {high})")
            return low
        return value

    def number(self, table: dict[str, Any], path: str, key: str, default: Any = REQUIRED, *,
               low: float, high: float, low_open: bool = False) -> float:
        """A number in [low, high] (or (low, high] with ``low_open``); integers are accepted."""
        found, value = self._get(table, path, key, default)
        if not found:
            return low if value is REQUIRED else value
        where = sub(path, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(where, f"expected a number, got {describe(value)}")
            return high
        above = value > low if low_open else value >= low
        if not (above and value <= high):  # also refuses nan
            bound = f"more than {low:g}" if low_open else f"from {low:g}"
            self.problem(where, f"{value} is out of range (must be {bound} up to {high:g})")
            return high
        return float(value)

    def boolean(self, table: dict[str, Any], path: str, key: str, default: bool) -> bool:
        """true or false."""
        found, value = self._get(table, path, key, default)
        if found and not isinstance(value, bool):
            self.problem(sub(path, key), f"expected true or false, got {describe(value)}")
            return default
        return value

    def array(self, table: dict[str, Any], path: str, key: str, default: Any = REQUIRED) -> list[Any]:
        """A list (of anything; the caller checks the items)."""
        found, value = self._get(table, path, key, default)
        if not found:
            return [] if value is REQUIRED else list(value)
        if not isinstance(value, list):
            self.problem(sub(path, key), f"expected a list, got {describe(value)}")
            return []
        return value

    def strings(self, table: dict[str, Any], path: str, key: str, *, max_items: int,
                max_len: int = 200) -> tuple[str, ...]:
        """A list of at most ``max_items`` non-empty strings of at most ``max_len`` characters, each listed once."""
        where = sub(path, key)
        items = self.array(table, path, key, ())
        if len(items) > max_items:
            self.problem(where, f"too many ({len(items)} items, at most {max_items})")
        got: dict[str, str] = {}
        for i, item in enumerate(items):
            item_path = sub(where, i)
            if not isinstance(item, str):
                self.problem(item_path, f"expected a string, got {describe(item)}")
            elif not item.strip():
                self.problem(item_path, "must not be empty")
            elif len(item) > max_len:
                self.problem(item_path, f"too long ({len(item)} characters, at most {max_len})")
            elif item in got:
                self.problem(item_path, f"{item!r} is listed twice (first at {got[item]})")
            else:
                got[item] = item_path
        return tuple(got)

    def located_names(self, table: dict[str, Any], path: str, key: str, known: Sequence[str],
                      what: str) -> list[tuple[str, str]]:
        """A list of names from ``known``, each once, with each one's dotted path (for later cross-checks)."""
        where = sub(path, key)
        got: dict[str, str] = {}
        for i, item in enumerate(self.array(table, path, key)):
            item_path = sub(where, i)
            if not isinstance(item, str):
                self.problem(item_path, f"expected a {what} such as {known[0]!r}, got {describe(item)}")
            elif item not in known:
                self.problem(item_path, f"unknown {what} {item!r} (known: {listing(known)})")
            elif item in got:
                self.problem(item_path, f"{what} {item!r} is listed twice (first at {got[item]})")
            else:
                got[item] = item_path
        return [(item_path, name) for name, item_path in got.items()]

    def record(self, raw: object, path: str, cls: type, bounds: Mapping[str, tuple[float, float]],
               names: Mapping[str, tuple[Sequence[str], str]] | None = None) -> Any:
        """Fill a settings dataclass from its table; fields not given keep the dataclass defaults.

        int fields are whole numbers and float fields numbers, both within ``bounds``; bool fields are
        true/false; a field in ``names`` is a list of (known names, what they are called).
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        t = self.table(raw, path, tuple(fields))
        values: dict[str, Any] = {}
        for name, field in fields.items():
            if name not in t:
                continue
            if names and name in names:
                known, what = names[name]
                values[name] = tuple(n for _, n in self.located_names(t, path, name, known, what))
            elif field.type == "bool":
                assert isinstance(field.default, bool), f"{cls.__name__}.{name}: a bool setting needs a default"
                values[name] = self.boolean(t, path, name, field.default)
            elif field.type == "int":
                low, high = bounds[name]
                values[name] = self.integer(t, path, name, low=int(low), high=int(high))
            else:
                assert field.type == "float", f"{cls.__name__}.{name}: no reader for {field.type}"
                low, high = bounds[name]
                values[name] = self.number(t, path, name, low=low, high=high)
        return cls(**values)

    def tables(self, table: dict[str, Any], path: str, key: str, default: Any = REQUIRED) -> list[tuple[str, Any]]:
        """An array of tables (``[[key]]``) as (item path, raw item) pairs."""
        return [(sub(sub(path, key), i), item) for i, item in enumerate(self.array(table, path, key, default))]

    def ranges(self, table: dict[str, Any], path: str, key: str, default: Any = ()) -> tuple[TimeRange, ...]:
        """A list of ``"HH:MM-HH:MM"`` strings that must not overlap one another."""
        return tuple(rng for _, rng in self.located_ranges(table, path, key, default))

    def located_ranges(self, table: dict[str, Any], path: str, key: str,
                       default: Any = ()) -> list[tuple[str, TimeRange]]:
        """Like ``ranges`` but each valid range with its own dotted path, for later cross-checks."""
        where = sub(path, key)
        got: list[tuple[str, TimeRange]] = []
        for i, item in enumerate(self.array(table, path, key, default)):
            item_path = sub(where, i)
            if not isinstance(item, str):
                self.problem(item_path, f"expected a string like \"09:00-12:00\", got {describe(item)}")
                continue
            parsed = parse_range(item)
            if isinstance(parsed, str):
                self.problem(item_path, parsed)
                continue
            for other_path, other in got:
                if overlaps(parsed, other):
                    self.problem(item_path, f"{parsed} overlaps {other} at {other_path}")
            got.append((item_path, parsed))
        return got

    def dates(self, table: dict[str, Any], path: str, key: str) -> tuple[dt.date, ...]:
        """A list of TOML dates (2026-10-01) or ISO date strings, each listed once."""
        where = sub(path, key)
        got: dict[dt.date, str] = {}
        for i, item in enumerate(self.array(table, path, key, ())):
            item_path = sub(where, i)
            day: dt.date | None = None
            if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
                day = item
            elif isinstance(item, str) and _DATE.fullmatch(item):
                try:
                    day = dt.date.fromisoformat(item)
                except ValueError:
                    self.problem(item_path, f"{item!r} is not a real date")
                    continue
            if day is None:
                self.problem(item_path, f"expected a date such as 2026-10-01, got {describe(item)}")
            elif day in got:
                self.problem(item_path, f"{day} is already listed at {got[day]}")
            else:
                got[day] = item_path
        return tuple(sorted(got))

    def unique(self, items: Iterable[tuple[str, object]], what: str) -> None:
        """Report every value seen before, naming where it was first."""
        seen: dict[object, str] = {}
        for path, value in items:
            if value in ("", None):
                continue
            if value in seen:
                self.problem(path, f"duplicate {what} {value!r} (already used at {seen[value]})")
            else:
                seen[value] = path
