"""Self-service certificate, card read to delivered: where the time goes in the kiosk's certificate desk.

Steps, each timed on its own, n times in one warm process: list the holder's documents from the e-licence
simulator (loopback HTTP), fetch the picked one in full, render the A4 PDF, print it through an isolated
cupsd to the simulated printer until CUPS says completed. ``desk.print`` (fetch + render + print, what the
citizen waits for after the touch) is timed as one as well, so the steps' sum can be checked against it.
Usage: .venv/bin/python benchmarks/bench_certificate_desk.py [--n 10]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
from typing import Any

from devices.certificate.driver import CertificatePrinter
from devices.certificate.render import render_pdf
from devices.certificate.simulator import CupsSimulator
from kiosk.certificate_desk import CertificateDesk, certificate_of
from kiosk.elicence.client import ELicenceClient
from kiosk.elicence.simulator import ELicenceSimulator
from kiosk.flows.effects import FetchDocuments, PrintCertificate
from kiosk.flows.events import CertificatePrinted, DocumentsFetched, ServerAnswer

HOLDER = "3c" * 32


def ms(values: list[float]) -> str:
    q = statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else values[0]
    return f"median {statistics.median(values) * 1000:.1f} ms, p90 {q * 1000:.1f} ms"


async def _no_server(path: str, body: Any, key: str) -> ServerAnswer:
    return ServerAnswer(key, 201, {})


async def run(n: int) -> dict[str, str]:
    cups = CupsSimulator(queue="BENCH")
    await cups.start()
    try:
        async with ELicenceSimulator() as library, ELicenceClient(library.url) as client, \
                CertificatePrinter(cups.url, name="certificate_printer") as printer:
            desk = CertificateDesk(client, printer, _no_server)
            steps: dict[str, list[float]] = {k: [] for k in ("list", "fetch", "render", "print", "desk.print")}
            render_pdf(certificate_of(await client.document(HOLDER, (await client.documents(HOLDER))[0].id), "张*"))
            for i in range(n):
                t = time.perf_counter()
                listed = await desk.fetch(FetchDocuments(f"l{i}", HOLDER))
                steps["list"].append(time.perf_counter() - t)
                assert isinstance(listed, DocumentsFetched) and listed.documents
                doc_id = listed.documents[0].id
                t = time.perf_counter()
                document = await client.document(HOLDER, doc_id)
                steps["fetch"].append(time.perf_counter() - t)
                t = time.perf_counter()
                pdf = await asyncio.to_thread(render_pdf, certificate_of(document, "张*"))
                steps["render"].append(time.perf_counter() - t)
                t = time.perf_counter()
                await printer.print_certificate(pdf)
                steps["print"].append(time.perf_counter() - t)
                t = time.perf_counter()
                done = await desk.print(PrintCertificate(f"p{i}", doc_id, HOLDER, "张*"))
                steps["desk.print"].append(time.perf_counter() - t)
                assert isinstance(done, CertificatePrinted), done
            assert len(cups.spool) == 2 * n
    finally:
        await cups.stop()
    return {name: ms(values) for name, values in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    print(f"# {platform.node()} · {platform.release()} · Python {platform.python_version()} · n={args.n}")
    for name, value in asyncio.run(run(args.n)).items():
        print(f"- {name}: {value}")


if __name__ == "__main__":
    main()
