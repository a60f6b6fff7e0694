"""PC/SC smart-card reader (``pcsc://?reader=NAME``) through pyscard, off the event loop.

pyscard only blocks, so every PC/SC call of a device runs in that device's one named worker thread
(a single-thread executor); card insert/remove events come from a second thread that waits in
``SCardGetStatusChange`` on its own context and is cancelled with ``SCardCancel`` on close. The T=0
rules (61xx → GET RESPONSE, 6Cxx → resend with Le) are applied here, through ``apdu.T0Exchange``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from smartcard import scard

from devices.base import Device
from devices.errors import DeviceDisconnected, DeviceError, DeviceTimeout, NoCard, ProtocolError
from devices.faults import Fault
from devices.simulator import Simulator
from devices.smartcard import pcscd
from devices.smartcard.apdu import ApduError, CommandApdu, ResponseApdu, T0Exchange
from devices.state import DeviceState, DeviceStatus
from devices.url import DeviceAddress

log = logging.getLogger(__name__)

__all__ = ["CardEvent", "CardRemoved", "SmartCardReader"]

T = TypeVar("T")

_SERVICE_GONE = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_E_INVALID_HANDLE,
                 scard.SCARD_F_COMM_ERROR}
_READER_GONE = {scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE,
                scard.SCARD_E_NO_READERS_AVAILABLE}
_CARD_GONE = {scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_REMOVED_CARD, scard.SCARD_W_RESET_CARD,
              scard.SCARD_E_NOT_TRANSACTED, scard.SCARD_W_UNPOWERED_CARD, scard.SCARD_W_UNRESPONSIVE_CARD}
NO_SERVICE_WORDS = "PC/SC service not running; start pcscd"


class CardRemoved(NoCard):
    """The card went away during an exchange (pulled mid-read)."""


@dataclass(frozen=True)
class CardEvent:
    """A card was inserted or removed; ``atr`` is the inserted card's ATR."""

    kind: str  # "inserted" | "removed"
    reader: str
    atr: bytes = b""


def _code(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


def _words(hresult: int) -> str:
    return f"{scard.SCardGetErrorMessage(hresult).rstrip('. ')} (0x{_code(hresult):08X})"


class _Watcher:
    """The monitor thread: waits for reader state changes and hands events to the loop's queue."""

    def __init__(self, reader: str, loop: asyncio.AbstractEventLoop, name: str,
                 on_event: Callable[[CardEvent], None]) -> None:
        self.reader = reader
        self.loop = loop
        self.on_event = on_event
        self.stopping = threading.Event()
        self.ready = asyncio.Event()  # set from the thread through the loop
        self._ready_sent = False
        self.context: int | None = None
        self.thread = threading.Thread(target=self._run, name=f"{name}-monitor")

    def _emit(self, event: CardEvent) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.on_event, event)

    def _set_ready(self) -> None:
        if not self._ready_sent and not self.loop.is_closed():
            self._ready_sent = True
            self.loop.call_soon_threadsafe(self.ready.set)

    def _run(self) -> None:
        present = None
        state = scard.SCARD_STATE_UNAWARE
        while not self.stopping.is_set():
            if self.context is None:
                hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
                if hresult != scard.SCARD_S_SUCCESS:
                    self._set_ready()
                    self.stopping.wait(0.5)
                    continue
                self.context, state = context, scard.SCARD_STATE_UNAWARE
            hresult, states = scard.SCardGetStatusChange(self.context, 1000, [(self.reader, state)])
            if _code(hresult) == _code(scard.SCARD_E_TIMEOUT):
                continue
            if hresult != scard.SCARD_S_SUCCESS:
                if _code(hresult) != _code(scard.SCARD_E_CANCELLED):
                    scard.SCardReleaseContext(self.context)
                    self.context = None
                    if present:
                        self._emit(CardEvent("removed", self.reader))
                    present = False
                    self._set_ready()
                    self.stopping.wait(0.2)
                continue
            _, flags, atr = states[0]
            state = flags & ~scard.SCARD_STATE_CHANGED
            now = bool(flags & scard.SCARD_STATE_PRESENT) and not flags & scard.SCARD_STATE_MUTE
            if present is not None and now != present:
                self._emit(CardEvent("inserted" if now else "removed", self.reader, bytes(atr) if now else b""))
            present = now
            self._set_ready()
        if self.context is not None:
            scard.SCardReleaseContext(self.context)
            self.context = None

    async def stop(self) -> None:
        """Cancel the wait and let the thread end (bounded; joined without blocking the loop)."""
        self.stopping.set()
        context = self.context
        if context is not None:
            scard.SCardCancel(context)
        for _ in range(300):
            if not self.thread.is_alive():
                return
            await asyncio.sleep(0.01)
        log.warning("card monitor thread %s did not stop within 3 s", self.thread.name)


class SmartCardReader(Device):
    """A PC/SC reader; ``transmit`` one APDU (T=0 rules applied), ``atr()``, card events, status in words."""

    kind: ClassVar[str] = "smartcard"
    default_timeout_s: ClassVar[float] = 5.0

    def __init__(self, address: DeviceAddress | str, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        self._executor: ThreadPoolExecutor | None = None
        self._hung = False
        self._context: int | None = None
        self._card: int | None = None
        self._protocol = 0
        self.reader_name: str | None = None
        self._watchers: set[_Watcher] = set()

    # ---- worker thread ---------------------------------------------------------------------------
    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"smartcard-{self.name}")
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        try:
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError as err:
            self._hung = True
            raise DeviceTimeout(f"{self.describe()}: the card gave no answer in {self.timeout_s:g} s; "
                                "take the card out and insert it again") from err

    async def _shutdown_worker(self) -> None:
        for watcher in list(self._watchers):
            await watcher.stop()
        self._watchers.clear()
        executor, self._executor = self._executor, None
        if executor is not None:
            # a hung transmit returns once its card goes away; do not wait for it here
            executor.shutdown(wait=not self._hung, cancel_futures=True)

    async def close(self) -> None:
        await super().close()
        await self._shutdown_worker()

    # ---- Device primitives -----------------------------------------------------------------------
    async def _connect(self, target: DeviceAddress) -> None:
        pcscd.client_socket_link()
        self.reader_name = await self._call(self._establish, target.option("reader"))

    def _establish(self, wanted: str | None) -> str:
        if self._context is None:
            hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult != scard.SCARD_S_SUCCESS:
                raise DeviceDisconnected(f"{self.describe()}: {NO_SERVICE_WORDS} ({_words(hresult)})")
            self._context = context
        hresult, readers = scard.SCardListReaders(self._context, [])
        if hresult != scard.SCARD_S_SUCCESS and _code(hresult) != _code(scard.SCARD_E_NO_READERS_AVAILABLE):
            self._release()
            raise DeviceDisconnected(f"{self.describe()}: {NO_SERVICE_WORDS} ({_words(hresult)})")
        readers = list(readers or [])
        if wanted is None and readers:
            return str(readers[0])
        if wanted in readers:
            return str(wanted)
        available = ", ".join(repr(r) for r in readers) or "none"
        self._release()
        raise DeviceDisconnected(f"{self.describe()}: reader {wanted or '(any)'!r} not found; readers available: "
                                 f"{available}; check the reader's cable or its name in the config")

    def _release(self) -> None:
        self._drop_card()
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None

    def _drop_card(self) -> None:
        if self._card is not None:
            scard.SCardDisconnect(self._card, scard.SCARD_LEAVE_CARD)
            self._card = None

    async def _disconnect(self) -> None:
        if self._executor is not None and not self._hung:
            await self._call(self._release)

    async def _read_status(self) -> DeviceStatus:
        flags, atr = await self._call(self._reader_state, 0)
        if flags & scard.SCARD_STATE_MUTE:
            return DeviceStatus(DeviceState.FAULT, f"the card in {self.reader_name!r} does not answer; "
                                "take it out and insert it again", details={"card": "mute"})
        if flags & scard.SCARD_STATE_PRESENT:
            return DeviceStatus(DeviceState.READY, f"card present in {self.reader_name!r}",
                                details={"card": "present", "atr": atr.hex(" ").upper()})
        return DeviceStatus(DeviceState.READY, f"reader {self.reader_name!r} ready, no card",
                            details={"card": "absent"})

    def _reader_state(self, timeout_ms: int) -> tuple[int, bytes]:
        if self._context is None:
            raise DeviceDisconnected(f"{self.describe()}: no PC/SC context; {NO_SERVICE_WORDS}")
        hresult, states = scard.SCardGetStatusChange(self._context, timeout_ms,
                                                     [(self.reader_name, scard.SCARD_STATE_UNAWARE)])
        self._raise_for(hresult, "asking the reader's state")
        _, flags, atr = states[0]
        if flags & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
            raise DeviceDisconnected(f"{self.describe()}: reader {self.reader_name!r} is gone; "
                                     "check its cable")
        return flags, bytes(atr)

    def _raise_for(self, hresult: int, doing: str) -> None:
        if hresult == scard.SCARD_S_SUCCESS:
            return
        code = _code(hresult)
        if code in {_code(c) for c in _SERVICE_GONE}:
            self._release()
            raise DeviceDisconnected(f"{self.describe()}: {NO_SERVICE_WORDS} ({_words(hresult)} while {doing})")
        if code in {_code(c) for c in _READER_GONE}:
            self._release()
            raise DeviceDisconnected(f"{self.describe()}: reader {self.reader_name!r} is gone "
                                     f"({_words(hresult)}); check its cable")
        if code in {_code(c) for c in _CARD_GONE}:
            self._drop_card()
            cls = NoCard if code == _code(scard.SCARD_E_NO_SMARTCARD) else CardRemoved
            words = ("no card in the reader; insert the card" if cls is NoCard else
                     "the card was taken away or reset during the exchange; insert it again and retry")
            raise cls(f"{self.describe()}: {words} ({_words(hresult)} while {doing})", code=code)
        raise DeviceError(f"{self.describe()}: PC/SC error {_words(hresult)} while {doing}")

    # ---- card operations (worker thread) ---------------------------------------------------------
    def _ensure_card(self) -> None:
        if self._card is not None:
            return
        if self._context is None:
            raise DeviceDisconnected(f"{self.describe()}: no PC/SC context; {NO_SERVICE_WORDS}")
        hresult, card, protocol = scard.SCardConnect(self._context, self.reader_name, scard.SCARD_SHARE_SHARED,
                                                     scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        self._raise_for(hresult, "connecting to the card")
        self._card, self._protocol = card, protocol

    def _raw_transmit(self, apdu: bytes, first: bool = False) -> bytes:
        stale_ok = first and self._card is not None
        self._ensure_card()
        pci = scard.SCARD_PCI_T0 if self._protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
        hresult, response = scard.SCardTransmit(self._card, pci, list(apdu))
        if stale_ok and _code(hresult) in (_code(scard.SCARD_W_REMOVED_CARD), _code(scard.SCARD_W_RESET_CARD)):
            # the handle belongs to a card swapped (or reset) since the last exchange: reconnect once
            self._drop_card()
            self._ensure_card()
            hresult, response = scard.SCardTransmit(self._card, pci, list(apdu))
        self._raise_for(hresult, f"sending {apdu[:4].hex(' ').upper()}")
        if len(response) < 2:
            self._drop_card()
            raise CardRemoved(f"{self.describe()}: the card answered {len(response)} bytes to "
                              f"{apdu[:4].hex(' ').upper()}; it was probably pulled out mid-read; "
                              "insert it again and retry")
        return bytes(response)

    def _atr(self) -> bytes:
        self._ensure_card()
        hresult, _reader, _state, _protocol, atr = scard.SCardStatus(self._card)
        self._raise_for(hresult, "reading the ATR")
        return bytes(atr)

    # ---- public API ------------------------------------------------------------------------------
    async def transmit(self, apdu: CommandApdu | bytes) -> ResponseApdu:
        """Send one command; 61xx and 6Cxx are followed up as T=0 requires, so the caller sees one answer."""
        command = apdu if isinstance(apdu, CommandApdu) else CommandApdu.parse(apdu)

        async def exchange() -> ResponseApdu:
            t0 = T0Exchange(command)
            step: CommandApdu | None = t0.first
            while step is not None:
                raw = await self._call(self._raw_transmit, step.to_bytes(), step is t0.first)
                try:
                    step = t0.feed(raw)
                except ApduError as err:
                    raise ProtocolError(f"{self.describe()}: {err}") from err
            assert t0.result is not None
            return t0.result

        return await self.run(exchange)

    async def atr(self) -> bytes:
        """The inserted card's Answer To Reset (connects to the card if needed)."""
        return await self.run(lambda: self._call(self._atr))

    async def wait_for_card(self, timeout_s: float = 10.0) -> bytes:
        """Wait (bounded) until a card is present; returns its ATR. For a kiosk's "insert your card" step."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            flags, atr = await self.run(lambda: self._call(self._reader_state, 0))
            if flags & scard.SCARD_STATE_PRESENT and not flags & scard.SCARD_STATE_MUTE and atr:
                return atr
            if loop.time() >= deadline:
                raise NoCard(f"{self.describe()}: no card was inserted within {timeout_s:g} s")
            await asyncio.sleep(0.05)

    @asynccontextmanager
    async def watch(self) -> AsyncIterator[asyncio.Queue[CardEvent]]:
        """Card insert/remove events while the block runs; the monitor thread stops when it ends."""
        if self.reader_name is None:
            raise DeviceDisconnected(f"{self.describe()} is not connected: {self.last_status.reason}")
        queue: asyncio.Queue[CardEvent] = asyncio.Queue()
        watcher = _Watcher(self.reader_name, asyncio.get_running_loop(), f"smartcard-{self.name}", queue.put_nowait)
        self._watchers.add(watcher)
        watcher.thread.start()
        try:
            # the first reading is the baseline, not an event
            await asyncio.wait_for(watcher.ready.wait(), self.timeout_s)
            yield queue
        finally:
            self._watchers.discard(watcher)
            await watcher.stop()

    async def events(self) -> AsyncIterator[CardEvent]:
        """``async for event in reader.events()``: inserted/removed until the loop is left or closed."""
        async with self.watch() as queue:
            while True:
                yield await queue.get()

    def _make_simulator(self, faults: list[Fault]) -> Simulator:
        from devices.smartcard.virtual_card import VirtualCardSimulator

        reader = self.address.option("reader", "")
        slot = int(reader[-2:], 16) if reader.startswith(pcscd.READER_NAME) else 0
        return VirtualCardSimulator(faults=faults, deck=self.address.option("deck", "default"), slot=slot)
