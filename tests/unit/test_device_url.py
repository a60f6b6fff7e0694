"""Device URLs: every scheme parses, and every bad string is refused with the input and the syntax."""

from __future__ import annotations

import pytest

from devices.registry import DRIVERS, SIMULATORS
from devices.url import SCHEMES, UrlError, parse_device_url


@pytest.mark.parametrize(
    ("url", "kind", "host", "port", "path", "options"),
    [
        ("sam+serial:///dev/ttyUSB0?baudrate=115200", "idcard", None, None, "/dev/ttyUSB0", {"baudrate": 115200}),
        ("sam+tcp://10.1.2.3:4001", "idcard", "10.1.2.3", 4001, None, {}),
        ("escpos+tcp://10.0.0.5", "ticket_printer", "10.0.0.5", 9100, None, {}),
        ("escpos+serial:///dev/ttyS1?timeout=0.5", "ticket_printer", None, None, "/dev/ttyS1", {"timeout": 0.5}),
        ("pcsc://?reader=Virtual%20PCD%2000%2000", "smartcard", None, None, None, {"reader": "Virtual PCD 00 00"}),
        ("modbus+serial:///dev/ttyUSB1?address=3", "bus485", None, None, "/dev/ttyUSB1", {"address": 3}),
        ("cups://CERT", "certificate_printer", None, None, "CERT", {}),
        ("sim+escpos+tcp://?fault=paper_out,cover_open", "ticket_printer", None, None, None,
         {"fault": ("paper_out", "cover_open")}),
    ],
)
def test_good_urls(url, kind, host, port, path, options):
    address = parse_device_url(url)
    assert (address.kind, address.host, address.port, address.path) == (kind, host, port, path)
    assert dict(address.options) == options


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("escpos+tcp://host:x", "bad port 'x'"),
        ("escpos+tcp://host?bogus=1", "unknown option 'bogus'"),
        ("sam+serial:///dev/ttyUSB0?baudrate=1234", "standard rate"),
        ("modbus+serial:///dev/ttyUSB1", "option 'address' is required"),
        ("modbus+serial:///dev/ttyUSB1?address=300", "1..247"),
        ("sam+serial://dev/ttyUSB0", "three slashes"),
        ("escpos+tcp://", "a host is required"),
        ("cups://", "a queue name is required"),
        ("gopher://x", "unknown scheme 'gopher'"),
        ("no-scheme", "known schemes"),
    ],
)
def test_bad_urls_quote_input_and_syntax(url, words):
    with pytest.raises(UrlError) as info:
        parse_device_url(url)
    message = str(info.value)
    assert words in message
    assert repr(url) in message


def test_every_scheme_has_a_driver_and_every_sim_kind_a_simulator():
    for scheme, syntax in SCHEMES.items():
        assert scheme.removeprefix("sim+") in DRIVERS, scheme
        if scheme.startswith("sim+"):
            assert syntax.kind in SIMULATORS, scheme


@pytest.mark.parametrize("ref", sorted(set(DRIVERS.values()) | set(SIMULATORS.values())))
def test_every_registry_entry_imports(ref):
    from devices.registry import _load

    assert callable(_load(ref)), ref
