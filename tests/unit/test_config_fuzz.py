"""Whatever text a technician saves, the loader either returns a Hall or raises ConfigError, nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.loader import ConfigError, parse_hall
from config.model import Hall

TOWNSHIP = (Path(__file__).resolve().parents[2] / "config" / "samples" / "township_hall.toml").read_text("utf-8")
LINES = TOWNSHIP.splitlines()
ASSIGNMENT = re.compile(r"^(\s*[\w.\"]+\s*=\s*)(.*)$")

# TOML values that are valid syntax but often the wrong type, range or shape for the key they land on.
VALUES = st.sampled_from([
    "-1", "0", "1", "7", "101", "99999999999999999999", "1e999", "-inf", "nan", "0.5", "true", "false",
    '""', '" "', '"x"', '"A"', '"a"', '"XYZ"', '"09:00-10:00"', '"25:00-26:00"', '"12:00-09:00"', '"9-10"',
    "[]", "[1]", '["A01"]', '[{ service = "A01" }]', '[{ service = "A01", weight = 0 }]', "{}", "{ a = 1 }",
    "2026-02-28", "2026-10-01T09:00:00", "09:00:00", '"sim+pcsc://["', '"silent://?repeat=x"',
    '"modbus+serial:///dev/ttyUSB1"', '"Asia/Nowhere"', '"../../etc/passwd"', '"scrypt$2$1$1$00$00"',
    '"' + "f" * 64 + '"', '"sim+escpos+tcp://"', '["1"]', "[[]]", "[0, 7, 5]", '["09:00-12:00", "11:00-13:00"]',
])


def outcome(text: str) -> None:
    try:
        hall = parse_hall(text, "fuzz.toml")
    except ConfigError as err:
        assert err.problems and str(err).startswith("fuzz.toml")
        assert all(isinstance(path, str) and isinstance(message, str) and message for path, message in err.problems)
    else:
        assert isinstance(hall, Hall)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_text_loads_or_raises_config_error(text):
    outcome(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["value", "delete", "duplicate", "junk"]),
                          st.integers(0, len(LINES) - 1), VALUES, st.text(max_size=20)), min_size=1, max_size=4))
def test_mutated_township_loads_or_raises_config_error(edits):
    lines = list(LINES)
    for action, index, value, junk in edits:
        index %= len(lines)
        if action == "value" and (match := ASSIGNMENT.match(lines[index])):
            lines[index] = match[1] + value
        elif action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "junk":
            lines[index] = lines[index][: len(junk)] + junk
        if not lines:
            lines = [""]
    outcome("\n".join(lines))
