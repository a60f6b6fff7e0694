"""The rush's cuttable cable: a LinkRelay passes HTTP through, drops it while cut, and passes it again mended."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from kiosk.hall_link import LinkRelay


async def _hello(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def test_a_cut_link_refuses_and_drops_then_mended_passes_again() -> None:
    app = web.Application()
    app.router.add_get("/", _hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    relay = LinkRelay("kiosk-9", "127.0.0.1", port)
    url = await relay.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.get(url) as answer:
                assert answer.status == 200 and await answer.json() == {"ok": True}
            relay.cut()
            failed = False
            try:
                async with http.get(url) as answer:
                    await answer.read()
            except aiohttp.ClientError:
                failed = True
            assert failed and relay.cuts == 1
            relay.mend()
            async with http.get(url) as answer:
                assert answer.status == 200
    finally:
        await relay.stop()
        await runner.cleanup()
