"""The hall's public base URL: where a printed ticket's QR code sends a phone (the status page, the rating)."""

from __future__ import annotations

import pytest

from config.loader import parse_hall
from tests.support.config_edits import TOWNSHIP_TEXT, assert_problem, edited


def with_url(url: str) -> str:
    text = edited()
    start = text.index("[hall]")
    end = text.index("\n", text.index("name = ", start))
    return text[:end + 1] + f"public_url = {url!r}\n".replace("'", '"') + text[end + 1:]


@pytest.mark.parametrize(("url", "kept"), [
    ("https://hall.qinghe.gov.cn", "https://hall.qinghe.gov.cn"),
    ("http://hall.local:8080/", "http://hall.local:8080"),  # the trailing slash is dropped: paths are appended
    ("https://www.example.gov.cn/qinghe", "https://www.example.gov.cn/qinghe"),
])
def test_a_public_url_is_kept_without_its_trailing_slash(url: str, kept: str) -> None:
    assert parse_hall(with_url(url), "township_hall.toml").public_url == kept


def test_no_public_url_means_relative_links() -> None:
    assert parse_hall(TOWNSHIP_TEXT, "township_hall.toml").public_url == ""


@pytest.mark.parametrize("url", ["hall.local", "ftp://hall.local", "https://", "https://hall.local/?x=1",
                                 "https://hall local", "https://hall.local/#top"])
def test_a_bad_public_url_is_refused_at_its_path(url: str) -> None:
    assert_problem(with_url(url), "hall.public_url", "http")
