"""The API edge's text rules and JSON nesting bound, without a server."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queue_server.api.errors import MAX_JSON_DEPTH, json_too_deep
from queue_server.api.text import text_problem

REFUSED = {
    "\ud800": "a lone surrogate", "王*\udfff": "a lone surrogate", "\x00": "a control character",
    "a\t": "a control character", "a\n": "a control character", "\x7f": "a control character",
    "\x9b": "a control character", "\u202e": "a bidirectional text control",
    "\u202a": "a bidirectional text control", "\u2067": "a bidirectional text control",
    "\u200f": "a bidirectional text control", "\u061c": "a bidirectional text control",
    "\u200b": "an invisible format character", "\ufeff": "an invisible format character",
    "\u00ad": "an invisible format character", "\U000e0041": "an invisible format character",
    "\u2028": "a line or paragraph separator", "\u2029": "a line or paragraph separator",
    "\ufdd0": "a noncharacter", "\ufffe": "a noncharacter", "\U0001ffff": "a noncharacter",
    "\U0010ffff": "a noncharacter",
}
ACCEPTED = [
    "王*", "𬌗*", "𠀾", "A01", "green", "张三丰", "欧阳*", "暂停 (午休)", "\ue000*",  # private use: rare name glyphs
    "葛\U000e0100*",  # an ideographic variation sequence
    "ئۇيغۇر\u200c",  # ZWNJ shapes Arabic-script (Uyghur) names
    "\U000323b0",  # CJK Extension H: unassigned in older Unicode databases, but a real character
    "", " ", "~",
]


@pytest.mark.parametrize(("text", "kind"), REFUSED.items(), ids=[f"U+{ord(t[-1]):04X}" for t in REFUSED])
def test_refused_text_names_the_character(text: str, kind: str) -> None:
    problem = text_problem(text)
    assert problem is not None
    assert problem.kind_en == kind
    assert problem.position == len(text) - 1
    assert problem.code_point_label == f"U+{ord(text[-1]):04X}"


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted_text(text: str) -> None:
    assert text_problem(text) is None


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30))
def test_accepted_text_can_be_stored_and_shows_no_invisible_controls(text: str) -> None:
    if text_problem(text) is None:
        text.encode("utf-8")  # what the store needs
        categories = {unicodedata.category(c) for c in text if ord(c) not in (0x200C, 0x200D)}
        assert not categories & {"Cc", "Cs", "Cf", "Zl", "Zp"}, text


def _nest(depth: int) -> str:
    """JSON text nested ``depth`` levels, objects and arrays alternating (json.dumps cannot write 1,000)."""
    opens = "".join('{"k": ' if level % 2 else "[" for level in range(depth))
    closes = "".join("}" if level % 2 else "]" for level in reversed(range(depth)))
    return opens + "1" + closes


@pytest.mark.parametrize("depth", [0, 1, 2, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 1000])
def test_json_depth_bound_is_exact(depth: int) -> None:
    raw = _nest(depth).encode()
    if depth < 100:
        assert _depth(json.loads(raw)) == depth
    assert json_too_deep(raw) is (depth > MAX_JSON_DEPTH)


def test_brackets_in_strings_and_escaped_quotes_do_not_count() -> None:
    assert not json_too_deep(json.dumps({"a": "[" * 100, "b": '\\"{' * 50, "c": ["]" * 10]}).encode())
    assert json_too_deep(('{"a": "\\"", "b": ' + _nest(40) + "}").encode())


def test_unterminated_input_is_scanned_in_one_pass() -> None:
    assert not json_too_deep(b'["' + b'\\"' * 30_000)
    assert json_too_deep(b"[" * 60_000)


json_values = st.recursive(st.none() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                       max_size=3),
                           max_leaves=60)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(json_values, st.integers(min_value=0, max_value=6))
def test_depth_matches_the_parsed_value(value: Any, limit: int) -> None:
    assert json_too_deep(json.dumps(value).encode(), limit) is (_depth(value) > limit)
