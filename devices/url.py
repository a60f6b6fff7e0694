"""Device addresses: the URL-like strings that choose a driver or a simulator in config.

Scheme = ``<protocol>+<transport>`` (``escpos+tcp``, ``sam+serial``), with ``sim+`` in front for a
simulator. Every scheme has one syntax record here, so the config loader, the node and the technician's
probe all reject the same bad strings with the same words, without importing any driver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["SCHEMES", "DeviceAddress", "UrlError", "UrlSyntax", "parse_device_url"]


class UrlError(ValueError):
    """A device URL that cannot be used; the message quotes the input and the expected syntax."""


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be > 0")
    return value


def _baudrate(text: str) -> int:
    value = int(text)
    if value not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400):
        raise ValueError("must be a standard rate such as 9600 or 115200")
    return value


def _bus_address(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 247:
        raise ValueError("must be 1..247")
    return value


def _text(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    return text


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part for part in text.split(",") if part)
    if not names:
        raise ValueError("must list at least one name")
    return names


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be 0..65535")
    return value


Converter = Callable[[str], Any]


@dataclass(frozen=True)
class UrlSyntax:
    """What one scheme accepts: where the target goes and which query options exist."""

    scheme: str
    kind: str
    form: str  # the syntax shown to the user
    target: str  # "host" (HOST[:PORT]), "path" (/dev/…), "name" (a queue or reader name), "none"
    options: Mapping[str, Converter] = field(default_factory=dict)
    default_port: int | None = None
    required: tuple[str, ...] = ()


_SERIAL_OPTS: dict[str, Converter] = {"baudrate": _baudrate, "timeout": _positive_float}
_TCP_OPTS: dict[str, Converter] = {"timeout": _positive_float}
# RS-485 bus devices: the address on the line, which kind of device (callpad, window_display, rating_pad), poll period.
_BUS_OPTS: dict[str, Converter] = {"address": _bus_address, "device": _text, "poll": _positive_float}
# Options every simulator URL accepts: faults to start with, a data set name, and a speed switch for tests.
_SIM_OPTS: dict[str, Converter] = {
    "fault": _names,
    "deck": _text,
    "realtime": lambda t: t not in ("0", "false", "no"),
    "timeout": _positive_float,
}


def _syntaxes() -> dict[str, UrlSyntax]:
    rows = [
        UrlSyntax("sam+serial", "idcard", "sam+serial:///dev/ttyUSB0[?baudrate=115200][&timeout=S]",
                  "path", _SERIAL_OPTS),
        UrlSyntax("sam+tcp", "idcard", "sam+tcp://HOST[:PORT][?timeout=S]", "host", _TCP_OPTS, 4001),
        UrlSyntax("sim+sam+serial", "idcard", "sim+sam+serial://[?deck=NAME][&fault=F,…]", "none",
                  {**_SIM_OPTS, "baudrate": _baudrate}),
        UrlSyntax("sim+sam+tcp", "idcard", "sim+sam+tcp://[?deck=NAME][&fault=F,…]", "none", _SIM_OPTS),
        UrlSyntax("escpos+tcp", "ticket_printer", "escpos+tcp://HOST[:PORT][?timeout=S]", "host",
                  {**_TCP_OPTS, "profile": _text}, 9100),
        UrlSyntax("escpos+serial", "ticket_printer", "escpos+serial:///dev/ttyS1[?baudrate=N][&timeout=S]",
                  "path", {**_SERIAL_OPTS, "profile": _text}),
        UrlSyntax("sim+escpos+tcp", "ticket_printer", "sim+escpos+tcp://[?fault=F,…]", "none",
                  {**_SIM_OPTS, "profile": _text}),
        UrlSyntax("sim+escpos+serial", "ticket_printer", "sim+escpos+serial://[?fault=F,…]", "none",
                  {**_SIM_OPTS, "profile": _text}),
        UrlSyntax("pcsc", "smartcard", "pcsc://[?reader=NAME][&timeout=S]", "none",
                  {"reader": _text, "timeout": _positive_float}),
        UrlSyntax("sim+pcsc", "smartcard", "sim+pcsc://[?deck=NAME][&fault=F,…]", "none",
                  {**_SIM_OPTS, "reader": _text}),
        UrlSyntax("cups", "certificate_printer", "cups://QUEUE[?server=HOST:PORT][&timeout=S]", "name",
                  {"server": _text, "timeout": _positive_float}),
        UrlSyntax("sim+cups", "certificate_printer", "sim+cups://[QUEUE][?fault=F,…]", "none", _SIM_OPTS),
        UrlSyntax("modbus+serial", "bus485", "modbus+serial:///dev/ttyUSB1?address=N[&baudrate=N][&timeout=S]",
                  "path", {**_SERIAL_OPTS, **_BUS_OPTS}, required=("address",)),
        UrlSyntax("modbus+tcp", "bus485", "modbus+tcp://HOST[:PORT]?address=N[&timeout=S]", "host",
                  {**_TCP_OPTS, **_BUS_OPTS}, 4196, ("address",)),
        UrlSyntax("sim+modbus+serial", "bus485", "sim+modbus+serial://?address=N[&device=KIND][&fault=F,…]",
                  "none", {**_SIM_OPTS, **_BUS_OPTS}, required=("address",)),
        UrlSyntax("espeak", "speaker", "espeak://[?voice=cmn-latn-pinyin][&clips=DIR][&repeat=N][&speed=WPM]",
                  "none", {"voice": _text, "clips": _text, "repeat": int, "speed": int}),
        UrlSyntax("silent", "speaker", "silent://[?repeat=N][&pace=S]", "none", {"repeat": int, "pace": float}),
    ]
    return {row.scheme: row for row in rows}


SCHEMES: Mapping[str, UrlSyntax] = MappingProxyType(_syntaxes())


@dataclass(frozen=True)
class DeviceAddress:
    """A parsed device URL; the same record whichever scheme, so one parser serves all drivers."""

    url: str
    scheme: str
    kind: str
    host: str | None = None
    port: int | None = None
    path: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return self.scheme.startswith("sim+")

    @property
    def real_scheme(self) -> str:
        """The scheme of the real device a simulator stands in for (``sim+escpos+tcp`` → ``escpos+tcp``)."""
        return self.scheme.removeprefix("sim+")

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def __str__(self) -> str:
        return self.url


def parse_device_url(text: str) -> DeviceAddress:
    """Parse ``text`` into a DeviceAddress or raise UrlError quoting it and the expected syntax."""
    if not isinstance(text, str) or "://" not in text:
        known = ", ".join(sorted(SCHEMES))
        raise UrlError(f"could not parse {text!r}: a device URL looks like SCHEME://…; known schemes: {known}")
    scheme = text.split("://", 1)[0].lower()
    syntax = SCHEMES.get(scheme)
    if syntax is None:
        known = ", ".join(sorted(SCHEMES))
        raise UrlError(f"could not parse {text!r}: unknown scheme {scheme!r}; known schemes: {known}")

    def fail(why: str) -> UrlError:
        return UrlError(f"could not parse {text!r}: {why}; the syntax is {syntax.form}")

    port_text: str | None = None
    try:
        parts = urlsplit(text)
        port_text = parts.netloc.rpartition(":")[2] if ":" in parts.netloc else None
        port = parts.port
    except ValueError as err:
        raise fail(f"bad port {port_text!r}" if port_text is not None else f"malformed address ({err})") from err
    options: dict[str, Any] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        conv = syntax.options.get(name)
        if conv is None:
            allowed = ", ".join(sorted(syntax.options)) or "none"
            raise fail(f"unknown option {name!r} (allowed: {allowed})")
        if name in options:
            raise fail(f"option {name!r} given twice")
        try:
            options[name] = conv(value)
        except ValueError as err:
            raise fail(f"option {name}={value!r} {err}") from err
    missing = [name for name in syntax.required if name not in options]
    if missing:
        raise fail(f"option {missing[0]!r} is required")

    host = parts.hostname
    path = unquote(parts.path) or None
    if syntax.target == "host":
        if not host:
            raise fail("a host is required")
        if path not in (None, "/"):
            raise fail(f"unexpected path {path!r}")
        port = port if port is not None else syntax.default_port
        path = None
    elif syntax.target == "path":
        if parts.netloc:
            raise fail(f"unexpected host {parts.netloc!r} (use three slashes before a device path)")
        if not path or path == "/":
            raise fail("a device path such as /dev/ttyUSB0 is required")
    elif syntax.target == "name":
        name = unquote(parts.netloc) or (path or "").strip("/")
        if not name:
            raise fail("a queue name is required")
        path, host, port = name, None, None
    else:  # "none": a simulator or a local service; an optional name may follow
        name = unquote(parts.netloc) or (path or "").strip("/")
        path, host, port = (name or None), None, None
    return DeviceAddress(text, scheme, syntax.kind, host, port, path, MappingProxyType(options))
