"""Same-origin checks for cookie-authenticated requests: the second line of CSRF defence after the token.

A cookie goes along with whatever request a browser makes, so an action (and the event-stream handshake,
which is a GET that carries data back) from a session must come from the console's own pages: the browser
says where a request comes from in ``Sec-Fetch-Site`` and ``Origin``. Browsers send at least one of them
on every POST and WebSocket handshake, so a request with neither is refused too (scripts use bearer tokens).
The host is compared, not the scheme, so a TLS-terminating proxy in front of the server changes nothing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from queue_server.engine.errors import QueueError


def cross_site(reason_en: str) -> QueueError:
    return QueueError("cross_site_request", "拒绝跨站请求，请从管理后台页面操作",
                      f"refused a cross-site request: {reason_en}", 403)


def check_same_origin(request: web.Request, public_url: str = "") -> None:
    """Refuse (403 ``cross_site_request``) unless the browser says the request comes from this server's pages."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if fetch_site is None and origin is None:
        raise cross_site("neither Origin nor Sec-Fetch-Site was sent")
    if fetch_site is not None and fetch_site != "same-origin":
        raise cross_site(f"Sec-Fetch-Site is {fetch_site[:40]!r}, not 'same-origin'")
    if origin is not None:
        hosts = {request.host.lower()}
        if public_url:
            hosts.add(urlsplit(public_url).netloc.lower())
        given = urlsplit(origin).netloc.lower() if origin != "null" else ""
        if given not in hosts:
            raise cross_site(f"Origin {origin[:80]!r} is not this server")
