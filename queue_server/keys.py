"""Typed application keys: everything the server holds, reachable without globals."""

from __future__ import annotations

from aiohttp import web

from queue_server.api.auth import Authenticator
from queue_server.service import HallService

SERVICE = web.AppKey("service", HallService)
AUTH = web.AppKey("auth", Authenticator)
