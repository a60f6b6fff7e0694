"""Every misbehaviour a simulator can play, as one shared enum with words a test report can show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import StrEnum


class Fault(StrEnum):
    """A named simulator fault; inject with ``sim.inject(Fault.X, times=1)`` or ``?fault=x`` in a sim URL."""

    help: str

    def __new__(cls, value: str, help: str) -> Fault:
        member = str.__new__(cls, value)
        member._value_ = value
        member.help = help
        return member

    # link level, any device
    SILENT = ("silent", "the device receives but never answers (dead firmware, wrong baud rate)")
    SLOW = ("slow", "the device answers, but later than its usual timing (several hundred ms)")
    GARBLED = ("garbled", "the answer's bytes are corrupted on the line")
    TRUNCATED = ("truncated", "the answer stops part-way through")
    BAD_CHECKSUM = ("bad_checksum", "the answer's checksum or CRC is wrong")
    LEADING_GARBAGE = ("leading_garbage", "stray bytes arrive before the answer (RS-485 turnaround noise)")
    UNPLUG = ("unplug", "the device vanishes: the port or socket closes")
    SERVER_ERROR = ("server_error", "a web service the kiosk uses answers HTTP 500 (the e-licence library)")
    # card readers
    NO_CARD = ("no_card", "no card is on the reader")
    CARD_PULLED = ("card_pulled", "the card is taken away in the middle of a read")
    SAM_FAILURE = ("sam_failure", "the security module failed its self-test and accepts no commands")
    NOT_AUTHORISED = ("not_authorised", "the security module is not authorised")
    AUTH_REQUIRED = ("auth_required", "the card refuses to read files without PSAM authentication")
    # printers
    PAPER_NEAR_END = ("paper_near_end", "the paper roll is nearly used up")
    PAPER_OUT = ("paper_out", "the paper has run out")
    COVER_OPEN = ("cover_open", "the printer cover is open")
    CUTTER_ERROR = ("cutter_error", "the auto-cutter is jammed")
    JAM = ("jam", "paper is jammed in the A4 printer")
    OFFLINE = ("offline", "the printer is switched offline")
    # RS-485 bus
    WRONG_ADDRESS = ("wrong_address", "a reply arrives from an address other than the one polled")
    EXCEPTION_REPLY = ("exception_reply", "the device answers with a Modbus exception")
    DUPLICATE_EVENT = ("duplicate_event", "the device repeats a key event with the same sequence number")

    @classmethod
    def parse(cls, name: str) -> Fault:
        """Look a fault up by its name, with an error that lists the known ones."""
        wanted = name.lower()
        for fault in cls:  # not cls(wanted): the two-argument __new__ would make that call ill-typed
            if fault.value == wanted:
                return fault
        known = ", ".join(f.value for f in cls)
        raise ValueError(f"unknown fault {name!r}; known faults: {known}")


class FaultPlan:
    """Which faults a simulator plays now: standing ones until cleared, counted ones for the next N occasions.

    The one bookkeeping every simulator shares (byte-level device simulators and the e-licence web service).
    """

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._faults: Counter[Fault] = Counter()
        self._forever: set[Fault] = set(faults)

    def inject(self, fault: Fault, times: int | None = None) -> None:
        """Play ``fault`` for the next ``times`` occasions, or until ``clear`` when times is None."""
        if times is None:
            self._forever.add(fault)
        else:
            self._faults[fault] += times

    def clear(self, fault: Fault | None = None) -> None:
        """Stop playing one fault, or all of them."""
        if fault is None:
            self._faults.clear()
            self._forever.clear()
        else:
            self._faults.pop(fault, None)
            self._forever.discard(fault)

    def active(self, fault: Fault) -> bool:
        """Is ``fault`` on? A counted fault is consumed by asking, so ask once per occasion."""
        if fault in self._forever:
            return True
        if self._faults[fault] > 0:
            self._faults[fault] -= 1
            return True
        return False

    def has(self, fault: Fault) -> bool:
        """Is ``fault`` on, without consuming it (for standing conditions such as paper out)."""
        return fault in self._forever or self._faults[fault] > 0
