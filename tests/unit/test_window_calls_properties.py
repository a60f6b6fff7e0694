"""Hypothesis: whatever staff press, the bus repeats, the server answers and the stream tells, the window flow
acts once per press, has one request in flight at most, never puts more on a device than its field holds,
never keeps a PIN once it is sent, and never sends a rating nobody gave."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.bus485.registers import Key
from kiosk.flows import window_calls as wc
from kiosk.flows import window_io as wio
from kiosk.flows.events import ServerAnswer, ServerUnreachable
from kiosk.flows.window_words import DISPLAY_NUMBER_BYTES, DISPLAY_TEXT_BYTES, PAD_LINE_BYTES

CTX = wc.WindowContext(3, "window-3", "seed", staff=(("s003", (3,)),), services=("A01", "B01"))
ERRORS = ["queue_empty", "ticket_still_called", "not_signed_in", "window_paused", "wrong_pin", "too_many_attempts",
          "recall_limit", "invalid_state", "forbidden", "something_new"]
BODIES = [{}, {"id": "t-1", "number": "A001"}, {"id": "t-2", "number": "B0002"},
          {"staff": "s003", "paused": True, "pause_reason": "休息", "current": "t-1", "current_number": "A001",
           "current_state": "called"}]
NEWS = st.builds(wio.StreamNews, st.sampled_from(["ticket.called", "ticket.recalled", "ticket.started",
                                                  "ticket.finished", "ticket.skipped", "ticket.transferred",
                                                  "window.paused", "window.resumed", "window.signed_in",
                                                  "window.signed_out"]),
                 st.sampled_from(["t-1", "t-2", "t-3"]), st.sampled_from(["A001", "B0002", ""]),
                 st.sampled_from(["", "会议"]), st.sampled_from(["", "s003"]))
#: whole exchanges that random moves reach too rarely: a key and the server's yes
SCRIPTS: dict[str, list[tuple[Any, ...]]] = {
    "sign_in": [("console", "s003"), ("answer", 200, "", 0)],
    "call": [("press", Key.CALL_NEXT, 0, 0), ("answer", 200, "", 1)],
    "start": [("press", Key.START, 0, 0), ("answer", 200, "", 0)],
    "finish": [("press", Key.FINISH, 0, 0), ("answer", 200, "", 0)],
}
#: a move: a press (key, arg, seq: small seqs repeat, as retried frames do), an answer to what is in flight,
#: news, a rating, a console sign-in, a waiting count, or a sync
MOVES = st.lists(st.one_of(
    st.tuples(st.just("press"), st.sampled_from(list(Key)), st.sampled_from([0, 1, 2, 3, 5, 9, 1002, 1005]),
              st.integers(1, 40)),
    st.tuples(st.just("answer"), st.sampled_from([200, 200, 200, 200, 201, 409, 401, 429, 0]),
              st.sampled_from(ERRORS), st.integers(0, len(BODIES) - 1)),
    st.tuples(st.just("answer"), st.just(200), st.just(""), st.just(1)),
    st.tuples(st.just("news"), NEWS),
    st.tuples(st.just("rate"), st.sampled_from([None, 1, 3, 5])),
    st.tuples(st.just("console"), st.sampled_from(["s003", "x"])),
    st.tuples(st.just("waiting"), st.integers(0, 40)),
    st.tuples(st.just("sync"), st.integers(0, len(BODIES) - 1)),
    st.tuples(st.just("script"), st.sampled_from(list(SCRIPTS))),
), max_size=80)


def expand(moves: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Scripts spelled out; a script's presses get fresh seqs above the random ones (41 …)."""
    out: list[tuple[Any, ...]] = []
    fresh = 40
    for move in moves:
        for sub in SCRIPTS[move[1]] if move[0] == "script" else [move]:
            if sub[0] == "press" and sub[3] == 0:
                fresh += 1
                sub = (*sub[:3], fresh)
            out.append(sub)
    return out


def event_of(state: wc.WindowCalls, move: tuple[Any, ...]) -> Any:
    kind = move[0]
    if kind == "press":
        return wio.PadKey(move[1], move[2], move[3], session=5)
    if kind == "answer":
        key = state.pending.key if state.pending else state.rating_key or "nobody"
        if move[1] == 0:
            return ServerUnreachable(key, "refused")
        body = BODIES[move[3]] if move[1] < 300 else {"error": {"code": move[2], "message_zh": "拒绝" * 30}}
        return ServerAnswer(key, move[1], body)
    if kind == "news":
        return move[1]
    if kind == "rate":
        return wio.RatingGiven(move[1])
    if kind == "console":
        return wio.SignInTyped(move[1], "123456")
    if kind == "waiting":
        return wio.WaitingCount(move[1])
    return wio.WindowSynced(BODIES[move[1]])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MOVES)
def test_the_window_flow_keeps_its_promises(moves: list[tuple[Any, ...]]) -> None:
    state, effects = wc.start(CTX)
    keys_sent: set[str] = set()
    invited: set[str] = set()
    for move in expand(moves):
        before = state
        event = event_of(state, move)
        state, effects = wc.step(state, event)
        requests = [e for e in effects if isinstance(e, wio.Request)]
        live = [r for r in requests if not r.outbox]
        assert len(live) <= 1 and (not live or before.pending is None), "two requests in flight"
        for request in requests:
            assert request.key not in keys_sent, "one key sent for two requests"
            keys_sent.add(request.key)
            if request.outbox:
                assert isinstance(event, wio.RatingGiven) and event.level in (1, 2, 3, 4, 5)
                assert request.path.split("/")[4] in invited, "a rating for a matter never invited"
        if isinstance(event, wio.PadKey) and event.seq and (event.session, event.seq) in before.seen:
            assert effects == [] and state == before, "a retried frame acted"
        for effect in effects:
            if isinstance(effect, wio.ShowDisplay):
                assert len(effect.text.encode("gb18030")) <= DISPLAY_TEXT_BYTES
                assert len(effect.number.encode("gb18030")) <= DISPLAY_NUMBER_BYTES
            elif isinstance(effect, wio.ShowPad):
                assert len(effect.line.encode("gb18030")) <= PAD_LINE_BYTES and 0 <= effect.beeps <= 5
            elif isinstance(effect, wio.InviteRating):
                invited.add(effect.ticket)
        if state.pending is not None and state.pending.action == "sign_in":
            assert state.pin == "", "the PIN kept after it was sent"
        assert "123456" not in repr(state)
        assert state.shown == wc.display_of(state) and state.shown_pad == wc.pad_line_of(state)
