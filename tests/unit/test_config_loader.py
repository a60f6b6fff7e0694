"""The hall loader: both samples load, and each class of bad config is refused at its exact dotted path."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import sys

import pytest

from config.loader import ConfigError, load_hall, parse_hall
from config.model import NodeRole, WindowKind
from config.secrets import verify_pin
from devices.url import parse_device_url
from tests.support.config_edits import COUNTY, ROOT, TOWNSHIP_TEXT, assert_problem, edited, problems_of

# ---- the samples ---------------------------------------------------------------------------------------

def test_county_sample_is_a_realistic_hall():
    hall = load_hall(COUNTY)
    assert len(hall.departments) >= 10
    assert len(hall.services) >= 25
    assert len(hall.windows) >= 30
    kinds = {w.kind for w in hall.windows}
    assert {WindowKind.GENERAL, WindowKind.DEDICATED, WindowKind.GREEN, WindowKind.ASSISTED,
            WindowKind.COMPLAINTS} <= kinds
    assert sum(w.kind is WindowKind.GENERAL and len(w.services) > 3 for w in hall.windows) >= 3
    assert len({s.prefix for s in hall.services}) == len(hall.services)
    assert any(s.daily_quota == 0 for s in hall.services) and any(s.daily_quota > 0 for s in hall.services)
    assert any(s.slot_quotas for s in hall.services)
    assert sum(s.appointments for s in hall.services) >= 2
    assert any(s.real_name for s in hall.services) and any(s.extended for s in hall.services)
    assert any(s.weekend for s in hall.services)
    assert all(s.name_en for s in hall.services)
    assert [str(r) for r in hall.hours.weekdays] == ["09:00-12:00", "13:30-17:30"]
    assert [str(r) for r in hall.hours.extended] == ["17:30-19:00"]
    assert hall.hours.weekend_days == (5,)
    assert dt.date(2026, 10, 1) in hall.hours.holidays
    assert hall.timezone == "Asia/Shanghai" and hall.source == str(COUNTY)


def test_county_sample_staff_and_nodes():
    hall = load_hall(COUNTY)
    staffed = {n for person in hall.staff for n in person.windows}
    assert staffed >= {w.number for w in hall.windows}
    assert verify_pin("123456", hall.staff[0].pin_hash) and not verify_pin("654321", hall.staff[0].pin_hash)
    roles = [n.role for n in hall.nodes]
    assert roles.count(NodeRole.KIOSK) == 2
    assert {NodeRole.DISPLAY, NodeRole.MANAGER} <= set(roles)
    assert {n.window for n in hall.nodes if n.role is NodeRole.WINDOW} >= set(range(1, 11))
    kiosk = next(n for n in hall.nodes if n.role is NodeRole.KIOSK)
    assert set(kiosk.devices) == {"idcard", "ticket_printer", "smartcard", "certificate_printer"}
    assert all(parse_device_url(url).simulated for n in hall.nodes for url in n.devices.values()
               if not url.startswith("silent"))
    assert any(n.devices.get("speaker") == "silent://" for n in hall.nodes)
    manager = next(n for n in hall.nodes if n.role is NodeRole.MANAGER)
    assert manager.demo_token == "demo-manager"
    assert hall.node_by_token_hash(hashlib.sha256(b"demo-manager").hexdigest()) is manager


def test_township_sample_is_small():
    hall = parse_hall(TOWNSHIP_TEXT, "township_hall.toml")
    assert (len(hall.departments), len(hall.services), len(hall.windows)) == (2, 3, 2)
    assert [n.role for n in hall.nodes].count(NodeRole.KIOSK) == 1
    assert sorted(n.window for n in hall.nodes if n.role is NodeRole.WINDOW) == [1, 2]
    assert hall.window(1).services[2].order == 1 and hall.window(1).services[0].weight == 2


def test_clear_token_is_hashed_and_kept_as_demo_token():
    hall = parse_hall(TOWNSHIP_TEXT, "t.toml")
    kiosk = hall.nodes[0]
    assert kiosk.token_hash == hashlib.sha256(b"demo-kiosk-1").hexdigest()
    assert kiosk.demo_token == "demo-kiosk-1"


def test_token_hash_node_has_no_demo_token():
    digest = hashlib.sha256(b"a real secret token").hexdigest()
    hall = parse_hall(edited(('token = "demo-display" # demo only', f'token_hash = "{digest}"')), "t.toml")
    display = next(n for n in hall.nodes if n.role is NodeRole.DISPLAY)
    assert display.token_hash == digest and display.demo_token is None


def test_defaults_fill_optional_tables():
    hall = parse_hall(edited(("[policy]\nrecall_limit = 3\nmax_bypass = 5\n", "")), "t.toml")
    assert hall.policy.max_bypass == 10 and hall.policy.green_first is True
    assert hall.alerts.long_queue == 15 and hall.alerts.pause_minutes == 20.0


def test_window_service_shorthand_string():
    hall = parse_hall(edited(('services = [{ service = "C01" }]', 'services = ["C01"]')), "t.toml")
    assert hall.window(2).services[0].service == "C01" and hall.window(2).services[0].weight == 1


# ---- refusals: the file, every problem, the exact path ----------------------------------------------------

def test_error_names_the_file_and_lists_every_problem():
    text = edited(('prefix = "B"', 'prefix = "b"'), ("max_bypass = 5", "max_bypass = 0"),
                  ('service = "C01", order = 1', 'service = "XYZ", order = 1'))
    with pytest.raises(ConfigError) as caught:
        parse_hall(text, "township_hall.toml")
    err = caught.value
    assert isinstance(err, ValueError)
    paths = [p for p, _ in err.problems]
    assert paths == ["services[1].prefix", "windows[0].services[2].service", "policy.max_bypass"]
    lines = str(err).splitlines()
    assert lines[0] == "township_hall.toml: 3 problems; the hall was not loaded:"
    assert "township_hall.toml: windows[0].services[2].service: unknown service 'XYZ' (known: A01, B01, C01)" in lines


def test_missing_file_and_bad_toml_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"nowhere\.toml: cannot read the file"):
        load_hall(tmp_path / "nowhere.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[hall\nname = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML: .*line 1"):
        load_hall(broken)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[hall]")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_hall(binary)


WINDOW_2_CALLPAD = 'token = "demo-window-2" # demo only\n[nodes.devices]\ncallpad = "sim+modbus+serial://?address=1&device=callpad"'
BAD = [
    # unknown keys, at every level, with the allowed keys listed
    ("unknown top key", ("[alerts]", "[alert]"), "alert", ["unknown key", "allowed: hall, hours"]),
    ("unknown hall key", ('code = "qingshi"', 'code = "qingshi"\ncolour = "red"'), "hall.colour",
     ["unknown key", "name, code, timezone"]),
    ("unknown service key", ('prefix = "A"', 'prefix = "A"\nquotum = 3'), "services[0].quotum",
     ["unknown key", "daily_quota"]),
    ("unknown window-service key", ('service = "B01" }', 'service = "B01", wieght = 2 }'),
     "windows[0].services[1].wieght", ["unknown key", "service, weight, order"]),
    ("unknown device name", ('ticket_printer = "sim+escpos+tcp://"', 'printer = "sim+escpos+tcp://"'),
     "nodes[0].devices.printer", ["unknown key", "ticket_printer"]),
    ("unknown policy key", ("max_bypass = 5", "max_bypass = 5\nmax_pass = 1"), "policy.max_pass",
     ["unknown key", "recall_limit"]),
    # wrong types
    ("quota as text", ("daily_quota = 60", 'daily_quota = "60"'), "services[0].daily_quota",
     ["expected a whole number", "a string ('60')"]),
    ("quota as bool", ("daily_quota = 60", "daily_quota = true"), "services[0].daily_quota",
     ["expected a whole number", "true"]),
    ("flag as text", ('real_name = true\n\n[[services]]\ncode = "B01"',
                      'real_name = "yes"\n\n[[services]]\ncode = "B01"'),
     "services[0].real_name", ["expected true or false"]),
    ("name as number", ('name = "青石镇便民服务中心"', "name = 5"), "hall.name", ["expected a string", "integer"]),
    ("windows as table", ("[[windows]]\nnumber = 2", "[[windowz]]\nnumber = 2"), "windowz", ["unknown key"]),
    ("staff windows as text", ("windows = [1]", 'windows = "1"'), "staff[0].windows", ["expected a list"]),
    # missing required keys
    ("missing prefix", ('prefix = "B"\n', ""), "services[1].prefix", ["missing", "required"]),
    ("missing hall name", ('name = "青石镇便民服务中心"\n', ""), "hall.name", ["missing"]),
    ("missing weekdays", ('weekdays = ["08:30-12:00", "14:00-17:30"]\n', ""), "hours.weekdays", ["missing"]),
    ("missing window number", ("number = 2\n", ""), "windows[1].number", ["missing"]),
    ("missing slot quota", ("[policy]", '[[services.slot_quotas]]\nspan = "09:00-10:00"\n[policy]'),
     "services[2].slot_quotas[0].quota", ["missing"]),
    # references
    ("unknown service in window", ('service = "C01", order = 1', 'service = "XYZ", order = 1'),
     "windows[0].services[2].service", ["unknown service 'XYZ'", "known: A01, B01, C01"]),
    ("unknown department", ('department = "minzheng"\nprefix = "C"', 'department = "mz"\nprefix = "C"'),
     "services[2].department", ["unknown department 'mz'", "known:"]),
    ("unknown window department",
     ('kind = "dedicated"\ndepartment = "minzheng"', 'kind = "dedicated"\ndepartment = "x"'),
     "windows[1].department", ["unknown department 'x'"]),
    ("service nobody serves", [('services = [{ service = "C01" }]', 'services = [{ service = "A01" }]'),
                               (', { service = "C01", order = 1 }', "")],
     "services[2].code", ["no window serves 'C01'"]),
    # duplicates
    ("duplicate service code", ('code = "B01"', 'code = "A01"'), "services[1].code",
     ["duplicate service code 'A01'", "services[0].code"]),
    ("duplicate prefix", ('prefix = "B"', 'prefix = "A"'), "services[1].prefix", ["duplicate ticket prefix 'A'"]),
    ("duplicate window number", ("number = 2", "number = 1"), "windows[1].number", ["duplicate window number 1"]),
    ("duplicate node name", ('name = "window-2"', 'name = "window-1"'), "nodes[2].name",
     ["duplicate node name 'window-1'"]),
    ("duplicate staff id", ('id = "s002"', 'id = "s001"'), "staff[1].id", ["duplicate staff id 's001'"]),
    ("duplicate department", ('code = "minzheng"', 'code = "shebao"'), "departments[1].code",
     ["duplicate department code"]),
    ("duplicate token", ('token = "demo-window-2"', 'token = "demo-window-1"'), "nodes[2].token", ["duplicate token"]),
    ("service twice in a window", ('service = "C01", order = 1', 'service = "A01", order = 1'),
     "windows[0].services[2].service", ["duplicate service in this window 'A01'"]),
    # values and ranges
    ("lower-case prefix", ('prefix = "B"', 'prefix = "b"'), "services[1].prefix", ["one upper-case letter A-Z"]),
    ("two-letter prefix", ('prefix = "B"', 'prefix = "BB"'), "services[1].prefix", ["one upper-case letter"]),
    ("negative quota", ("daily_quota = 60", "daily_quota = -1"), "services[0].daily_quota", ["out of range", "0 to"]),
    ("zero expected minutes", ("expected_minutes = 8", "expected_minutes = 0"), "services[0].expected_minutes",
     ["out of range", "more than 0"]),
    ("nan expected minutes", ("expected_minutes = 8", "expected_minutes = nan"), "services[0].expected_minutes",
     ["out of range"]),
    ("zero weight", ('service = "A01", weight = 2', 'service = "A01", weight = 0'), "windows[0].services[0].weight",
     ["out of range", "1 to 100"]),
    ("window with no services", ('services = [{ service = "C01" }]', "services = []"), "windows[1].services",
     ["at least one service"]),
    ("unknown window kind", ('kind = "dedicated"', 'kind = "vip"'), "windows[1].kind",
     ["unknown window kind 'vip'", "general, dedicated, green, assisted, complaints"]),
    ("recall limit too high", ("recall_limit = 3", "recall_limit = 11"), "policy.recall_limit", ["0 to 10"]),
    ("max bypass zero", ("max_bypass = 5", "max_bypass = 0"), "policy.max_bypass", ["1 to 1000"]),
    ("green_first as int", ("max_bypass = 5", "max_bypass = 5\ngreen_first = 1"), "policy.green_first",
     ["expected true or false"]),
    ("long wait zero", ("long_wait_minutes = 30", "long_wait_minutes = 0"), "alerts.long_wait_minutes",
     ["out of range"]),
    ("long queue too big", ("long_queue = 15", "long_queue = 100000"), "alerts.long_queue", ["1 to 10000"]),
    ("bad hall code", ('code = "qingshi"', 'code = "qing shi"'), "hall.code", ["no spaces"]),
    # time and hours
    ("bad HH:MM", ('"08:30-12:00", "14:00-17:30"', '"8:30-12:00", "14:00-17:30"'), "hours.weekdays[0]",
     ["bad time range '8:30-12:00'", "HH:MM-HH:MM"]),
    ("hour 25", ('"08:30-12:00", "14:00-17:30"', '"08:30-12:00", "14:00-25:00"'), "hours.weekdays[1]",
     ["bad time range"]),
    ("start after end", ('"08:30-12:00", "14:00-17:30"', '"12:00-08:30", "14:00-17:30"'), "hours.weekdays[0]",
     ["ends before it starts"]),
    ("empty range", ('"08:30-12:00", "14:00-17:30"', '"08:30-08:30", "14:00-17:30"'), "hours.weekdays[0]",
     ["ends before it starts"]),
    ("overlapping sessions", ('"08:30-12:00", "14:00-17:30"', '"08:30-14:30", "14:00-17:30"'), "hours.weekdays[1]",
     ["14:00-17:30 overlaps 08:30-14:30", "hours.weekdays[0]"]),
    ("time object", ('"08:30-12:00", "14:00-17:30"', '08:30:00'), "hours.weekdays[0]",
     ["expected a string like", "a time (08:30:00)"]),
    ("weekdays as text", ('["08:30-12:00", "14:00-17:30"]', '"08:30-12:00"'), "hours.weekdays", ["expected a list"]),
    ("extended overlaps weekday", ("weekend_days = []", 'extended = ["17:00-19:00"]\nweekend_days = []'),
     "hours.extended[0]", ["overlaps the weekday session 14:00-17:30", "hours.weekdays[1]"]),
    ("weekend sessions overlap", ("weekend_days = []", 'weekend = ["09:00-11:00", "10:00-12:00"]\nweekend_days = []'),
     "hours.weekend[1]", ["overlaps 09:00-11:00"]),
    ("weekend day 7", ("weekend_days = []", "weekend_days = [7]"), "hours.weekend_days[0]", ["0-6"]),
    ("bad date string", ("2026-10-05]", '"2026-02-30"]'), "hours.holidays[2]", ["not a real date"]),
    ("date-time holiday", ("2026-10-05]", "2026-10-05T09:00:00]"), "hours.holidays[2]",
     ["expected a date", "date-time"]),
    ("holiday is workday", ("workdays = [2026-10-10]", "workdays = [2026-10-01]"), "hours.workdays",
     ["both a holiday and a make-up workday"]),
    ("bad timezone", ('timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"'), "hall.timezone",
     ["unknown time zone 'Asia/Beijing'"]),
    ("path timezone", ('timezone = "Asia/Shanghai"', 'timezone = "../etc/passwd"'), "hall.timezone",
     ["unknown time zone"]),
    ("service hours outside hall", ("expected_minutes = 6", 'expected_minutes = 6\nhours = ["12:00-13:00"]'),
     "services[1].hours[0]", ["outside the hall's weekday sessions"]),
    ("extended service without sessions", ("expected_minutes = 6", "expected_minutes = 6\nextended = true"),
     "services[1].extended", ["no extended sessions"]),
    ("slot outside hours", ("[policy]", '[[services.slot_quotas]]\nspan = "12:00-14:30"\nquota = 5\n[policy]'),
     "services[2].slot_quotas[0].span", ["outside the service's hours"]),
    ("overlapping slots", ("[policy]", '[[services.slot_quotas]]\nspan = "09:00-10:00"\nquota = 5\n'
                                       '[[services.slot_quotas]]\nspan = "09:30-11:00"\nquota = 5\n[policy]'),
     "services[2].slot_quotas[1].span", ["overlaps the slot 09:00-10:00", "services[2].slot_quotas[0].span"]),
    ("negative slot quota", ("[policy]", '[[services.slot_quotas]]\nspan = "09:00-10:00"\nquota = -5\n[policy]'),
     "services[2].slot_quotas[0].quota", ["out of range"]),
    ("bad slot span", ("[policy]", '[[services.slot_quotas]]\nspan = "9-10"\nquota = 5\n[policy]'),
     "services[2].slot_quotas[0].span", ["bad time range"]),
    # nodes
    ("window node without window", ("window = 1\n", ""), "nodes[1].window", ["missing"]),
    ("window node unknown window", ("window = 2\n", "window = 9\n"), "nodes[2].window", ["window 9 does not exist"]),
    ("display with window", ('role = "display"', 'role = "display"\nwindow = 1'), "nodes[3].window",
     ['only a node with role = "window"']),
    ("unknown role", ('role = "display"', 'role = "screen"'), "nodes[3].role",
     ["unknown role 'screen'", "kiosk, window, display, manager"]),
    ("bad device url", ('idcard = "sim+sam+serial://"', 'idcard = "sam+serial://"'), "nodes[0].devices.idcard",
     ["could not parse 'sam+serial://'", "a device path such as /dev/ttyUSB0 is required"]),
    ("unknown device scheme", ('idcard = "sim+sam+serial://"', 'idcard = "usb://reader"'), "nodes[0].devices.idcard",
     ["unknown scheme 'usb'"]),
    ("device url option", ('idcard = "sim+sam+serial://"', 'idcard = "sim+sam+serial://?speed=9"'),
     "nodes[0].devices.idcard", ["unknown option 'speed'"]),
    ("device of the wrong kind", ('idcard = "sim+sam+serial://"', 'idcard = "sim+escpos+tcp://"'),
     "nodes[0].devices.idcard", ["ticket_printer URL", "'idcard' must be a idcard device"]),
    ("bus address reused", (WINDOW_2_CALLPAD, WINDOW_2_CALLPAD.replace("address=1", "address=2")),
     "nodes[2].devices.window_display", ["bus address 2", "'callpad'"]),
    ("bus device name mismatch", (WINDOW_2_CALLPAD, WINDOW_2_CALLPAD.replace("device=callpad", "device=rating_pad")),
     "nodes[2].devices.callpad", ["the URL says device=rating_pad", "'callpad'"]),
    ("bus device kind not named", ("address=2&device=window_display\"\nrating_pad = \"sim+modbus+serial://?address=3"
                                   "&device=rating_pad\"\n\n[[nodes]]\nname = \"window-2\"",
                                   "address=2\"\nrating_pad = \"sim+modbus+serial://?address=3&device=rating_pad\"\n\n"
                                   "[[nodes]]\nname = \"window-2\""),
     "nodes[1].devices.window_display", ["add &device=window_display"]),
    ("node without token", ('token = "demo-display" # demo only', ""), "nodes[3].token_hash",
     ["needs token_hash (or token"]),
    ("short token hash", ('token = "demo-display" # demo only', 'token_hash = "abc123"'), "nodes[3].token_hash",
     ["64 lower-case hex digits"]),
    ("token and hash",
     ('token = "demo-display" # demo only', 'token = "demo-display"\ntoken_hash = "' + "a" * 64 + '"'),
     "nodes[3].token", ["not both"]),
    ("short token", ('token = "demo-display"', 'token = "demo"'), "nodes[3].token", ["8 or more"]),
    # staff
    ("pin in clear", ('name = "王丽"\npin_hash = "', 'name = "王丽"\npin_hash = "123456"\nx = "'), "staff[0].pin_hash",
     ["not a PIN hash", "hash-pin"]),
    ("staff unknown window", ("windows = [2]", "windows = [2, 5]"), "staff[1].windows[1]", ["window 5 does not exist"]),
]


@pytest.mark.parametrize(("edit", "path", "words"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_config_is_refused_at_its_path(edit, path, words):
    assert_problem(edited(*edit) if isinstance(edit, list) else edited(edit), path, *words)


def test_pin_hash_with_huge_cost_is_refused():
    import re

    text = re.sub(r"scrypt\$16384\$", "scrypt$1073741824$", TOWNSHIP_TEXT, count=1)
    assert_problem(text, "staff[0].pin_hash", "not a PIN hash")


def test_minimal_inline_hall_and_missing_sections():
    found = dict(problems_of("[hall]\nname = 'x'\n"))
    assert set(found) >= {"hours", "departments", "services", "windows"}
    hall = parse_hall("""
        [hall]
        name = "最小大厅"
        [hours]
        weekdays = ["09:00-17:00"]
        [[departments]]
        code = "d"
        name = "部门"
        [[services]]
        code = "S1"
        name = "事项"
        department = "d"
        prefix = "S"
        [[windows]]
        number = 1
        name = "窗口"
        services = ["S1"]
    """, "inline")
    assert hall.timezone == "Asia/Shanghai" and hall.code == "hall" and hall.windows[0].kind is WindowKind.GENERAL
    assert hall.hours.weekend_days == (5,) and hall.nodes == () and hall.staff == ()


def test_config_imports_only_stdlib_and_devices_url():
    """The house import rule for the config room, walked with ast."""
    allowed_project = {"config", "devices.url"}
    for module in sorted((ROOT / "config").glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                ok = (top in sys.stdlib_module_names or top == "__future__" or name in allowed_project
                      or top == "config")
                assert ok, f"{module.name} imports {name}"
