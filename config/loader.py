"""Hall TOML → validated ``config.model.Hall``, refusing the file with every problem listed at once.

The TOML shape is documented at the top of ``config/samples/county_hall.toml``. Each problem names the
file, the dotted key path (``windows[3].services[0].service``, arrays counted from 0) and what is wrong in
plain words. Device URLs are checked by ``devices.url.parse_device_url``, the parser the node itself uses.
"""

from __future__ import annotations

import logging
import tomllib
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from config import rules
from config.fields import REQUIRED, Reader, describe, listing, overlaps, parse_range, sub, within
from config.model import (
    Department,
    Hall,
    HallHours,
    Node,
    NodeRole,
    QueuePolicy,
    Service,
    SlotQuota,
    Staff,
    TimeRange,
    Window,
    WindowKind,
    WindowService,
)
from config.secrets import hash_token, is_pin_hash, is_token_hash
from devices.url import UrlError, parse_device_url

__all__ = ["DEVICE_KINDS", "ConfigError", "load_hall", "parse_hall"]

log = logging.getLogger(__name__)

TOP_KEYS = ("hall", "hours", "departments", "services", "windows", "staff", "nodes", "alerts", "policy", "green",
            "ratings")
HALL_KEYS = ("name", "code", "timezone", "public_url", "holder_key", "holder_key_file")
HOURS_KEYS = ("weekdays", "extended", "weekend", "weekend_days", "holidays", "workdays")
DEPARTMENT_KEYS = ("code", "name")
SERVICE_KEYS = ("code", "name", "name_en", "department", "prefix", "daily_quota", "slot_quotas", "hours",
                "extended", "weekend", "expected_minutes", "appointments", "real_name", "booking", "materials")
SLOT_KEYS = ("span", "quota")
WINDOW_KEYS = ("number", "name", "kind", "department", "services")
WINDOW_SERVICE_KEYS = ("service", "weight", "order")
STAFF_KEYS = ("id", "name", "pin_hash", "windows")
NODE_KEYS = ("name", "role", "token", "token_hash", "window", "devices")

# A node's device name → the device kind its URL must have (devices.url's ``kind``).
DEVICE_KINDS = {
    "idcard": "idcard", "ticket_printer": "ticket_printer", "smartcard": "smartcard",
    "certificate_printer": "certificate_printer", "speaker": "speaker",
    "callpad": "bus485", "window_display": "bus485", "rating_pad": "bus485",
}

_CODE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}"
_CODE_HINT = "a code of letters, digits, '-', '_' or '.' (at most 32, no spaces)"
_MAX_WINDOWS = 9999
_HOLDER_KEY = r"[0-9a-f]{64,128}"
_HOLDER_KEY_HINT = ("64 to 128 lower-case hex digits (a random key of 32+ bytes; in clear for demo halls only, a "
                    "real hall gives holder_key_file)")
_PUBLIC_URL = r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?"
_PUBLIC_URL_HINT = "an http:// or https:// address, host[:port][/path], with no query or fragment"


class ConfigError(ValueError):
    """A hall file that was refused; ``problems`` holds every (dotted path, message) found."""

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.problems: list[tuple[str, str]] = list(problems)
        lines = [f"{source}: {path}: {message}" if path else f"{source}: {message}" for path, message in problems]
        if len(lines) > 1:
            lines.insert(0, f"{source}: {len(lines)} problems; the hall was not loaded:")
        super().__init__("\n".join(lines))


def load_hall(path: str | Path) -> Hall:
    """Read and validate a hall TOML file; raises ConfigError (never OSError) when it cannot be used."""
    source = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as err:
        raise ConfigError(source, [("", f"cannot read the file: {err.strerror or err}")]) from err
    except UnicodeDecodeError as err:
        raise ConfigError(source, [("", f"not UTF-8 text (byte {err.start}); save the file as UTF-8")]) from err
    return parse_hall(text, source)


def parse_hall(text: str, source: str = "<string>") -> Hall:
    """Validate hall TOML text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(source, [("", f"not valid TOML: {err}")]) from err
    reader = Reader()
    hall = _hall(reader, data, source)
    if reader.problems:
        raise ConfigError(source, reader.problems)
    log.debug("loaded hall %s from %s: %s", hall.code, source, hall.summary())
    return hall


def _hall(r: Reader, data: dict[str, Any], source: str) -> Hall:
    r.table(data, "", TOP_KEYS)
    head = r.table(data.get("hall", {}), "hall", HALL_KEYS)
    if "hall" not in data:
        r.problem("hall", "missing (this table is required)")
    name = r.string(head, "hall", "name", REQUIRED if "hall" in data else "")
    code = r.string(head, "hall", "code", "hall", pattern=_CODE, hint=_CODE_HINT)
    timezone = r.string(head, "hall", "timezone", "Asia/Shanghai")
    if timezone.strip():
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            r.problem("hall.timezone", f"unknown time zone {timezone!r} (use an IANA name such as 'Asia/Shanghai')")
    public_url = r.string(head, "hall", "public_url", "", pattern=_PUBLIC_URL, hint=_PUBLIC_URL_HINT).rstrip("/")
    holder_key = r.string(head, "hall", "holder_key", "", pattern=_HOLDER_KEY, hint=_HOLDER_KEY_HINT)
    holder_key_file = r.string(head, "hall", "holder_key_file", "", max_len=1000)
    if holder_key and holder_key_file:
        r.problem("hall.holder_key", "give either holder_key (demo halls only) or holder_key_file, not both")
    hours = _hours(r, data)
    departments = _departments(r, data)
    services = _services(r, data, {d.code for d in departments}, hours)
    windows = _windows(r, data, services, {d.code for d in departments})
    numbers = {w.number for w in windows}
    staff = _staff(r, data, numbers)  # read in file order, so the problems come out in file order
    nodes = _nodes(r, data, numbers)
    return Hall(name=name, timezone=timezone, hours=hours, departments=departments, services=services,
                windows=windows, nodes=nodes, staff=staff, alerts=rules.alerts(r, data), policy=_policy(r, data),
                green=rules.green(r, data), ratings=rules.ratings(r, data), code=code, source=source,
                public_url=public_url, holder_key=holder_key, holder_key_file=holder_key_file)


def _hours(r: Reader, data: dict[str, Any]) -> HallHours:
    if "hours" not in data:
        r.problem("hours", "missing (this table is required)")
    t = r.table(data.get("hours", {}), "hours", HOURS_KEYS)
    located = r.located_ranges(t, "hours", "weekdays", REQUIRED if "hours" in data else ())
    weekdays = tuple(rng for _, rng in located)
    if isinstance(t.get("weekdays"), list) and not t["weekdays"]:
        r.problem("hours.weekdays", "must list at least one session, e.g. [\"09:00-12:00\", \"13:30-17:30\"]")
    extended_located = r.located_ranges(t, "hours", "extended")
    extended = tuple(rng for _, rng in extended_located)
    for path, rng in extended_located:
        for day_path, day in located:
            if overlaps(rng, day):
                r.problem(path, f"{rng} overlaps the weekday session {day} at {day_path}")
    weekend = r.ranges(t, "hours", "weekend")
    days: list[int] = []
    for i, day in enumerate(r.array(t, "hours", "weekend_days", [5])):
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            r.problem(f"hours.weekend_days[{i}]", f"expected a weekday number 0-6 (0 = Monday, 5 = Saturday), "
                      f"got {day!r}")
        elif day in days:
            r.problem(f"hours.weekend_days[{i}]", f"day {day} is listed twice")
        else:
            days.append(day)
    holidays = r.dates(t, "hours", "holidays")
    workdays = r.dates(t, "hours", "workdays")
    for date in sorted(set(holidays) & set(workdays)):
        r.problem("hours.workdays", f"{date} is both a holiday and a make-up workday")
    return HallHours(weekdays, extended, weekend, tuple(days), holidays, workdays)


def _departments(r: Reader, data: dict[str, Any]) -> tuple[Department, ...]:
    out: list[tuple[str, Department]] = []
    for path, raw in r.tables(data, "", "departments"):
        t = r.table(raw, path, DEPARTMENT_KEYS)
        out.append((path, Department(code=r.string(t, path, "code", pattern=_CODE, hint=_CODE_HINT),
                                     name=r.string(t, path, "name"))))
    if "departments" in data and not out:
        r.problem("departments", "the hall needs at least one department")
    r.unique(((sub(p, "code"), d.code) for p, d in out), "department code")
    return tuple(d for _, d in out)


def _services(r: Reader, data: dict[str, Any], departments: set[str], hours: HallHours) -> tuple[Service, ...]:
    out: list[tuple[str, Service]] = []
    for path, raw in r.tables(data, "", "services"):
        t = r.table(raw, path, SERVICE_KEYS)
        department = r.string(t, path, "department")
        if department.strip() and department not in departments:
            r.problem(sub(path, "department"), f"unknown department {department!r} (known: {listing(departments)})")
        own_hours = r.ranges(t, path, "hours")
        for i, rng in enumerate(own_hours):
            if not within(rng, hours.weekdays):
                r.problem(sub(path, f"hours[{i}]"), f"{rng} is outside the hall's weekday sessions "
                          f"({', '.join(map(str, hours.weekdays)) or 'none'})")
        extended = r.boolean(t, path, "extended", False)
        weekend = r.boolean(t, path, "weekend", False)
        if extended and not hours.extended:
            r.problem(sub(path, "extended"), "true, but [hours] has no extended sessions")
        if weekend and not hours.weekend:
            r.problem(sub(path, "weekend"), "true, but [hours] has no weekend sessions")
        sessions = list(own_hours or hours.weekdays)
        sessions += list(hours.extended if extended else ()) + list(hours.weekend if weekend else ())
        code = r.string(t, path, "code", pattern=_CODE, hint=_CODE_HINT)
        name = r.string(t, path, "name")
        prefix = r.string(t, path, "prefix", pattern="[A-Z]", hint="one upper-case letter A-Z")
        daily_quota = r.integer(t, path, "daily_quota", 0, low=0, high=100_000)
        slots = _slots(r, t, path, sessions)
        expected_minutes = r.number(t, path, "expected_minutes", 10.0, low=0, high=480, low_open=True)
        appointments = r.boolean(t, path, "appointments", False)
        real_name = r.boolean(t, path, "real_name", False)
        booking = rules.booking(r, t, path, appointments=appointments, daily_quota=daily_quota, slots=slots,
                                sessions=sessions)
        service = Service(
            code=code, name=name, department=department, prefix=prefix, daily_quota=daily_quota,
            slot_quotas=tuple(q for _, q in slots), hours=own_hours, extended=extended, weekend=weekend,
            expected_minutes=expected_minutes, appointments=appointments, real_name=real_name,
            name_en=r.string(t, path, "name_en", ""), booking=booking, materials=rules.materials(r, t, path))
        out.append((path, service))
    if "services" in data and not out:
        r.problem("services", "the hall needs at least one service")
    r.unique(((sub(p, "code"), s.code) for p, s in out), "service code")
    r.unique(((sub(p, "prefix"), s.prefix) for p, s in out), "ticket prefix")
    return tuple(s for _, s in out)


def _slots(r: Reader, t: dict[str, Any], path: str, sessions: list[TimeRange]) -> list[tuple[str, SlotQuota]]:
    """The service's slot quotas, each with the dotted path of its table (for the booking cross-checks)."""
    out: list[tuple[str, SlotQuota]] = []
    for slot_path, raw in r.tables(t, path, "slot_quotas", ()):
        s = r.table(raw, slot_path, SLOT_KEYS)
        quota = r.integer(s, slot_path, "quota", low=0, high=100_000)
        span_path = sub(slot_path, "span")
        if "span" not in s:
            r.problem(span_path, "missing (this key is required)")
            continue
        raw_span = s["span"]
        parsed = parse_range(raw_span) if isinstance(raw_span, str) else (
            f"expected a string like \"09:00-10:00\", got {describe(raw_span)}")
        if isinstance(parsed, str):
            r.problem(span_path, parsed)
            continue
        span = parsed
        if not within(span, sessions):
            r.problem(span_path, f"{span} is outside the service's hours "
                      f"({', '.join(map(str, sessions)) or 'none'})")
        for other_path, other in out:
            if overlaps(span, other.span):
                r.problem(span_path, f"{span} overlaps the slot {other.span} at {sub(other_path, 'span')}")
        out.append((slot_path, SlotQuota(span, quota)))
    return out


def _window_services(r: Reader, t: dict[str, Any], path: str,
                     services: dict[str, Service]) -> tuple[WindowService, ...]:
    out: list[tuple[str, WindowService]] = []
    for item_path, raw in r.tables(t, path, "services"):
        if isinstance(raw, str):  # shorthand: "A01" means {service = "A01"}
            raw = {"service": raw}
        s = r.table(raw, item_path, WINDOW_SERVICE_KEYS)
        code = r.string(s, item_path, "service")
        if code.strip() and code not in services:
            r.problem(sub(item_path, "service"), f"unknown service {code!r} (known: {listing(services)})")
        out.append((item_path, WindowService(code, r.integer(s, item_path, "weight", 1, low=1, high=100),
                                             r.integer(s, item_path, "order", 0, low=0, high=1000))))
    if "services" in t and isinstance(t["services"], list) and not out:
        r.problem(sub(path, "services"), "a window must serve at least one service")
    r.unique(((sub(p, "service"), ws.service) for p, ws in out), "service in this window")
    return tuple(ws for _, ws in out)


def _windows(r: Reader, data: dict[str, Any], services: Sequence[Service],
             departments: set[str]) -> tuple[Window, ...]:
    by_code = {s.code: s for s in services}
    out: list[tuple[str, Window]] = []
    valid_numbers: set[str] = set()
    for path, raw in r.tables(data, "", "windows"):
        t = r.table(raw, path, WINDOW_KEYS)
        kind_text = r.string(t, path, "kind", "general")
        kind = WindowKind.GENERAL
        if kind_text in {k.value for k in WindowKind}:
            kind = WindowKind(kind_text)
        elif kind_text.strip():
            r.problem(sub(path, "kind"), f"unknown window kind {kind_text!r} (known: {listing(WindowKind)})")
        department = r.string(t, path, "department", "")
        if department and department not in departments:
            r.problem(sub(path, "department"), f"unknown department {department!r} (known: {listing(departments)})")
        window = Window(number=r.integer(t, path, "number", low=1, high=_MAX_WINDOWS), name=r.string(t, path, "name"),
                        kind=kind, services=_window_services(r, t, path, by_code), department=department)
        out.append((path, window))
        if isinstance(t.get("number"), int) and not isinstance(t.get("number"), bool):
            valid_numbers.add(path)
    if "windows" in data and not out:
        r.problem("windows", "the hall needs at least one window")
    r.unique(((sub(p, "number"), w.number) for p, w in out if p in valid_numbers), "window number")
    served = {ws.service for _, w in out for ws in w.services}
    for i, service in enumerate(services):
        if service.code and service.code not in served:
            r.problem(f"services[{i}].code", f"no window serves {service.code!r}, so its tickets could never be "
                      f"called; add it to a window's services")
    return tuple(w for _, w in out)


def _window_refs(r: Reader, t: dict[str, Any], path: str, windows: set[int]) -> tuple[int, ...]:
    out: list[int] = []
    for i, number in enumerate(r.array(t, path, "windows", ())):
        where = sub(sub(path, "windows"), i)
        if isinstance(number, bool) or not isinstance(number, int):
            r.problem(where, f"expected a window number, got {number!r}")
        elif number not in windows:
            r.problem(where, f"window {number} does not exist (windows: {listing(map(str, sorted(windows)))})")
        elif number in out:
            r.problem(where, f"window {number} is listed twice")
        else:
            out.append(number)
    return tuple(out)


def _staff(r: Reader, data: dict[str, Any], windows: set[int]) -> tuple[Staff, ...]:
    out: list[tuple[str, Staff]] = []
    for path, raw in r.tables(data, "", "staff", ()):
        t = r.table(raw, path, STAFF_KEYS)
        pin_hash = r.string(t, path, "pin_hash", max_len=400)
        if pin_hash.strip() and not is_pin_hash(pin_hash):
            r.problem(sub(path, "pin_hash"), "not a PIN hash (expected scrypt$N$r$p$salt_hex$hash_hex as printed "
                      "by 'python -m config.secrets hash-pin'; never put a PIN in clear)")
        out.append((path, Staff(id=r.string(t, path, "id", pattern=_CODE, hint=_CODE_HINT),
                                name=r.string(t, path, "name"), pin_hash=pin_hash,
                                windows=_window_refs(r, t, path, windows))))
    r.unique(((sub(p, "id"), s.id) for p, s in out), "staff id")
    return tuple(s for _, s in out)


def _token_hash(r: Reader, t: dict[str, Any], path: str) -> tuple[str, str | None]:
    """The node's (token_hash, demo_token); a token in clear is hashed here and kept only as a demo token."""
    if "token" in t and "token_hash" in t:
        r.problem(sub(path, "token"), "give either token (demo only) or token_hash, not both")
    if "token" in t:
        token = r.string(t, path, "token", pattern=r"[!-~]{8,200}", hint="8 or more printable ASCII characters")
        return (hash_token(token), token) if token.strip() else ("", None)
    if "token_hash" in t:
        digest = r.string(t, path, "token_hash")
        if digest.strip() and not is_token_hash(digest):
            r.problem(sub(path, "token_hash"), "expected 64 lower-case hex digits (the sha256 of the token, as "
                      "printed by 'python -m config.secrets hash-token')")
        return digest, None
    r.problem(sub(path, "token_hash"), "missing: a node needs token_hash (or token, in a demo hall)")
    return "", None


def _devices(r: Reader, t: dict[str, Any], path: str) -> dict[str, str]:
    where = sub(path, "devices")
    raw = r.table(t.get("devices", {}), where, tuple(DEVICE_KINDS))
    out: dict[str, str] = {}
    lines: dict[tuple[object, ...], str] = {}
    for name, url in raw.items():
        if name not in DEVICE_KINDS:
            continue  # already reported as an unknown key
        device_path = sub(where, name)
        if not isinstance(url, str):
            r.problem(device_path, f"expected a device URL string, got {type(url).__name__}")
            continue
        try:
            address = parse_device_url(url)
        except UrlError as err:
            r.problem(device_path, str(err))
            continue
        if address.kind != DEVICE_KINDS[name]:
            r.problem(device_path, f"{url!r} is a {address.kind} URL, but {name!r} must be a "
                      f"{DEVICE_KINDS[name]} device")
            continue
        if address.kind == "bus485":
            named = address.option("device")
            if named is not None and named != name:
                r.problem(device_path, f"the URL says device={named}, but it is configured as {name!r}")
            elif named is None and name != "callpad":
                r.problem(device_path, f"add &device={name} to the URL (without it the bus driver takes the "
                          f"device at address {address.option('address')} for a callpad)")
            line = (address.real_scheme, address.host, address.port, address.path, address.option("address"))
            if line in lines:
                r.problem(device_path, f"bus address {address.option('address')} on this line is already used by "
                          f"{lines[line]!r}")
            lines[line] = name
        out[name] = url
    return out


def _nodes(r: Reader, data: dict[str, Any], windows: set[int]) -> tuple[Node, ...]:
    out: list[tuple[str, Node]] = []
    for path, raw in r.tables(data, "", "nodes", ()):
        t = r.table(raw, path, NODE_KEYS)
        role_text = r.string(t, path, "role")
        role = NodeRole.DISPLAY
        if role_text in {k.value for k in NodeRole}:
            role = NodeRole(role_text)
        elif role_text.strip():
            r.problem(sub(path, "role"), f"unknown role {role_text!r} (known: {listing(NodeRole)})")
        window: int | None = None
        if role_text == NodeRole.WINDOW:
            window = r.integer(t, path, "window", low=1, high=_MAX_WINDOWS)
            if "window" in t and window not in windows and window == t["window"]:
                r.problem(sub(path, "window"), f"window {window} does not exist "
                          f"(windows: {listing(map(str, sorted(windows)))})")
        elif "window" in t and role_text.strip():
            r.problem(sub(path, "window"), f"only a node with role = \"window\" has a window (this one is "
                      f"{role_text!r})")
        token_hash, demo_token = _token_hash(r, t, path)
        node = Node(name=r.string(t, path, "name", pattern=_CODE, hint=_CODE_HINT), role=role,
                    token_hash=token_hash, window=window, devices=_devices(r, t, path), demo_token=demo_token)
        out.append((path, node))
    r.unique(((sub(p, "name"), n.name) for p, n in out), "node name")
    r.unique(((sub(p, "token" if n.demo_token else "token_hash"), n.token_hash) for p, n in out),
             "token (same hash as another node)")
    return tuple(n for _, n in out)


_POLICY_BOUNDS = {"recall_limit": (0, 10), "requeue_limit": (0, 10), "requeue_window_minutes": (0, 1440),
                  "max_bypass": (1, 1000)}


def _policy(r: Reader, data: dict[str, Any]) -> QueuePolicy:
    policy: QueuePolicy = r.record(data.get("policy", {}), "policy", QueuePolicy, _POLICY_BOUNDS)
    return policy
