"""Device health as an enum plus a reason in words, never a bool or a bare int."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class DeviceState(StrEnum):
    """Where a device stands; READY is the only state in which a node uses it without a warning."""

    CONNECTED = "connected"  # link is up, readiness not yet known
    READY = "ready"
    DEGRADED = "degraded"  # works, but needs attention soon (paper near end, slow answers)
    FAULT = "fault"  # link up, device reports it cannot work (paper out, cover open, SAM failure)
    DISCONNECTED = "disconnected"


class PaperState(StrEnum):
    """Paper as the printer's sensors say; UNKNOWN (silence) is never reported as OK or OUT."""

    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DeviceStatus:
    """One status reading: state, reason in words, since when, and kind-specific details (``paper``…)."""

    state: DeviceState
    reason: str
    since: float = field(default_factory=time.time)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.state is DeviceState.READY

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "reason": self.reason, "since": self.since, **self.details}
