"""A social-security card at the kiosk: real SmartCardReader through a private pcscd + vpcd and the virtual card."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devices.faults import Fault
from devices.smartcard import pcscd
from devices.smartcard.social_security import mask_name
from kiosk.flows.effects import Screen
from kiosk.flows.events import Button, Touch
from tests.integration.server_support import ServerProcess
from tests.support.kiosk_rig import kiosk_hall, running_node
from tests.support.waiting import until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def private_pcscd() -> Iterator[Any]:
    """One private pcscd for the module (started here, stopped here); the kiosk's simulator reuses it."""
    daemon = pcscd.hold_sync()
    yield daemon
    pcscd.release_sync()


@pytest.fixture
def hall_file(tmp_path: Path) -> Path:
    return kiosk_hall(tmp_path, ("kiosk-1",), smartcard=True)



async def test_a_social_security_card_gives_a_ticket_with_the_masked_name(
        tmp_path: Path, hall_file: Path, server: ServerProcess, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_node(hall_file, "kiosk-1", server.url, tmp_path / "node") as kiosk:
        slot, watch = kiosk.card_slot, kiosk.behaviour.ss_watch
        card = slot.deck[0]
        await slot.remove()
        await until(lambda: watch.armed, "the kiosk to see the card slot empty")
        mark = len(kiosk.view.shown)
        await slot.insert(0)
        start = await kiosk.view.wait_for(Screen.START, mark, match=lambda s: bool(s.holder_masked))
        assert start.holder_masked == mask_name(card.name)
        mark = await kiosk.touch(Touch(Button.SERVICE, "A01"))
        shown = await kiosk.view.wait_for(Screen.NUMBER, mark)
        assert mask_name(card.name) in kiosk.printer.tickets[-1].text and shown.number

        mark = await kiosk.touch(Touch(Button.DONE))
        await kiosk.view.wait_for(Screen.START, mark)
        await slot.remove()
        await until(lambda: watch.armed, "the kiosk to see the card slot empty again")
        slot.inject(Fault.CARD_PULLED, times=1)
        mark = len(kiosk.view.shown)
        await slot.insert(0)
        await kiosk.view.wait_for(Screen.START, mark, match=lambda s: "卡片移开了" in s.words.zh)
    text = caplog.text + server.log_text()
    assert card.ssn not in text and card.name not in text
