"""What a kiosk's flows know about their hall and node: fixed for the node's run, built once from the config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config.model import Hall, Node, NodeRole, Service

__all__ = ["FEATURED_LIMIT", "KioskContext", "certificates_offered", "featured_services", "nearest_kiosk"]

FEATURED_LIMIT = 6  # big buttons on the start screen: one touch to a ticket


def featured_services(hall: Hall, ranking: Sequence[str] = (), limit: int = FEATURED_LIMIT) -> tuple[str, ...]:
    """The hall's busiest services for the start screen: ``ranking`` (service codes, busiest first, e.g. from
    yesterday's /api/v1/stats) when given, then the config's order, which a technician lists busiest first."""
    known = [s.code for s in hall.services]
    ordered = [c for c in ranking if c in known] + [c for c in known if c not in ranking]
    return tuple(dict.fromkeys(ordered))[:limit]


def certificates_offered(hall: Hall, node: Node) -> bool:
    """Self-service certificate printing at ``node``: the hall has an e-licence library and the node an A4
    printer (its ``certificate_printer`` device)."""
    return bool(hall.elicence_url) and "certificate_printer" in node.devices


@dataclass(frozen=True)
class KioskContext:
    """One kiosk node of one hall.

    ``key_seed`` is random per node run (the node makes it with ``secrets.token_hex``): every Idempotency-Key is
    the seed plus the flow's own counter, so keys never repeat across restarts and the flows stay pure.
    ``holder_secret`` is the hall's HMAC key for ``holder_key``.
    """

    hall: Hall
    node: str
    holder_secret: bytes
    key_seed: str
    featured: tuple[str, ...] = ()
    idle_reset_s: float = 60.0
    certificates: bool = False  # self-service certificate printing here: the hall has an e-licence library
    # (elicence_url) and this node a certificate_printer

    def service(self, code: str) -> Service | None:
        return self.hall.service(code)

    def services_of(self, department: str) -> tuple[str, ...]:
        return tuple(s.code for s in self.hall.services if s.department == department)

    @property
    def departments(self) -> tuple[str, ...]:
        return tuple(d.code for d in self.hall.departments)

    @property
    def green_at_kiosk(self) -> bool:
        return "age_60_plus" in self.hall.green.kiosk_reasons


def nearest_kiosk(ctx: KioskContext, down: frozenset[str]) -> str | None:
    """The working kiosk nearest to this one, nearness being distance in the config's nodes list (technicians
    list kiosks in the order they stand); None when no other kiosk is known to work."""
    kiosks = [n.name for n in ctx.hall.nodes if n.role is NodeRole.KIOSK]
    here = kiosks.index(ctx.node) if ctx.node in kiosks else 0
    others = [k for k in kiosks if k != ctx.node and k not in down]
    return min(others, key=lambda k: (abs(kiosks.index(k) - here), kiosks.index(k)), default=None)
