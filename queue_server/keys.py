"""Typed application keys: everything the server holds, reachable without globals."""

from __future__ import annotations

from aiohttp import web

from queue_server.api.auth import Authenticator, PinLimiter
from queue_server.service import HallService

SERVICE = web.AppKey("service", HallService)
AUTH = web.AppKey("auth", Authenticator)
PIN_LIMITER = web.AppKey("pin_limiter", PinLimiter)
