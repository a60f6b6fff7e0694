"""How an engine command runs: the day rolled forward first, events emitted through one door, one result.

``CommandBase`` is the base of the engine and of every domain's command mixin (appointments, cases,
alerts …), so all commands share ``_emit`` (which refuses what no store can keep before it changes
anything) and the ``@command`` decorator (which returns ``Decision(outcome, events)``).
"""

from __future__ import annotations

import functools
import inspect
import secrets
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from config.model import Hall
from queue_server.engine import events as ev
from queue_server.engine.decision import Decision
from queue_server.engine.errors import QueueError
from queue_server.engine.events import Event
from queue_server.engine.picture import HallPicture


def _default_id() -> str:
    return secrets.token_hex(6)


P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S", bound="CommandBase")


def command(method: Callable[Concatenate[S, P], T]) -> Callable[Concatenate[S, P], Decision[T]]:
    """Wrap a command: open the new business day first, and return its outcome with every emitted event.

    On refusal the events ride on the QueueError (``err.events``), because a day roll-over emitted
    before the refusal is already applied and must be made durable like any other event.
    """

    position = list(inspect.signature(method).parameters).index("at") - 1  # -1: args exclude self

    @functools.wraps(method)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> Decision[T]:
        at = kwargs["at"] if "at" in kwargs else args[position]  # cheaper than Signature.bind per call
        assert isinstance(at, (int, float))
        self._out = []
        self._roll_forward(at)
        try:
            outcome = method(self, *args, **kwargs)
        except QueueError as err:
            err.events = self._take()
            raise
        return Decision(outcome, self._take())

    return wrapper


class CommandBase(HallPicture):
    """The picture plus the machinery commands share. Not thread-safe by design: one event loop runs it."""

    def __init__(self, hall: Hall, *, id_factory: Callable[[], str] = _default_id) -> None:
        super().__init__(hall)
        self._new_id = id_factory
        self._out: list[Event] = []

    # ================================================================ commands
    def _take(self) -> list[Event]:
        out, self._out = self._out, []
        return out

    def _roll_forward(self, at: float) -> None:
        """Open the business day ``at`` falls in, if it is later than today's: the day never moves back.

        A clock stepped back across midnight (an NTP correction, a hall PC after a power cut) gives
        instants in a day already closed; they are kept as given (the log records what the clock said)
        but count in the current business day, so yesterday is never reopened and no number is issued
        twice. The day moves on once the clock passes the next midnight.
        """
        day = self.calendar.day_of(at)
        if self.day is None or day > self.day:
            self._emit(ev.DAY_ROLLED, at, {"from": self.day, "to": day})

    def _emit(self, type_: str, at: float, data: dict[str, Any], node: str = "", staff: str = "") -> Event:
        ticket = self.tickets.get(data.get("ticket", ""))
        if ticket is not None:  # screens and the audit trail read numbers, not ids
            data = {**data, "number": ticket.number, "service": ticket.service}
        event = Event(self.last_event_id + 1, type_, at, data, node, staff)
        try:  # what no store can keep must be refused before it changes anything
            event.data_json().encode()
        except UnicodeEncodeError as err:
            raise QueueError("unencodable_text", "请求中含有无法保存的字符", "the request contains text that cannot "
                             "be stored (for example a lone surrogate)", 400) from err
        self.apply(event)
        self._out.append(event)
        return event
