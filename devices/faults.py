"""Every misbehaviour a simulator can play, as one shared enum with words a test report can show."""

from __future__ import annotations

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
