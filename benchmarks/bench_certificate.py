"""Certificate printing figures: render time per A4 proof and submit-to-completed through an isolated cupsd.

Baselines in the same run: rendering with fonts parsed per document (what fpdf2 does without our FontBook),
and ``lp`` of the same PDF through the same queue (its exit, and its job polled to completed).
Usage: .venv/bin/python benchmarks/bench_certificate.py [--n 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import re
import statistics
import subprocess
import tempfile
import time

from devices.certificate.cups import CupsClient
from devices.certificate.driver import CertificatePrinter
from devices.certificate.ipp import Tag
from devices.certificate.render import Certificate, FontBook, render_pdf
from devices.certificate.simulator import CupsSimulator


def proof(i: int) -> Certificate:
    return Certificate.for_holder(
        name="张三丰", id_number="11010119800101123X", title="参保证明", department="某市人力资源和社会保障局",
        serial=f"SB-2025-{i:06d}", issued=dt.date(2025, 3, 14), verify_url=f"https://e-licence.example/v/{i}",
        headings=("险种", "参保状态", "起始年月", "累计月数"),
        rows=tuple((f"险种{j}", "正常参保", "2008-07", str(200 + j)) for j in range(8)),
        paragraphs=("兹证明上述人员在本市参加社会保险，特此证明。门 骨 直 写 画 册 将 说 关 过 对 内 图 边 编 号 №〇",))


def ms(values: list[float]) -> str:
    low, high = min(values) * 1000, max(values) * 1000
    return f"median {statistics.median(values) * 1000:.1f} ms (min {low:.1f}, max {high:.1f})"


def bench_render(n: int) -> dict[str, str]:
    t = time.perf_counter()
    render_pdf(proof(0))
    first = time.perf_counter() - t
    cached, fresh = [], []
    for i in range(n):
        t = time.perf_counter()
        render_pdf(proof(i))
        cached.append(time.perf_counter() - t)
        t = time.perf_counter()
        render_pdf(proof(i), book=FontBook())  # baseline: every document parses its fonts again
        fresh.append(time.perf_counter() - t)
    return {"first render in the process": f"{first * 1000:.0f} ms", "render, fonts cached (FontBook)": ms(cached),
            "baseline: render, fonts parsed per document": ms(fresh)}


async def wait_completed(client: CupsClient, job_id: int) -> None:
    delay = 0.02
    while (await client.job_attributes(job_id)).first(Tag.JOB, "job-state") != 9:
        await asyncio.sleep(delay)
        delay = min(0.5, delay * 1.5)


async def bench_print(n: int) -> dict[str, str]:
    pdf = render_pdf(proof(1))
    sim = CupsSimulator(queue="BENCH")
    await sim.start()
    try:
        server = f"127.0.0.1:{sim.cups_port}"
        driver_s, lp_exit_s, lp_done_s = [], [], []
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(pdf)
            f.flush()
            async with CertificatePrinter(sim.url, name="bench") as printer:
                client = CupsClient(server, sim.queue)
                await client.open()
                try:
                    for _ in range(n):
                        t = time.perf_counter()
                        await printer.print_certificate(pdf)
                        driver_s.append(time.perf_counter() - t)
                        t = time.perf_counter()
                        out = await asyncio.to_thread(subprocess.run, ["lp", "-h", server, "-d", sim.queue, f.name],
                                                      capture_output=True, check=True, timeout=30)
                        lp_exit_s.append(time.perf_counter() - t)
                        job_id = int(re.search(rb"-(\d+) ", out.stdout).group(1))  # type: ignore[union-attr]
                        await wait_completed(client, job_id)
                        lp_done_s.append(time.perf_counter() - t)
                finally:
                    await client.close()
        assert len(sim.spool) == 2 * n, "every job must reach the simulated printer"
    finally:
        await sim.stop()
    return {f"driver print_certificate(pdf) submit→completed ({len(pdf)} B)": ms(driver_s),
            "baseline: lp exit (job not yet printed)": ms(lp_exit_s),
            "baseline: lp + poll to completed": ms(lp_done_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    print(f"# {platform.node()} · {platform.release()} · Python {platform.python_version()} · n={args.n}")
    for name, value in {**bench_render(args.n), **asyncio.run(bench_print(args.n))}.items():
        print(f"- {name}: {value}")


if __name__ == "__main__":
    main()
