"""The wall's and counter screens' view models from the event stream (pure: no pygame, no server)."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

from screens.hours import opening_state
from screens.models import HIGHLIGHT_S, STALE_AFTER_S, HallState, wall_view, window_view
from tests.support.screen_stream import TZ, Stream, busy_state, live

OPEN = ("正在办理", "open")


def at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, TZ)


def fresh() -> tuple[HallState, Stream]:
    state = HallState(hall_name="全天测试大厅")
    state.seed(live())
    stream = Stream()
    state.apply_event(stream.rolled("2026-12-01"))
    state.resumed()
    return state, stream


def test_a_call_shows_the_number_in_its_window_column_highlighted() -> None:
    state, s = fresh()
    issued = s.issued("A01")
    state.apply_event(issued)
    state.apply_event(s.window("signed_in", 3))
    state.apply_event(s.called(issued["data"]["ticket"], 3))
    view = wall_view(state, at(s.at + 1), OPEN)
    column = next(c for c in view.columns if c.number == 3)
    assert column.calls[0].number == "A001" and column.calls[0].highlighted
    assert column.state_en == "open"
    later = wall_view(state, at(s.at + HIGHLIGHT_S + 1), OPEN)
    assert not next(c for c in later.columns if c.number == 3).calls[0].highlighted


def test_five_windows_calling_at_once_are_all_visible_with_their_last_calls() -> None:
    state, s = fresh()
    tickets = [s.issued("A01") for _ in range(15)]
    for e in tickets:
        state.apply_event(e)
    for w in range(1, 6):
        state.apply_event(s.window("signed_in", w))
    for round_ in range(3):
        for w in range(1, 6):
            state.apply_event(s.called(tickets[round_ * 5 + w - 1]["data"]["ticket"], w))
    view = wall_view(state, at(s.at), OPEN, max_columns=10)
    calling = {c.number: [call.number for call in c.calls] for c in view.columns if c.calls}
    assert calling == {w: [f"A{10 + w:03d}", f"A{5 + w:03d}", f"A{w:03d}"] for w in range(1, 6)}
    assert all(c.calls[0].highlighted for c in view.columns if c.calls)


def test_windows_that_called_last_win_the_columns_when_there_are_more_windows_than_fit() -> None:
    state, s = fresh()
    for n in range(1, 13):
        e = s.issued("B01")
        state.apply_event(e)
        state.apply_event(s.called(e["data"]["ticket"], n))
    view = wall_view(state, at(s.at), OPEN, max_columns=4)
    assert [c.number for c in view.columns] == [9, 10, 11, 12]


def test_replayed_events_are_not_applied_twice() -> None:
    state, s = fresh()
    events = [s.issued("A01"), s.issued("A01")]
    events.append(s.called(events[0]["data"]["ticket"], 1))
    for e in events:
        assert state.apply_event(e)
    for e in events:  # a reconnect that replays from an older id
        assert not state.apply_event(e)
    assert [n for n, _ in state.windows[1].calls] == ["A001"]


def test_a_gap_is_flagged_and_the_resume_from_the_last_id_fills_it_without_duplicates() -> None:
    state, s = fresh()
    events = [s.issued("A01") for _ in range(3)] + []
    events += [s.called(events[0]["data"]["ticket"], 2), s.called(events[1]["data"]["ticket"], 4)]
    state.apply_event(events[0])
    state.apply_event(events[1])
    assert not state.apply_event(events[3])  # events[2] was lost in transit
    assert state.gap and state.last_event_id == events[1]["id"]
    state.resumed()  # the feed reconnects with ?after=last_event_id and gets the rest in order
    for e in events[2:]:
        assert state.apply_event(e)
    assert not state.gap
    assert state.windows[2].serving == "A001" and state.windows[4].serving == "A002"


def test_the_same_jump_again_after_a_reconnect_is_a_hole_in_the_log_not_a_loss() -> None:
    state, s = fresh()
    s.next_id += 5
    jumped = s.issued("A01")
    assert not state.apply_event(jumped) and state.gap
    state.resumed()
    assert state.apply_event(jumped) and not state.gap


def test_day_roll_over_clears_the_calls_and_the_ticket_numbers() -> None:
    state, s = fresh()
    e = s.issued("A01")
    state.apply_event(e)
    state.apply_event(s.called(e["data"]["ticket"], 1))
    state.apply_event(s.rolled("2026-12-02"))
    assert state.day == "2026-12-02" and not state.tickets
    view = wall_view(state, at(s.at), OPEN)
    assert all(not c.calls for c in view.columns)
    s.seq.clear()  # numbering starts again on the new day
    again = s.issued("A01")
    again["data"]["ticket"] = "t-next-day"
    state.apply_event(again)
    state.apply_event(s.called("t-next-day", 1))
    assert [n for n, _ in state.windows[1].calls] == ["A001"]


def test_a_call_for_a_ticket_issued_before_the_screen_started_is_resolved_by_the_feed() -> None:
    state, s = fresh()
    state.apply_event(s.called("t-older", 5))
    assert state.unknown == {"t-older"}
    state.learn_ticket("t-older", "C017", "C01")
    assert not state.unknown
    assert state.windows[5].serving == "C017" and state.windows[5].calls[0][0] == "C017"


def test_a_lost_feed_is_marked_in_words_after_a_few_seconds_and_cleared_when_back() -> None:
    state, _ = fresh()
    lost_at = dt.datetime(2026, 12, 1, 14, 32, 10, tzinfo=TZ).timestamp()
    state.lost(lost_at)
    assert wall_view(state, at(lost_at + 1), OPEN).header.stale_zh == ""  # a blip is not news
    header = wall_view(state, at(lost_at + STALE_AFTER_S + 1), OPEN).header
    assert header.stale_zh == "数据未更新（14:32 起）"
    assert header.stale_en == "data not current since 14:32"
    state.lost(lost_at + 60)  # still lost: the mark keeps the first moment
    assert window_view(state, 1, at(lost_at + 120), OPEN).header.stale_zh == "数据未更新（14:32 起）"
    state.resumed()
    assert wall_view(state, at(lost_at + 120), OPEN).header.stale_zh == ""


def test_stats_messages_give_waiting_estimates_and_department_figures() -> None:
    state, _ = busy_state()
    view = wall_view(state, at(0), OPEN)
    assert [(r.name, r.waiting, r.wait_zh) for r in view.services][:2] == [("社保查询", 0, "无需等候"),
                                                                          ("不动产登记", 7, "约28分钟")]
    assert [(d.name, d.handled, d.completion, d.satisfaction) for d in view.departments] == [
        ("社保", 76, "97.4%", "99.2%"), ("不动产", 77, "96.4%", "97.5%")]
    assert (view.hall.avg_wait, view.hall.avg_handling) == ("约10分钟", "约7分钟")
    assert view.alerts == ("不动产登记 排队人数较多", "设备故障")


def test_alerts_come_and_go_with_the_stream() -> None:
    state, s = fresh()
    state.apply_event(s.event("alert.raised", {"alert": "x1", "kind": "window_paused", "subject": "window:7",
                                               "level": "warning", "figures": {}}))
    assert wall_view(state, at(s.at), OPEN).alerts == ("7号窗口 窗口暂停服务",)
    state.apply_event(s.event("alert.resolved", {"alert": "x1"}))
    assert wall_view(state, at(s.at), OPEN).alerts == ()


def test_window_view_shows_the_pause_reason_of_the_staff_view_and_the_next_waiting() -> None:
    state, s = fresh()
    state.apply_event(s.window("signed_in", 2))
    state.apply_event(s.event("window.paused", {"window": 2, "reason": "系统维护"}))
    state.upcoming[2] = ("A002", "A003")
    view = window_view(state, 2, at(s.at), OPEN)
    assert (view.state_zh, view.reason, view.upcoming) == ("暂停服务", "系统维护", ("A002", "A003"))
    state.apply_event(s.window("resumed", 2))
    assert window_view(state, 2, at(s.at), OPEN).reason == ""


def test_equal_states_give_equal_views_so_nothing_is_repainted() -> None:
    state, t = busy_state()
    assert wall_view(state, at(t), OPEN) == wall_view(state, at(t), OPEN)


def test_opening_state_in_words() -> None:
    t = dt.time
    sessions = [(t(9), t(12), False), (t(13, 30), t(17), False), (t(17), t(19), True)]
    assert opening_state(sessions, t(10)) == ("正在办理", "open")
    assert opening_state(sessions, t(12, 30))[0] == "午间休息 13:30 恢复"
    assert opening_state(sessions, t(18))[0] == "延时服务"
    assert opening_state(sessions, t(8))[0] == "09:00 开始办理"
    assert opening_state(sessions, t(20))[0] == "今日已停止办理"
    assert opening_state([], t(10))[0] == "今日休息"


def test_screens_import_nothing_from_the_queue_server() -> None:
    for path in Path("screens").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.startswith("queue_server")], path
    models = ast.parse(Path("screens/models.py").read_text())
    assert not [n for n in ast.walk(models) if isinstance(n, ast.Import | ast.ImportFrom)
                and "pygame" in ast.unparse(n)]
