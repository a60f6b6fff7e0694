"""The kiosk's card polling: a tap on the ID-card reader or the social-security reader becomes one flow event.

A tap is a card arriving: a card that was already lying on the reader (when the node starts, or after its
read) is not read again until it has been lifted, so one tap gives one event however long the card stays.
A read cut short (card pulled) is reported as CardReadFailed so the screen asks for the card again; a
reader that is down is left to the runtime's supervision (the loop backs off and tries again).

The record read is handed over in the event and not kept here: the flow turns it into the holder HMAC and the
masked name at once (kiosk/flows/holder.py), and nothing else of the card survives.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from devices.errors import DeviceError, NoCard
from devices.idcard.driver import IdCardReader
from devices.idcard.protocol import CardPulled, NoCardOnReader
from devices.smartcard.driver import SmartCardReader
from devices.smartcard.social_security import read_social_security_card
from kiosk.flows.events import CardReadFailed, Event, IdCardRead, SocialSecurityRead

__all__ = ["CardWatch", "id_card_loop", "social_security_loop"]

log = logging.getLogger(__name__)

POLL_WINDOW_S = 1.0  # one read() call waits this long for a card, then the loop goes round again
LIFT_POLL_S = 0.2  # how often a card left on the reader is checked for having been lifted
DOWN_PAUSE_S = 1.0  # a reader that failed: wait this long before trying again

Emit = Callable[[Event], None]
Today = Callable[[], dt.date]


@dataclass
class CardWatch:
    """What one reader's loop is doing: ``armed`` once the reader is empty (the next card is a tap)."""

    armed: bool = False
    taps: int = 0
    failed_reads: int = 0


async def _until_lifted_id(reader: IdCardReader, watch: CardWatch) -> None:
    watch.armed = False
    while True:
        try:
            await reader.find_card()
        except NoCardOnReader:
            watch.armed = True
            return
        except DeviceError:
            await asyncio.sleep(DOWN_PAUSE_S)
            continue
        await asyncio.sleep(LIFT_POLL_S)


async def id_card_loop(reader: IdCardReader, emit: Emit, today: Today, watch: CardWatch | None = None) -> None:
    """Poll the SAM reader until cancelled; each tap → IdCardRead, each cut read → CardReadFailed."""
    watch = watch or CardWatch()
    await _until_lifted_id(reader, watch)
    while True:
        try:
            record = await reader.read(timeout_s=POLL_WINDOW_S)
        except NoCardOnReader:
            continue
        except CardPulled as err:
            log.info("%s: a card was pulled mid-read", reader.describe())
            watch.failed_reads += 1
            emit(CardReadFailed(str(err), pulled=True))
            await _until_lifted_id(reader, watch)
            continue
        except DeviceError as err:
            log.debug("%s: no read (%s)", reader.describe(), err)
            await asyncio.sleep(DOWN_PAUSE_S)
            continue
        watch.taps += 1
        emit(IdCardRead(record, today()))
        del record
        await _until_lifted_id(reader, watch)


async def _card_present(reader: SmartCardReader) -> bool:
    status = await reader.status()
    return status.details.get("card") == "present"


async def _until_lifted_ss(reader: SmartCardReader, watch: CardWatch) -> None:
    watch.armed = False
    while True:  # PC/SC has no "removed" wait of its own here: poll the slot's state
        if not await _card_present(reader):
            watch.armed = True
            return
        await asyncio.sleep(LIFT_POLL_S)


async def social_security_loop(reader: SmartCardReader, emit: Emit, today: Today,
                               watch: CardWatch | None = None) -> None:
    """Watch the PC/SC reader until cancelled; each inserted card → SocialSecurityRead or CardReadFailed."""
    watch = watch or CardWatch()
    await _until_lifted_ss(reader, watch)
    while True:
        try:
            await reader.wait_for_card(timeout_s=POLL_WINDOW_S)
        except NoCard:
            continue
        except DeviceError as err:
            log.debug("%s: not watching (%s)", reader.describe(), err)
            await asyncio.sleep(DOWN_PAUSE_S)
            continue
        try:
            record = await read_social_security_card(reader)
        except NoCard as err:  # CardRemoved included: the card left mid-read
            watch.failed_reads += 1
            emit(CardReadFailed(str(err), pulled=True))
        except DeviceError as err:
            watch.failed_reads += 1
            emit(CardReadFailed(str(err)))
        else:
            watch.taps += 1
            emit(SocialSecurityRead(record, today()))
            del record
        await _until_lifted_ss(reader, watch)
