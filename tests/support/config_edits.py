"""Bad hall files made by editing the township sample, and the check that one is refused at its exact path."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigError, parse_hall

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "config" / "samples"
COUNTY = SAMPLES / "county_hall.toml"
TOWNSHIP = SAMPLES / "township_hall.toml"
TOWNSHIP_TEXT = TOWNSHIP.read_text(encoding="utf-8")


def edited(*pairs: tuple[str, str]) -> str:
    """The township sample with each ``old`` text (which must occur exactly once) replaced by ``new``."""
    text = TOWNSHIP_TEXT
    for old, new in pairs:
        assert text.count(old) == 1, f"the township sample no longer contains {old!r} exactly once"
        text = text.replace(old, new)
    return text


def problems_of(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_hall(text, "township_hall.toml")
    return caught.value.problems


def assert_problem(text: str, path: str, *words: str) -> None:
    """``text`` is refused with a problem at exactly ``path`` whose message holds every one of ``words``."""
    found = problems_of(text)
    at_path = [message for where, message in found if where == path]
    assert at_path, f"no problem at {path!r}; got {found}"
    assert any(all(w in message for w in words) for message in at_path), f"{words} not in {at_path}"
