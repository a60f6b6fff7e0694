"""``manager = true`` on a [[staff]] entry: who may sign in to the web console with a PIN (strict boolean)."""

from __future__ import annotations

from config.loader import load_hall
from tests.support.config_edits import COUNTY, TOWNSHIP, assert_problem, edited


def test_each_sample_has_exactly_one_demo_manager_and_staff_default_to_not_manager() -> None:
    for path in (COUNTY, TOWNSHIP):
        hall = load_hall(path)
        assert [s.id for s in hall.staff if s.manager] == ["s001"]


def test_manager_must_be_true_or_false() -> None:
    text = edited(("windows = [1]\nmanager = true\n", 'windows = [1]\nmanager = "yes"\n'))
    assert_problem(text, "staff[0].manager", "expected true or false")
