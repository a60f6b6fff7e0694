"""The city file: which halls, which city manager; clashes between halls are refused naming both."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.city import load_city
from config.loader import ConfigError
from config.secrets import hash_token
from tests.support.city import CITY_MANAGER, write_city


def test_a_city_names_its_halls_in_order_with_their_own_tokens(tmp_path: Path) -> None:
    city = load_city(write_city(tmp_path, 3))
    assert [h.code for h in city.halls] == ["h1", "h2", "h3"]
    assert city.manager_token_hash == hash_token(CITY_MANAGER)
    assert city.hall("h2") is not None and city.hall("nope") is None


def test_a_hall_directory_serves_every_hall_file_in_it(tmp_path: Path) -> None:
    (tmp_path / "halls").mkdir()
    write_city(tmp_path / "halls", 2).unlink()  # only the hall files
    city = tmp_path / "city.toml"
    city.write_text(f'[city]\nname = "x"\nhall_dir = "halls"\nmanager_token = "{CITY_MANAGER}"\n')
    assert [h.code for h in load_city(city).halls] == ["h1", "h2"]


def _refused(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_city(path)
    return str(caught.value)


def test_two_halls_with_one_code_or_one_token_are_refused(tmp_path: Path) -> None:
    city = write_city(tmp_path, 2)
    (tmp_path / "h2.toml").write_text((tmp_path / "h1.toml").read_text(encoding="utf-8"), encoding="utf-8")
    message = _refused(city)
    assert "hall code 'h1'" in message and "h2.toml" in message
    assert "has the token of node" in message


def test_a_city_file_says_what_is_missing_or_unknown(tmp_path: Path) -> None:
    write_city(tmp_path, 1)
    bad = tmp_path / "bad.toml"
    bad.write_text('[city]\nname = "x"\nhalls = ["h1.toml"]\nhall_dir = "."\ncolour = "red"\n')
    message = _refused(bad)
    assert "either halls" in message and "manager_token" in message and "colour" in message
    bad.write_text(f'[city]\nname = "x"\nhalls = ["h1.toml"]\nmanager_token = "demo-manager-token"\n'
                   f'manager_token_hash = "{hash_token("x")}"\n')
    assert "not both" in _refused(bad)


def test_the_city_manager_may_not_share_a_nodes_token(tmp_path: Path) -> None:
    write_city(tmp_path, 1)
    bad = tmp_path / "bad.toml"
    bad.write_text('[city]\nname = "x"\nhalls = ["h1.toml"]\nmanager_token = "h1-manager"\n')
    assert "the city manager" in _refused(bad)
