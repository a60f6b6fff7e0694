"""The kiosk's e-licence client against the simulator over loopback HTTP: documents, refusals and faults."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import aiohttp
import pytest

from devices.faults import Fault
from kiosk.elicence.client import ELicenceClient, ELicenceError
from kiosk.elicence.deck import Deck
from kiosk.elicence.simulator import ELicenceSimulator

HOLDER = "5a" * 32
NOBODY = "00" * 32


@pytest.fixture
async def library():
    sim = ELicenceSimulator(Deck(none=frozenset({NOBODY})), slow_s=2.0)
    client = ELicenceClient(await sim.start(), timeout_s=0.5)
    await client.open()
    try:
        yield sim, client
    finally:
        await client.close()
        await sim.stop()


async def test_a_holder_lists_documents_and_fetches_one_in_full(library) -> None:
    sim, client = library
    docs = await client.documents(HOLDER)
    assert docs and docs[0].kind == "参保证明"
    full = await client.document(HOLDER, docs[0].id)
    assert full == docs[0] and full.rows
    assert full.verify_url == f"{sim.url}/verify/{full.serial}"
    async with aiohttp.ClientSession() as session, session.get(full.verify_url) as reply:
        assert (await reply.json()) == {"serial": full.serial, "valid": True}


async def test_has_none_is_an_empty_list_and_anothers_document_is_refused(library) -> None:
    _, client = library
    assert await client.documents(NOBODY) == []
    mine = (await client.documents(HOLDER))[0]
    with pytest.raises(ELicenceError, match="no such document") as caught:
        await client.document("6b" * 32, mine.id)
    assert caught.value.status == 404 and not caught.value.unreachable


async def test_a_malformed_holder_key_is_refused_for_that_request_alone(library) -> None:
    _, client = library
    with pytest.raises(ELicenceError, match="holder must be the 64-hex") as caught:
        await client.documents("110101198506011234")
    assert caught.value.status == 400
    assert await client.documents(HOLDER)


@pytest.mark.parametrize(("fault", "words"), [(Fault.SLOW, "no answer within"), (Fault.SERVER_ERROR, "HTTP 500"),
                                              (Fault.UNPLUG, "cannot be reached")])
async def test_faults_are_unreachable_errors_in_words_and_the_next_request_works(library, fault, words) -> None:
    sim, client = library
    sim.inject(fault)  # standing: aiohttp retries a dropped GET once by itself
    with pytest.raises(ELicenceError, match=words) as caught:
        await client.documents(HOLDER)
    assert caught.value.unreachable
    sim.clear()
    assert await client.documents(HOLDER)


async def test_library_down_is_connection_refused_and_back_on_the_same_url(library) -> None:
    sim, client = library
    url = sim.url
    await sim.unplug()
    with pytest.raises(ELicenceError, match="cannot be reached") as caught:
        await client.documents(HOLDER)
    assert caught.value.unreachable
    await sim.replug()
    assert sim.url == url and await client.documents(HOLDER)


async def test_servicehall_elicence_sim_serves_until_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kiosk.cli", "elicence-sim", "--port", "0", stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert "e-licence library simulator at http://127.0.0.1:" in line
        url = line.rsplit(" ", 1)[1].strip()
        async with ELicenceClient(url, timeout_s=10) as client:
            assert (await client.documents(HOLDER))[0].kind == "参保证明"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
