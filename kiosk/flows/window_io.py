"""What a window terminal's flow takes in and asks for: pad keys, stream news, server answers in; requests and
what the LED display, the call pad and the rating pad show, out.

The flow is fed the kiosk's own ServerAnswer / ServerUnreachable (kiosk.flows.events) for its requests, so the
node has one way of sending a request and feeding its answer back, whichever flow asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devices.bus485.registers import DisplayMode, Key, Led, WindowState
from kiosk.flows.events import ServerAnswer, ServerUnreachable

__all__ = ["InviteRating", "PadKey", "RatingGiven", "Request", "ShowDisplay", "ShowPad", "SignInTyped",
           "StreamNews", "ThankRating", "WaitingCount", "WindowEffect", "WindowEvent", "WindowSynced"]

NO_LEDS = Led(0)


@dataclass(frozen=True)
class PadKey:
    """A key of the call pad, or of the keyboard console (``session`` 0, ``seq`` from the console's counter).

    (session, seq) names the press: a frame the bus retried carries the same pair and is never acted on twice,
    and the pair is in the request's Idempotency-Key, so the server too takes one press once."""

    key: Key
    arg: int = 0
    seq: int = 0
    session: int = 0


@dataclass(frozen=True)
class SignInTyped:
    """The console's sign-in: staff id and PIN typed in full (the pad types them key by key)."""

    staff: str
    pin: str = field(repr=False)


@dataclass(frozen=True)
class RatingGiven:
    """The rating pad's answer to the open invitation: a level 1..5, or None when it timed out unrated."""

    level: int | None
    seq: int = 0


@dataclass(frozen=True)
class StreamNews:
    """A staff-view stream event about this window, whoever caused it (this node too: each change is taken
    once, so an answer lost on the way is made good by the stream, and a call through the API shows).

    ``type`` is the event type (ticket.called, window.paused …), ``number`` the ticket's number from the
    node's id → number map ("" when unknown), ``reason`` the pause reason, ``staff`` who signed in."""

    type: str
    ticket: str = ""
    number: str = ""
    reason: str = ""
    staff: str = ""


@dataclass(frozen=True)
class WindowSynced:
    """The window as GET /api/v1/windows has it, read when the node starts or its stream came back after a gap:
    who is signed in, paused or not, the ticket called or served there."""

    view: Mapping[str, Any]


@dataclass(frozen=True)
class WaitingCount:
    """How many citizens wait for the services of this window (GET /api/v1/queues): the pad's yellow LED."""

    waiting: int


WindowEvent = (PadKey | SignInTyped | RatingGiven | StreamNews | WindowSynced | WaitingCount | ServerAnswer
               | ServerUnreachable)


@dataclass(frozen=True)
class Request:
    """Send ``method path`` with ``body`` and this Idempotency-Key; answered by ServerAnswer/ServerUnreachable.

    ``outbox`` requests (the rating) go through the node's durable outbox and may be delivered later; the
    others are live actions, answered now or refused as unreachable (a call must not happen an hour late)."""

    key: str
    method: str
    path: str
    body: Mapping[str, Any] = field(default_factory=dict, repr=False)  # a sign-in carries the PIN
    outbox: bool = False


@dataclass(frozen=True)
class ShowDisplay:
    """Write the window's LED display: ``number`` (≤ 8 bytes) and ``text`` (≤ 64 GB18030 bytes), already fitted.

    ``flash`` counts calls and recalls: a recall shows the same number again, blinking anew."""

    number: str
    text: str
    state: WindowState
    mode: DisplayMode = DisplayMode.STATIC
    flash: int = 0


@dataclass(frozen=True)
class ShowPad:
    """Write the call pad's line (≤ 32 bytes, already fitted) and LEDs; ``beeps`` 0..5 once."""

    line: str
    leds: Led = NO_LEDS
    beeps: int = 0


@dataclass(frozen=True)
class InviteRating:
    """Light the rating pad for this finished matter; it answers RatingGiven (a level, or None at the timeout)."""

    ticket: str
    number: str
    staff: str
    timeout_s: int


@dataclass(frozen=True)
class ThankRating:
    """Show the thank-you screen on the rating pad, lamp off."""


WindowEffect = Request | ShowDisplay | ShowPad | InviteRating | ThankRating
