"""``create_city_app``: many halls in one server process, each its own hall app, chosen by the node's token.

Every hall keeps the whole single-hall application (service, store, hub, routes) as a sub-application;
a request goes to the hall whose node its bearer token (or ``?token=`` on a WebSocket) belongs to, so the
node-facing API is the same paths as before and a node needs no hall in its URLs. The city's own routes
come after the halls: ``GET /api/v1/health`` (every hall's, for a load balancer) and, for the city manager's
token, ``GET /api/v1/stats`` and ``GET /api/v1/reports`` across halls. Anything else answers 401.

Not served in a city: the console (its sign-in cookie names no hall) and the public routes without a token
(the OpenAPI document, a citizen's ticket page); they stay with a hall's own single-hall server.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRuleMatching, MatchedSubAppResource

from config.city import City
from config.model import Hall, Node, NodeRole
from config.secrets import hash_token
from queue_server.api.errors import ApiError, bad_request, error_middleware, text_middleware
from queue_server.api.reports import report_params
from queue_server.app import MAX_BODY_BYTES, create_app
from queue_server.engine.figures import SCOPES
from queue_server.keys import SERVICE
from queue_server.service import HallService
from queue_server.store.base import EventStore

CITY = web.AppKey("city", City)
HALLS = web.AppKey("halls", dict)  # hall code → its sub-application


def bearer_hash(request: web.Request) -> str:
    """The sha256 of the request's bearer token (header, or ``?token=``), '' when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        token = request.query.get("token", "")
    return hash_token(token.strip()) if token.strip() else ""


class HallOfToken(AbstractRuleMatching):
    """Matches the requests whose token is one of this hall's nodes."""

    def __init__(self, hall: Hall) -> None:
        self.code = hall.code
        self._hashes = frozenset(n.token_hash for n in hall.nodes if n.token_hash)

    async def match(self, request: web.Request) -> bool:
        return bearer_hash(request) in self._hashes

    def get_info(self) -> dict[str, str]:  # type: ignore[override]
        return {"hall": self.code}

    @property
    def canonical(self) -> str:
        return f"hall:{self.code}"


def create_city_app(city: City, stores: dict[str, EventStore], *,
                    clock: Callable[[], float] = time.time) -> web.Application:
    """Build the city application: one hall app per hall (on its store), and the city's own routes."""
    app = web.Application(middlewares=[error_middleware, text_middleware], client_max_size=MAX_BODY_BYTES)
    app[CITY] = city
    halls: dict[str, web.Application] = {}
    for hall in city.halls:
        sub = create_app(hall, store=stores[hall.code], clock=clock)
        # aiohttp's public add_domain() is this with a Host rule; the rule here is the token's hall.
        app._add_subapp(functools.partial(MatchedSubAppResource, HallOfToken(hall), sub), sub)
        halls[hall.code] = sub
    app[HALLS] = halls
    app.router.add_get("/api/v1/health", city_health)
    app.router.add_get("/api/v1/stats", city_stats)
    app.router.add_get("/api/v1/reports", city_reports)
    app.router.add_route("*", "/{tail:.*}", unknown_token)
    return app


def services(app: web.Application) -> dict[str, HallService]:
    return {code: sub[SERVICE] for code, sub in app[HALLS].items()}


async def city_health(request: web.Request) -> web.Response:
    """Every hall's health; 503 if any hall's is (a load balancer then sends requests elsewhere)."""
    answers = await asyncio.gather(*(s.health() for s in services(request.app).values()))
    halls = {code: json.loads(a.body) for code, a in zip(services(request.app), answers, strict=True)}
    failed = [code for code, a in zip(halls, answers, strict=True) if a.status != 200]
    body: dict[str, object] = {"status": "failed" if failed else "ok", "city": request.app[CITY].name, "halls": halls}
    if failed:
        body["failed"] = failed
    return web.json_response(body, status=503 if failed else 200)


def _city_manager(request: web.Request) -> City:
    city = request.app[CITY]
    if not city.manager_token_hash or bearer_hash(request) != city.manager_token_hash:
        raise _unknown()
    return city


async def city_stats(request: web.Request) -> web.Response:
    """The city manager's figures: ``GET /api/v1/stats?scope=&from=&to=`` of every hall, side by side."""
    city = _city_manager(request)
    scope = request.query.get("scope", "hall")
    if scope not in SCOPES:
        raise bad_request(f"scope must be one of {', '.join(SCOPES)}", "统计范围无效", "invalid_scope", "scope")
    first, last = request.query.get("from"), request.query.get("to")
    manager = Node("city-manager", NodeRole.MANAGER, city.manager_token_hash)
    by_hall = services(request.app)
    answers = await asyncio.gather(*(s.stats(manager, scope, first, last) for s in by_hall.values()))
    halls = []
    for (code, service), answer in zip(by_hall.items(), answers, strict=True):
        halls.append({"hall": code, "name": service.hall.name, **json.loads(answer.body)})
    return web.json_response({"city": city.name, "scope": scope, "halls": halls})


async def city_reports(request: web.Request) -> web.Response:
    """The city manager's report: ``GET /api/v1/reports?period=&date=&by=`` of every hall, side by side (JSON;
    a hall's CSV and XLSX exports stay with that hall's manager)."""
    city = _city_manager(request)
    q = report_params(request)
    if request.query.get("format", "json") != "json":
        raise bad_request("a city report is JSON only (format=json)", "全市报表仅提供 JSON", "invalid_format", "format")
    by_hall = services(request.app)
    bodies = await asyncio.gather(*(s.report(q.period, q.day, q.by) for s in by_hall.values()))
    halls = [{"hall": code, "name": s.hall.name, **body}
             for (code, s), body in zip(by_hall.items(), bodies, strict=True)]
    return web.json_response({"city": city.name, "period": q.period, "by": q.by, "halls": halls},
                             dumps=functools.partial(json.dumps, ensure_ascii=False))


async def unknown_token(request: web.Request) -> web.Response:
    raise _unknown()


def _unknown() -> ApiError:
    return ApiError("unauthorized", "需要有效的令牌",
                    "the token is not one of this city's nodes (nor its city manager)", 401)
