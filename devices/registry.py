"""Scheme → driver class, and kind → simulator class, imported lazily.

A node names its devices by URL; this table is the only place that knows which module implements
which scheme, so a kiosk with only a printer never imports pyscard.
"""

from __future__ import annotations

import importlib
from typing import Any

from devices.url import SCHEMES, DeviceAddress, UrlError, parse_device_url

__all__ = ["DRIVERS", "SIMULATORS", "driver_class", "open_device", "simulator_class"]

#: scheme → "module:Class"; a ``sim+`` scheme uses the real driver with a simulator behind it.
DRIVERS: dict[str, str] = {
    "sam+serial": "devices.idcard.driver:IdCardReader",
    "sam+tcp": "devices.idcard.driver:IdCardReader",
    "escpos+tcp": "devices.ticket_printer.driver:TicketPrinter",
    "escpos+serial": "devices.ticket_printer.driver:TicketPrinter",
    "pcsc": "devices.smartcard.driver:SmartCardReader",
    "cups": "devices.certificate.driver:CertificatePrinter",
    "modbus+serial": "devices.bus485.driver:bus_device",
    "modbus+tcp": "devices.bus485.driver:bus_device",
    "espeak": "devices.speaker.announcer:Speaker",
    "silent": "devices.speaker.silent:SilentSpeaker",
}

#: kind → "module:Class" of its simulator, for ``servicehall devices simulate KIND``.
SIMULATORS: dict[str, str] = {
    "idcard": "devices.idcard.simulator:IdCardSimulator",
    "ticket_printer": "devices.ticket_printer.simulator:PrinterSimulator",
    "smartcard": "devices.smartcard.virtual_card:VirtualCardSimulator",
    "certificate_printer": "devices.certificate.simulator:CupsSimulator",
    "bus485": "devices.bus485.simulator:BusSimulator",
}


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def driver_class(address: DeviceAddress) -> Any:
    """The class (or factory) that drives ``address``; unknown schemes list the known ones."""
    ref = DRIVERS.get(address.real_scheme)
    if ref is None:
        known = ", ".join(sorted(SCHEMES))
        raise UrlError(f"no driver for {address.url!r}; known schemes: {known}")
    return _load(ref)


def simulator_class(kind: str) -> Any:
    ref = SIMULATORS.get(kind)
    if ref is None:
        raise UrlError(f"no simulator for {kind!r}; known kinds: {', '.join(sorted(SIMULATORS))}")
    return _load(ref)


def open_device(url: str, *, name: str | None = None, **kwargs: Any) -> Any:
    """Build (not yet open) the device for ``url``: ``async with open_device(url) as dev: …``."""
    address = parse_device_url(url)
    return driver_class(address)(address, name=name, **kwargs)
