"""Smart-card figures: APDU round trip and a full social-security read through pcscd + vpcd.

Baseline, same run: a raw pyscard ``SCardTransmit`` loop on the same card and reader, so the figure shows
what the driver (worker-thread hop, T=0 handling, status bookkeeping) adds on top of PC/SC itself.
Run: ``.venv/bin/python benchmarks/bench_smartcard.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from smartcard import scard

from devices.smartcard import pcscd
from devices.smartcard.apdu import CommandApdu
from devices.smartcard.driver import SmartCardReader
from devices.smartcard.social_security import read_social_security_card
from devices.smartcard.virtual_card import VirtualCardSimulator

GET_CHALLENGE = CommandApdu(0x00, 0x84, 0x00, 0x00, le=8)


def raw_pyscard_loop(reader_name: str, rounds: int) -> list[float]:
    """The baseline: plain pyscard calls, one context, one card handle, timed per transmit."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
    hresult, card, protocol = scard.SCardConnect(context, reader_name, scard.SCARD_SHARE_SHARED,
                                                 scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
    assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
    pci = scard.SCARD_PCI_T0 if protocol == scard.SCARD_PROTOCOL_T0 else scard.SCARD_PCI_T1
    apdu = list(GET_CHALLENGE.to_bytes())
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            hresult, response = scard.SCardTransmit(card, pci, apdu)
            times.append(time.perf_counter() - start)
            assert hresult == scard.SCARD_S_SUCCESS and response[-2:] == [0x90, 0x00]
    finally:
        scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(context)
    return times


async def bench(rounds: int, reads: int) -> dict[str, float]:
    sim = VirtualCardSimulator()
    await sim.start()
    reader = SmartCardReader(sim.url, name="bench")
    try:
        await reader.open()
        await reader.wait_for_card(5)
        for _ in range(20):  # warm-up
            await reader.transmit(GET_CHALLENGE)
        driver_apdu = []
        for _ in range(rounds):
            start = time.perf_counter()
            response = await reader.transmit(GET_CHALLENGE)
            driver_apdu.append(time.perf_counter() - start)
            assert response.ok
        full_read = []
        for _ in range(reads):
            start = time.perf_counter()
            await read_social_security_card(reader)
            full_read.append(time.perf_counter() - start)
        apdus_per_read = 0
        if sim.applet is not None:
            before = sim.apdus
            await read_social_security_card(reader)
            apdus_per_read = sim.apdus - before
        # the baseline runs in a thread: the virtual card answers on this event loop meanwhile
        baseline = await asyncio.to_thread(raw_pyscard_loop, reader.reader_name or "", rounds)
    finally:
        await reader.close()
        await sim.stop()
    return {"driver_apdu_ms": statistics.median(driver_apdu) * 1e3,
            "raw_pyscard_apdu_ms": statistics.median(baseline) * 1e3,
            "social_security_read_ms": statistics.median(full_read) * 1e3,
            "apdus_per_read": apdus_per_read}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1000, help="APDUs per loop (default 1000)")
    parser.add_argument("--reads", type=int, default=100, help="full card reads (default 100)")
    args = parser.parse_args()
    daemon = pcscd.hold_sync()
    try:
        results = asyncio.run(bench(args.rounds, args.reads))
    finally:
        pcscd.release_sync()
    print(f"pcscd: {'private mount namespace' if daemon.isolated else 'host'}; vpcd card over 127.0.0.1")
    print(f"APDU round trip, driver (GET CHALLENGE, median of {args.rounds}): {results['driver_apdu_ms']:.3f} ms")
    print(f"APDU round trip, raw pyscard baseline (median of {args.rounds}): {results['raw_pyscard_apdu_ms']:.3f} ms")
    print(f"social-security card read ({results['apdus_per_read']} APDUs on the wire incl. GET RESPONSE, "
          f"median of {args.reads}): {results['social_security_read_ms']:.2f} ms")


if __name__ == "__main__":
    main()
