"""The project's own virtual social-security card, speaking vsmartcard's vpcd protocol to a real pcscd.

Wire (protocols.md §3.2): every message is a 2-byte big-endian length and a payload; a 1-byte payload is
a control code (0 power off, 1 power on, 2 reset, 4 get ATR, only the last answered), anything else is a
C-APDU answered with data + SW1 SW2. The card is a TCP *client* of vpcd (insertion = connect, removal =
close), so unlike the base Simulator it owns no listener: ``start``/``stop``/``url``/``unplug`` are
overridden and a private pcscd (``devices.smartcard.pcscd``) is acquired to plug the card into.
Decision for ``sim+pcsc://`` in a node config: the simulator starts a private pcscd, or reuses the one this
process already runs (reference-counted), and never uses the system's pcscd, whose vpcd ports and socket
may belong to someone else.

Card behaviour is T=0-like: SELECT answers 61xx (GET RESPONSE fetches the FCI, in chunks when
``chunk`` is small), READ RECORD with a wrong Le answers 6Cxx. Cards in a deck are generated test
people, never real ones (their numbers use the unassigned region prefix 99).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import os
import random
import socket
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote

from devices.faults import Fault
from devices.simulator import _RUNNING, Simulator
from devices.smartcard import pcscd
from devices.smartcard.apdu import ApduError, CommandApdu, check
from devices.smartcard.social_security import EF05_SFI, EF06_ID, SSSE_NAME

if TYPE_CHECKING:
    from devices.smartcard.driver import SmartCardReader

log = logging.getLogger(__name__)

__all__ = ["DECKS", "CardApplet", "TestPsam", "VirtualCard", "VirtualCardSimulator", "make_deck",
           "test_cryptogram"]

ATR = bytes.fromhex("3B6A00008131FE4553534543415244")  # T=0 style ATR whose history bytes say "SSSECARD"
TEST_PSAM_KEY = b"servicehall test PSAM key, not a real one"
_SW = {"ok": b"\x90\x00", "not_found": b"\x6a\x82", "no_record": b"\x6a\x83", "auth": b"\x69\x82",
       "no_ef": b"\x69\x86", "conditions": b"\x69\x85", "ins": b"\x6d\x00", "cla": b"\x6e\x00",
       "length": b"\x67\x00", "p1p2": b"\x6a\x86"}


def test_cryptogram(key: bytes, challenge: bytes) -> bytes:
    """Stand-in for the PSAM's 3DES/SM4 computation; shared by the virtual card and ``TestPsam`` only."""
    return hmac.new(key, challenge, hashlib.sha256).digest()[:8]


class TestPsam:
    """An ``Authenticator`` with a software "PSAM": GET CHALLENGE, compute, EXTERNAL AUTHENTICATE."""

    __test__ = False  # not a pytest class

    def __init__(self, key: bytes = TEST_PSAM_KEY) -> None:
        self.key = key
        self.calls = 0

    async def __call__(self, reader: SmartCardReader) -> None:
        self.calls += 1
        challenge = check(await reader.transmit(CommandApdu(0x00, 0x84, 0x00, 0x00, le=8)),
                          f"{reader.describe()}: GET CHALLENGE")
        check(await reader.transmit(CommandApdu(0x00, 0x82, 0x00, 0x01, test_cryptogram(self.key, challenge))),
              f"{reader.describe()}: EXTERNAL AUTHENTICATE with the PSAM's answer")


@dataclass(frozen=True, repr=False)
class VirtualCard:
    """A generated social-security card; ``auth_required`` cards answer 6982 to EF06 until authenticated."""

    card_number: str
    ssn: str
    name: str
    sex: str
    nation: int
    birth_place: str
    birth_date: dt.date
    issued_on: dt.date = dt.date(2020, 1, 1)
    valid_until: dt.date = dt.date(2030, 1, 1)
    auth_required: bool = False
    psam_key: bytes = TEST_PSAM_KEY

    def __repr__(self) -> str:
        return f"VirtualCard({self.card_number[:4]}…, auth_required={self.auth_required})"

    def files(self) -> dict[int, dict[int, bytes]]:
        """EF id → record tag → TLV bytes, encoded as the card stores them."""
        def bcd(digits: str, size: int) -> bytes:
            return bytes.fromhex(digits.ljust(size * 2, "F"))

        def an(text: str, size: int) -> bytes:
            return text.encode("gbk").ljust(size, b"\x00")[:size]

        def tlv(tag: int, value: bytes) -> bytes:
            return bytes((tag, len(value))) + value

        ef05 = {5: bcd(self.issued_on.strftime("%Y%m%d"), 4), 6: bcd(self.valid_until.strftime("%Y%m%d"), 4),
                7: an(self.card_number, 9)}
        ef06 = {8: an(self.ssn, 18), 9: an(self.name, 30), 0x0A: self.sex.encode("ascii"),
                0x0B: bcd(f"{self.nation:02d}", 1), 0x0C: bcd(self.birth_place, 3),
                0x0D: bcd(self.birth_date.strftime("%Y%m%d"), 4)}
        return {0xEF05: {t: tlv(t, v) for t, v in ef05.items()}, 0xEF06: {t: tlv(t, v) for t, v in ef06.items()}}


_SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨欧阳"
_GIVEN = "测试样例演示模拟虚拟卡片甲乙丙丁"


def _check_digit(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def make_deck(seed: int = 7, count: int = 2) -> list[VirtualCard]:
    """Generated cards: the first is open, the second needs PSAM authentication, then alternating."""
    rng = random.Random(seed)
    cards = []
    for i in range(count):
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 60))
        region = f"99{rng.randrange(10000):04d}"
        first17 = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
        name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
        cards.append(VirtualCard(card_number=f"T{rng.randrange(10**8):08d}", ssn=first17 + _check_digit(first17),
                                 name=name, sex=rng.choice("12"), nation=rng.choice((1, 1, 1, 3, 5)),
                                 birth_place=region, birth_date=born, auth_required=i % 2 == 1))
    return cards


DECKS = {"default": lambda: make_deck(7, 2), "open": lambda: make_deck(7, 1),
         "auth": lambda: [make_deck(7, 2)[1]]}


@dataclass
class CardApplet:
    """The card's file system and commands, sans I/O: C-APDU bytes in, R-APDU bytes out."""

    card: VirtualCard
    chunk: int = 256  # most GET RESPONSE hands out at once (small values make the host loop)
    protect_ef06: bool = False  # the AUTH_REQUIRED fault on an otherwise open card
    df_selected: bool = False
    current_ef: int | None = None
    pending: bytes = b""
    challenge: bytes | None = None
    authenticated: bool = False
    counts: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        self.df_selected, self.current_ef, self.pending = False, None, b""
        self.challenge, self.authenticated = None, False

    def process(self, raw: bytes) -> bytes:
        try:
            apdu = CommandApdu.parse(raw)
        except ApduError:
            return _SW["length"]
        self.counts[f"{apdu.ins:02X}"] += 1
        if apdu.cla != 0x00:
            return _SW["cla"]
        handler = {0xA4: self._select, 0xB2: self._read_record, 0xC0: self._get_response,
                   0x84: self._get_challenge, 0x82: self._external_auth}.get(apdu.ins)
        if handler is None:
            return _SW["ins"]
        if apdu.ins != 0xC0:
            self.pending = b""
        return handler(apdu)

    def _select(self, apdu: CommandApdu) -> bytes:
        if apdu.p1 == 0x04:
            if apdu.data != SSSE_NAME:
                return _SW["not_found"]
            # entering the DF again resets its security state, as cards do on a DF change
            self.df_selected, self.current_ef, self.authenticated = True, None, False
            self.pending = bytes((0x6F, len(SSSE_NAME) + 2 + 12, 0x84, len(SSSE_NAME))) + SSSE_NAME + bytes(
                (0xA5, 10, 0x9F, 0x08, 1, 0x02, 0xBF, 0x0C, 3, 0xDF, 0x01, 0x01))
            return bytes((0x61, len(self.pending)))
        if apdu.p1 in (0x00, 0x02) and len(apdu.data) == 2:
            fid = int.from_bytes(apdu.data, "big")
            if fid == 0x3F00:
                self.reset()
                return _SW["ok"]
            if not self.df_selected or fid not in (0xEF05, EF06_ID):
                return _SW["not_found"]
            self.current_ef = fid
            return _SW["ok"]
        return _SW["p1p2"]

    def _read_record(self, apdu: CommandApdu) -> bytes:
        sfi = apdu.p2 >> 3
        ef = {EF05_SFI: 0xEF05, 6: EF06_ID}.get(sfi) if sfi else self.current_ef
        if ef is None or not self.df_selected:
            return _SW["no_ef"]
        if ef == EF06_ID and (self.card.auth_required or self.protect_ef06) and not self.authenticated:
            return _SW["auth"]
        record = self.card.files()[ef].get(apdu.p1)
        if record is None:
            return _SW["no_record"]
        if apdu.le != len(record):
            return bytes((0x6C, len(record)))
        return record + _SW["ok"]

    def _get_response(self, apdu: CommandApdu) -> bytes:
        if not self.pending:
            return _SW["conditions"]
        want = apdu.le or 256
        if want > len(self.pending):
            return bytes((0x6C, len(self.pending)))
        give = min(want, self.chunk)
        out, self.pending = self.pending[:give], self.pending[give:]
        if self.pending:
            return out + bytes((0x61, min(len(self.pending), 255)))
        return out + _SW["ok"]

    def _get_challenge(self, apdu: CommandApdu) -> bytes:
        if apdu.le not in (4, 8):
            return _SW["length"]
        self.challenge = os.urandom(apdu.le)
        return self.challenge + _SW["ok"]

    def _external_auth(self, apdu: CommandApdu) -> bytes:
        challenge, self.challenge = self.challenge, None
        if challenge is None:
            return _SW["conditions"]
        if not hmac.compare_digest(apdu.data, test_cryptogram(self.card.psam_key, challenge)):
            return b"\x63\xc2"
        self.authenticated = True
        return _SW["ok"]


class VirtualCardSimulator(Simulator):
    """Holds a deck of virtual cards and plugs one into vpcd slot ``slot`` of a private pcscd.

    Faults: NO_CARD (start with the reader empty), CARD_PULLED (the card vanishes at the next READ RECORD,
    mid-read), AUTH_REQUIRED (the card answers 6982 to holder records), SILENT (APDUs get no answer),
    UNPLUG (the PC/SC service goes away: the private pcscd stops; ``replug`` restarts it).
    """

    kind = "smartcard"
    schemes: ClassVar[dict[str, str]] = {"vpcd": "pcsc"}

    def __init__(self, transport: str = "vpcd", *, faults: Iterable[Fault] = (), deck: str = "default",
                 slot: int = 0, chunk: int = 256, realtime: bool = True) -> None:
        # No super().__init__: the base would build a PtyLink/TcpLink listener, and this card is a client.
        if transport not in self.schemes:
            raise ValueError(f"smartcard simulator has no {transport!r} transport (choose from vpcd)")
        if deck not in DECKS:
            raise ValueError(f"unknown card deck {deck!r}; known decks: {', '.join(DECKS)}")
        self.transport, self.realtime = transport, realtime
        self._faults: Counter[Fault] = Counter()
        self._forever: set[Fault] = set(faults)
        self._started = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.deck = DECKS[deck]()
        self.slot, self.chunk = slot, chunk
        self.daemon: pcscd.PcscDaemon | None = None
        self.applet: CardApplet | None = None
        self._sock: socket.socket | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._powered = asyncio.Event()
        self._unplugged = False
        self._removing = False
        self.apdus = 0

    # ---- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        name = self.daemon.reader_name(self.slot) if self.daemon else f"{pcscd.READER_NAME} 00 {self.slot:02X}"
        return f"pcsc://?reader={quote(name)}"

    async def start(self) -> str:
        self.daemon = await pcscd.acquire()
        self._started = True
        _RUNNING.add(self)
        if self.has(Fault.UNPLUG):
            await self.unplug()
        elif not self.has(Fault.NO_CARD):
            await self.insert()
        log.info("smartcard simulator on %s (vpcd port %s)", self.url, self.daemon.port + self.slot)
        return self.url

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.remove()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._unplugged and self.daemon is not None:
            await self.daemon.start()  # the daemon is shared: give it back as we found it
        self.daemon = None
        await pcscd.release()
        _RUNNING.discard(self)

    @property
    def inserted(self) -> bool:
        return self._sock is not None

    async def insert(self, card: VirtualCard | int = 0, wait_s: float = 3.0) -> None:
        """Put ``card`` (or deck[card]) on the reader and wait until pcscd has powered it up."""
        await self.remove()
        if self.daemon is None or not self.daemon.running:
            raise RuntimeError("the virtual reader is unplugged; replug() first")
        chosen = self.deck[card] if isinstance(card, int) else card
        self.applet = CardApplet(chosen, chunk=self.chunk, protect_ef06=self.has(Fault.AUTH_REQUIRED))
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, ("127.0.0.1", self.daemon.port + self.slot))
        self._sock = sock
        self._powered.clear()
        self._serve_task = loop.create_task(self._serve(sock))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._powered.wait(), wait_s)

    async def remove(self, wait_s: float = 1.5) -> None:
        """Take the card away and wait (bounded) until vpcd has noticed, as a citizen pulling it out.

        vpcd only learns of a closed socket at its next presence poll, and a new card connecting before
        that poll would be taken for the old one (no removal seen by pcscd). So the card answers the next
        ATR poll with an empty ATR, which makes pcscd see the slot empty, and then closes the connection.
        """
        task = self._serve_task
        # a SILENT card leaves vpcd waiting inside a transmit, so no poll will come: just go
        if task is not None and self.daemon is not None and self.daemon.running and not self.has(Fault.SILENT):
            self._removing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), wait_s)
        self._removing = False
        task, self._serve_task = self._serve_task, None
        sock, self._sock = self._sock, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()  # first, so the loop unregisters the socket before it is closed
            await asyncio.gather(task, return_exceptions=True)
        if sock is not None:
            sock.close()

    async def unplug(self) -> None:
        """The PC/SC service goes away (our reader cannot leave pcscd's list without pcscd going)."""
        await self.remove()
        if self.daemon is not None:
            self._unplugged = True
            await self.daemon.stop()

    async def replug(self) -> None:
        if self.daemon is not None:
            await self.daemon.start()
            self._unplugged = False
            if not self.has(Fault.NO_CARD):
                await self.insert()

    # ---- wire ------------------------------------------------------------------------------------
    async def _recv_exactly(self, sock: socket.socket, size: int) -> bytes | None:
        loop = asyncio.get_running_loop()
        buf = bytearray()
        while len(buf) < size:
            # re-arm quick ACKs before every read, or Linux delays ACKs and each APDU costs ~40 ms
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = await loop.sock_recv(sock, size - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                header = await self._recv_exactly(sock, 2)
                payload = await self._recv_exactly(sock, int.from_bytes(header, "big")) if header else None
                if payload is None:
                    break
                reply = self._answer(payload)
                if reply is _PULL:
                    log.info("smartcard simulator: card pulled mid-exchange (fault)")
                    break
                if reply is not None:
                    await loop.sock_sendall(sock, len(reply).to_bytes(2, "big") + reply)
                if self._removing and payload == b"\x04":
                    break  # vpcd has just been told "no card"; now the card is really gone
        except OSError:
            pass
        finally:
            if self._sock is sock:
                self._sock = None
                self._serve_task = None
                sock.close()

    def _answer(self, payload: bytes) -> bytes | None:
        assert self.applet is not None
        if len(payload) == 1:
            code = payload[0]
            if code == 4:
                return b"" if self._removing else ATR
            if code == 1:
                self._powered.set()
            if code in (0, 1, 2):
                self.applet.reset()
            return None
        self.apdus += 1
        if payload[1:2] == b"\xb2" and self.active(Fault.CARD_PULLED):
            return _PULL
        if self.has(Fault.SILENT):
            return None
        self.applet.protect_ef06 = self.has(Fault.AUTH_REQUIRED)
        return self.applet.process(payload)

    def on_bytes(self, data: bytes) -> None:  # the base's hook; this card parses its own socket
        raise NotImplementedError("VirtualCardSimulator reads its vpcd socket itself")

    def send(self, data: bytes) -> None:
        raise NotImplementedError("VirtualCardSimulator answers through its vpcd socket")


_PULL = b"pull"
