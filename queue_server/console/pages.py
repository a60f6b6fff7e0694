"""Routes of the managers' web console at /manage: sign-in and sign-out, the pages, and their local assets.

The pages are static shells (HTML, CSS, JS shipped in this package; nothing from a CDN, halls run on
closed networks) filled in by their scripts from /api/v1/* with the session cookie, so the console sees
exactly what the API gives a manager node. Each page carries its session's CSRF token in a meta tag.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from importlib import resources
from string import Template

from aiohttp import web

from queue_server.api.errors import Fields, bad_request, read_json
from queue_server.console.guard import check_same_origin
from queue_server.console.sessions import COOKIE_NAME, Session
from queue_server.desks.sign_in import console_client
from queue_server.keys import AUTH, SERVICE

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
# One policy for every page: only this server's scripts, styles and sockets; never framed.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class PageSpec:
    """One page of the console: its body template, title and scripts (common.js comes first on every page)."""

    body: str
    title: str
    scripts: tuple[str, ...]
    signed_in: bool = True


PAGES = {
    "/manage": PageSpec("dashboard.html", "实时看板", ("charts.js", "dashboard.js")),
    "/manage/history": PageSpec("history.html", "流程追溯", ("history.js",)),
    "/manage/reports": PageSpec("reports.html", "统计报表", ("charts.js", "reports.js")),
}
SIGN_IN = PageSpec("sign_in.html", "登录", ("sign_in.js",), signed_in=False)


def _load_static() -> dict[str, tuple[bytes, str]]:
    """Every asset of the package's static/ folder, read once: the only files the console serves."""
    folder = resources.files("queue_server.console") / "static"
    assets: dict[str, tuple[bytes, str]] = {}
    for item in folder.iterdir():
        suffix = item.name[item.name.rfind("."):]
        if item.is_file() and suffix in _STATIC_TYPES:
            assets[item.name] = (item.read_bytes(), _STATIC_TYPES[suffix])
    return assets


def _template(name: str) -> Template:
    return Template((resources.files("queue_server.console") / "templates" / name).read_text("utf-8"))


_ASSETS = _load_static()
_TEMPLATES = {name: _template(name) for name in ("layout.html", "header.html", SIGN_IN.body,
                                                 *(spec.body for spec in PAGES.values()))}


def _nav(current: str) -> str:
    marks = {path: ' aria-current="page"' if path == current else "" for path in PAGES}
    return " ".join(f'<a href="{path}"{marks[path]}>{spec.title}</a>' for path, spec in PAGES.items())


def _page(request: web.Request, spec: PageSpec, session: Session | None) -> web.Response:
    """The layout around the page's body: one head, one header with the navigation, no inline script."""
    hall = request.app[SERVICE].hall
    fields = {"hall": html.escape(hall.name), "title": html.escape(spec.title),
              "who": html.escape(session.node.name if session else ""),
              "csrf": html.escape(session.csrf_token if session else ""), "timezone": html.escape(hall.timezone)}
    scripts = "\n".join(f'<script src="/manage/static/{name}" defer></script>'
                         for name in ("common.js", *spec.scripts))
    header = _TEMPLATES["header.html"].substitute(fields, nav=_nav(request.path)) if spec.signed_in else ""
    text = _TEMPLATES["layout.html"].substitute(
        fields, scripts=scripts, header=header, main=_TEMPLATES[spec.body].substitute(fields),
        body_class="" if spec.signed_in else "sign-in")
    return web.Response(text=text, content_type="text/html", headers=_PAGE_HEADERS)


def _session(request: web.Request) -> Session | None:
    return request.app[AUTH].sessions.get(request.cookies.get(COOKIE_NAME, ""))


@routes.get("/manage/static/{name}")
async def static_asset(request: web.Request) -> web.Response:
    asset = _ASSETS.get(request.match_info["name"])
    if asset is None:
        raise web.HTTPNotFound()
    body, content_type = asset
    return web.Response(body=body, content_type=content_type, charset="utf-8",
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


async def _console_page(request: web.Request) -> web.Response:
    session = _session(request)
    if session is None:
        raise web.HTTPSeeOther("/manage/sign-in")
    return _page(request, PAGES[request.path], session)


for _path in PAGES:
    routes.get(_path)(_console_page)


@routes.get("/manage/sign-in")
async def sign_in_page(request: web.Request) -> web.Response:
    if _session(request) is not None:
        raise web.HTTPSeeOther("/manage")
    return _page(request, SIGN_IN, None)


@routes.post("/manage/sign-in")
async def sign_in(request: web.Request) -> web.Response:
    """``{"token": …}`` (a manager node's) or ``{"staff": …, "pin": …}`` (staff marked manager) → a session."""
    service = request.app[SERVICE]
    check_same_origin(request, service.hall.public_url)  # no signing a victim in to an attacker's session
    fields = Fields(await read_json(request), {"token", "staff", "pin"})
    token = fields.text("token", max_len=200)
    staff_id = fields.text("staff", max_len=64)
    pin = fields.text("pin", max_len=64)
    client = console_client(request.remote or "")
    if token and not (staff_id or pin):
        node = await service.manager_by_token(token, client=client)
    elif staff_id and pin and not token:
        node = await service.manager_by_pin(staff_id, pin, client=client)
    else:
        raise bad_request("give either token, or staff and pin", "请输入管理员令牌，或工号和密码", "missing_field")
    sessions = request.app[AUTH].sessions
    sessions.end(request.cookies.get(COOKIE_NAME, ""))  # a sign-in replaces the browser's old session, never joins it
    session_id, session = sessions.create(node)
    log.info("console sign-in as %s from %s", node.name, client)
    response = web.json_response({"node": node.name, "csrf_token": session.csrf_token, "next": "/manage"})
    response.set_cookie(COOKIE_NAME, session_id, path="/", httponly=True, samesite="Strict", secure=request.secure,
                        max_age=sessions.max_age_s(session))
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/manage/sign-out")
async def sign_out(request: web.Request) -> web.Response:
    """End the session (CSRF header and same origin required, as for every console action)."""
    auth = request.app[AUTH]
    node = auth.session_node(request)
    auth.sessions.end(request.cookies.get(COOKIE_NAME, ""))
    log.info("console sign-out of %s", node.name)
    response = web.json_response({"signed_out": True, "next": "/manage/sign-in"})
    response.del_cookie(COOKIE_NAME, path="/")
    return response
