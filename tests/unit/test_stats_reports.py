"""Reports against an independent recount: periods (ISO week over a month end), hours, histograms, replay."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from queue_server.engine.engine import QueueEngine
from queue_server.engine.errors import QueueError
from queue_server.engine.figures import HANDLING_EDGES_S, WAIT_EDGES_S, histogram
from queue_server.stats.reports import BYS, PERIODS, period_bounds, report_body
from tests.support.engine_kit import Recorder, new_engine, replayed
from tests.support.figures_recount import Recount, buckets, report_row
from tests.support.halls import at

FRIDAY, MONDAY, TUESDAY, WEDNESDAY = "2026-11-27", "2026-11-30", "2026-12-01", "2026-12-02"
DAYS = (FRIDAY, MONDAY, TUESDAY, WEDNESDAY)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_period_bounds() -> None:
    assert period_bounds("day", d(TUESDAY)) == (d(TUESDAY), d(TUESDAY))
    for inside in (MONDAY, WEDNESDAY, "2026-12-06"):  # the ISO week runs Monday to Sunday, over the month end
        assert period_bounds("week", d(inside)) == (d(MONDAY), d("2026-12-06"))
    assert period_bounds("week", d("2026-11-29")) == (d("2026-11-23"), d("2026-11-29"))  # a Sunday ends its week
    assert period_bounds("month", d(MONDAY)) == (d("2026-11-01"), d(MONDAY))
    assert period_bounds("month", d("2028-02-10")) == (d("2028-02-01"), d("2028-02-29"))
    assert period_bounds("month", d("2026-12-31")) == (d("2026-12-01"), d("2026-12-31"))
    assert period_bounds("year", d("2026-06-15")) == (d("2026-01-01"), d("2026-12-31"))


@given(st.lists(st.one_of(st.sampled_from([0, *WAIT_EDGES_S, *(e + 1 for e in WAIT_EDGES_S)]),
                          st.integers(0, 20_000)), max_size=60))
def test_histogram_equals_a_count_value_by_value(values: list[int]) -> None:
    for edges in (WAIT_EDGES_S, HANDLING_EDGES_S):
        got = histogram(sorted(values), edges)
        assert got == buckets(values, edges)
        assert sum(int(b["count"] or 0) for b in got) == len(values) and got[-1]["upto_s"] is None


def busy_day(rec: Recorder, day: str, rng: random.Random, tickets: int = 30) -> None:
    """A day of random issues, calls, finishes, skips, transfers and ratings (refusals are part of a day)."""
    now = at(day, "08:50")
    for window in (1, 2, 3, 4):
        rec.do("sign_in", window, f"s{window}", now)
    now = at(day, "09:00")
    for _ in range(tickets):
        now += rng.uniform(20, 300)
        with contextlib.suppress(QueueError):  # lunch break or closed
            rec.do("issue", rng.choice(["A01", "A01", "B01"]), now)
        for _ in range(rng.randint(0, 2)):
            now += rng.uniform(1, 60)
            try:
                ticket = rec.do("call_next", rng.choice([1, 2, 3, 4]), now)
            except QueueError:
                continue
            now += rng.uniform(5, 400)
            roll, window = rng.random(), ticket.window
            if roll < 0.7:
                rec.do("act", "start", ticket.id, now, window=window)
                now += rng.uniform(5, 900)
                rec.do("act", "finish", ticket.id, now, window=window)
                if rng.random() < 0.6:
                    rec.do("rate", ticket.id, rng.choice([5, 5, 4, 3, 2, 1]), "pad", now + 5)
            elif roll < 0.8:
                rec.do("act", "skip", ticket.id, now, window=window)
            elif roll < 0.9:
                other = "B01" if ticket.service == "A01" else "A01"
                rec.do("act", "transfer", ticket.id, now, window=window, to_service=other)


def four_days(seed: int = 3) -> Recorder:
    rec = Recorder(new_engine())
    rng = random.Random(seed)
    for day in DAYS:
        busy_day(rec, day, rng)
    return rec


def recounted(rec: Recorder) -> Recount:
    recount = Recount(rec.engine.hall)
    for event in rec.log:
        recount.feed(event)
    return recount


def figures_key(by: str, key: str) -> tuple[str, str]:
    return ("hall", "") if key == "total" else (by, key)


def check_against_recount(engine: QueueEngine, recount: Recount, period: str, day: str, by: str) -> dict[str, Any]:
    report = report_body(engine, period, d(day), by)
    first, last = d(report["from"]), d(report["to"])
    days = [(first + dt.timedelta(n)).isoformat() for n in range((last - first).days + 1)]
    seen = {code for day_ in days for scope, code in recount.days.get(day_, {}) if scope == by}
    assert seen <= {row["key"] for row in report["rows"]}, (period, day, by)
    for row in [*report["rows"], report["totals"]]:
        theirs = {k: v for k, v in row.items() if k not in ("key", "label")}
        assert theirs == report_row(recount, days, figures_key(by, row["key"])), (period, day, by, row["key"])
    return report


def test_every_report_equals_a_recount_of_the_log() -> None:
    rec = four_days()
    recount = recounted(rec)
    assert rec.engine.day == WEDNESDAY and sorted(rec.engine.figures.closed) == [FRIDAY, MONDAY, TUESDAY]
    for period in PERIODS:
        for day in DAYS:
            for by in BYS:
                check_against_recount(rec.engine, recount, period, day, by)
    week = report_body(rec.engine, "week", d(WEDNESDAY), "service")
    assert week["totals"]["handled"] > 0 and week["totals"]["wait_s"]["histogram"][0]["count"] >= 0


def test_a_week_over_a_month_end_and_the_day_roll_overs_add_up() -> None:
    rec = four_days(seed=5)

    def handled(period: str, day: str) -> int:
        return int(report_body(rec.engine, period, d(day), "hour")["totals"]["handled"])

    days = {day: handled("day", day) for day in DAYS}
    assert all(days.values())
    assert handled("week", TUESDAY) == days[MONDAY] + days[TUESDAY] + days[WEDNESDAY]
    assert handled("week", FRIDAY) == days[FRIDAY]
    assert handled("month", MONDAY) == days[FRIDAY] + days[MONDAY]
    assert handled("month", TUESDAY) == days[TUESDAY] + days[WEDNESDAY]
    assert handled("year", FRIDAY) == sum(days.values())
    week = report_body(rec.engine, "week", d(WEDNESDAY), "department")
    assert (week["from"], week["to"]) == (MONDAY, "2026-12-06")
    assert sum(row["handled"] for row in week["rows"]) == week["totals"]["handled"]


def test_a_restart_replays_to_the_same_reports() -> None:
    rec = four_days(seed=7)
    again = replayed(rec.engine.hall, rec.log)
    for period in PERIODS:
        for by in BYS:
            assert report_body(again, period, d(TUESDAY), by) == report_body(rec.engine, period, d(TUESDAY), by)


def test_a_matter_counts_in_the_hour_its_ticket_was_issued() -> None:
    rec = Recorder(new_engine())
    rec.do("sign_in", 1, "s1", at(MONDAY, "08:59"))
    first = rec.do("issue", "A01", at(MONDAY, "09:55")).ticket
    rec.do("call_next", 1, at(MONDAY, "10:05"))
    rec.do("act", "transfer", first.id, at(MONDAY, "10:06"), window=1, to_service="B01")  # stays in 09
    rec.do("call_next", 1, at(MONDAY, "10:10"))
    rec.do("act", "finish", first.id, at(MONDAY, "10:20"), window=1)
    rec.do("rate", first.id, 2, "pad", at(MONDAY, "10:21"))
    second = rec.do("issue", "A01", at(MONDAY, "10:30")).ticket
    rec.do("call_next", 1, at(MONDAY, "10:31"))
    rec.do("act", "skip", second.id, at(MONDAY, "10:32"), window=1)
    report = report_body(rec.engine, "day", d(MONDAY), "hour")
    rows = {row["key"]: row for row in report["rows"]}
    assert [row["key"] for row in report["rows"]] == ["09", "10", "11", "13", "14", "15", "16", "17", "18"]
    assert rows["09"]["label"] == "09:00–10:00"
    nine, ten = rows["09"], rows["10"]
    assert (nine["handled"], nine["completion_rate"], nine["satisfaction"]) == (1, 1.0, 0.0)
    assert (nine["wait_s"]["p50"], nine["handling_s"]["p50"]) == (600, 600)  # first call 10:05; the last call → finish
    assert nine["wait_s"]["histogram"][2] == {"upto_s": 600, "count": 1}
    assert (ten["handled"], ten["completion_rate"], ten["satisfaction"], ten["wait_s"]["p50"]) == (0, 0.0, None, 60)
    assert rows["11"]["handled"] == 0 and rows["11"]["wait_s"]["mean"] is None
    assert report["totals"]["handled"] == 1 and report["totals"]["completion_rate"] == 0.5
    assert check_against_recount(rec.engine, recounted(rec), "day", MONDAY, "hour") == report


def test_labels_come_from_the_hall() -> None:
    rec = four_days(seed=9)
    labels = {by: [row["label"] for row in report_body(rec.engine, "week", d(MONDAY), by)["rows"]]
              for by in ("service", "department", "window", "staff")}
    assert labels["service"] == ["社保查询", "不动产登记", "户籍办理"]
    assert labels["department"] == ["社保", "不动产", "公安"]
    assert labels["window"][:2] == ["1号综合窗口", "2号综合窗口"] and labels["window"][-1] == "专窗"
    assert labels["staff"][:4] == ["员工1", "员工2", "员工3", "员工4"]
