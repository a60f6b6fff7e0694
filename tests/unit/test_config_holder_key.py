"""The hall's holder key (HMAC of ID numbers): env, key file, demo key in clear; anything malformed refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.loader import parse_hall
from config.secrets import HOLDER_KEY_ENV, HolderKeyError, holder_secret
from tests.support.config_edits import TOWNSHIP_TEXT, assert_problem

KEY = "ab" * 32
_LINE = re.compile(r'^holder_key = "[0-9a-f]+".*$', re.MULTILINE)


def with_hall_line(line: str) -> str:
    """The township sample with its demo holder_key line replaced by ``line``."""
    assert len(_LINE.findall(TOWNSHIP_TEXT)) == 1
    return _LINE.sub(line, TOWNSHIP_TEXT)


def test_the_sample_halls_carry_a_valid_demo_key() -> None:
    hall = parse_hall(TOWNSHIP_TEXT, "township_hall.toml")
    assert len(holder_secret(hall, {})) == 32


def test_the_environment_wins_over_the_file() -> None:
    hall = parse_hall(TOWNSHIP_TEXT, "township_hall.toml")
    assert holder_secret(hall, {HOLDER_KEY_ENV: "cd" * 40}) == bytes.fromhex("cd" * 40)


def test_a_key_file_is_read_relative_to_the_hall_file(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "holder.key").write_text(KEY + "\n", encoding="ascii")
    hall = parse_hall(with_hall_line('holder_key_file = "keys/holder.key"'), str(tmp_path / "hall.toml"))
    assert holder_secret(hall, {}) == bytes.fromhex(KEY)


@pytest.mark.parametrize("content", ["", "xyz", "AB" * 32, "ab" * 10])
def test_a_malformed_key_file_is_refused_in_words(tmp_path: Path, content: str) -> None:
    (tmp_path / "holder.key").write_text(content, encoding="ascii")
    hall = parse_hall(with_hall_line('holder_key_file = "holder.key"'), str(tmp_path / "hall.toml"))
    with pytest.raises(HolderKeyError, match="64 to 128 lower-case hex digits"):
        holder_secret(hall, {})


def test_a_missing_key_file_names_the_path(tmp_path: Path) -> None:
    hall = parse_hall(with_hall_line('holder_key_file = "nope.key"'), str(tmp_path / "hall.toml"))
    with pytest.raises(HolderKeyError, match=r"nope\.key"):
        holder_secret(hall, {})


def test_no_key_at_all_says_what_to_set() -> None:
    hall = parse_hall(with_hall_line(""), "township_hall.toml")
    with pytest.raises(HolderKeyError, match=HOLDER_KEY_ENV):
        holder_secret(hall, {})


def test_a_bad_demo_key_and_both_keys_are_config_errors() -> None:
    assert_problem(with_hall_line('holder_key = "1234"'), "hall.holder_key", "64 to 128 lower-case hex")
    assert_problem(with_hall_line(f'holder_key = "{KEY}"\nholder_key_file = "k"'), "hall.holder_key", "not both")


def test_a_malformed_environment_key_is_refused() -> None:
    hall = parse_hall(TOWNSHIP_TEXT, "township_hall.toml")
    with pytest.raises(HolderKeyError, match=HOLDER_KEY_ENV):
        holder_secret(hall, {HOLDER_KEY_ENV: "not-hex"})
