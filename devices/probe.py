"""Probe devices for the technician: open each one, ask its status, say what is wrong in words.

Every probe is bounded in time and devices are probed concurrently, so one dead printer costs one
timeout, not one per device, and a probe never hangs. A URL that cannot be parsed, a driver that cannot
be loaded and a device that does not answer are all results, never exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devices.errors import DeviceError
from devices.registry import open_device
from devices.state import DeviceState
from devices.url import SCHEMES, UrlError, parse_device_url

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_TIMEOUT_S", "ProbeResult", "facts", "one_shot", "probe_all", "probe_device", "state_words"]

DEFAULT_TIMEOUT_S = 10.0
_RETRYING = re.compile(r"; retrying in [0-9.]+ s")


def one_shot(text: str) -> str:
    """A device's words without the reconnect loop's promise: a one-shot command does not retry."""
    return _RETRYING.sub("", text)


def state_words(state: str, reason: str) -> str:
    """The state and its reason, the state said once: "ready; paper ok", "fault: paper out; load a new roll"."""
    reason = one_shot(reason).strip()
    if not reason or reason == state:
        return state
    if re.search(rf"\b{re.escape(state)}\b", reason):  # "security module ready" already says it
        return reason
    return f"{state}: {reason}"


def _fact(key: str, value: Any) -> str:
    name = key.replace("_", " ")
    if key == "online":  # the value says it: "online" or "offline"
        return str(value)
    if isinstance(value, bool):
        return name if value else f"not {name}"
    return f"{name} {str(value).replace('_', ' ')}"


def facts(details: Mapping[str, Any], said: str) -> list[str]:
    """The details in words, each once: empty values and facts the reason already says are left out."""
    out: list[str] = []
    segments = re.split(r"[;:] ", said)
    for key, value in details.items():
        if value in (None, "") or not isinstance(value, str | int | float | bool):
            continue
        fact = _fact(key, value)
        if fact in said or (isinstance(value, str) and value in segments) or fact in out:
            continue
        out.append(fact)
    return out


@dataclass(frozen=True)
class ProbeResult:
    """One device's answer: state and reason in words, plus kind-specific details (``paper`` …)."""

    name: str
    url: str
    kind: str
    state: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.state == DeviceState.READY.value

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "kind": self.kind, "state": self.state,
                "reason": self.reason, **self.details}

    def words(self) -> str:
        """One line: the device by one name, its state once, then the facts the reason did not say."""
        who = self.kind if self.name == self.kind else f"{self.kind} {self.name!r}"
        said = state_words(self.state, self.reason)
        return "; ".join([f"{who} on {self.url}: {said}", *facts(self.details, said)])


def _kind_of(url: str) -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    syntax = SCHEMES.get(scheme)
    return syntax.kind if syntax else "unknown"


async def probe_device(url: str, name: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> ProbeResult:
    """Open ``url``, read its status and close it again, all within ``timeout_s``."""
    label = name or _kind_of(url)
    try:
        parse_device_url(url)
        device = open_device(url, name=label)
    except UrlError as err:
        return ProbeResult(label, url, _kind_of(url), "error", str(err))
    except (ImportError, AttributeError) as err:
        return ProbeResult(label, url, _kind_of(url), "error",
                           f"the driver for {url!r} could not be loaded ({err}); reinstall servicehall")
    kind = getattr(device, "kind", _kind_of(url))
    try:
        async with asyncio.timeout(timeout_s):
            status = await device.open()
            if status.state is DeviceState.CONNECTED:
                status = await device.status()
        return ProbeResult(label, url, kind, status.state.value, one_shot(status.reason), dict(status.details))
    except TimeoutError:
        return ProbeResult(label, url, kind, DeviceState.FAULT.value,
                           f"{kind} {label!r} on {url} gave no complete answer within {timeout_s:g} s; "
                           "check power and cable")
    except DeviceError as err:
        return ProbeResult(label, url, kind, DeviceState.FAULT.value, one_shot(str(err)))
    finally:
        with contextlib.suppress(DeviceError, TimeoutError):
            async with asyncio.timeout(5.0):
                await device.close()


async def probe_all(devices: Mapping[str, str], timeout_s: float = DEFAULT_TIMEOUT_S) -> list[ProbeResult]:
    """Probe every ``name → URL`` at once; results come back in the order given."""
    return list(await asyncio.gather(*(probe_device(url, name, timeout_s) for name, url in devices.items())))
