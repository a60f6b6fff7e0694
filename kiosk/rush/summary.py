"""The rush's end: what the server recorded, in figures and words, and the files a person can look at.

Figures come from the server (GET /api/v1/tickets, /api/v1/audit, /api/v1/stats/live), not from the rush's
own bookkeeping, so the summary says what the hall really did. Waits are measured on the server's clock,
which runs at real speed whatever ``--speed`` is: ``measured`` is real seconds, ``scaled`` multiplies by the
speed, the wait the same morning would have meant at its simulated pace.
"""

from __future__ import annotations

import json
import logging
import statistics
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

from kiosk.server_client import Answer, ServerClient

__all__ = ["collect", "get_json", "in_words", "read_all", "write_json"]

log = logging.getLogger(__name__)


async def get_json(client: ServerClient, path: str, params: dict[str, str]) -> dict[str, Any]:
    """One GET, its JSON body; an error (with the server's words) when it was refused or not answered."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    result = await client.request("GET", path + query)
    if not isinstance(result, Answer) or not result.ok:
        raise RuntimeError(f"GET {path} failed: {result.words()}")
    return dict(result.body)


async def read_all(client: ServerClient, path: str, key: str, **query: str) -> list[dict[str, Any]]:
    """Every item of a paged list (``next`` → ``after``)."""
    out: list[dict[str, Any]] = []
    params = dict(query)
    while True:
        answer = await get_json(client, path, params)
        out += answer[key]
        if not answer.get("next"):
            return out
        params["after"] = str(answer["next"])


def _spread(values: list[float], scale: float) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "mean_s": None, "p50_s": None, "p90_s": None, "max_s": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return {"count": len(values), "mean_s": round(statistics.fmean(values) * scale, 1),
            "p50_s": round(statistics.median(values) * scale, 1), "p90_s": round(p90 * scale, 1),
            "max_s": round(ordered[-1] * scale, 1)}


async def collect(client: ServerClient, speed: float, since_id: int = 0) -> dict[str, Any]:
    """The server's side of the rush: tickets by state and print outcome, ratings, certificates, device
    health transitions, waits (measured and scaled) and the live wall figures."""
    tickets = await read_all(client, "/api/v1/tickets", "tickets")
    states = Counter(t["state"] for t in tickets)
    printed = Counter(t.get("printed", "pending") for t in tickets)
    waits = [t["called_at"] - t["issued_at"] for t in tickets if t.get("called_at")]
    handling = [t["finished_at"] - t["started_at"] for t in tickets if t.get("finished_at") and t.get("started_at")]
    ratings = await read_all(client, "/api/v1/audit", "events", type="rating.given", limit="1000")
    certificates = await read_all(client, "/api/v1/audit", "events", type="certificate.printed", limit="1000")
    health = await read_all(client, "/api/v1/audit", "events", type="device.state", limit="1000")
    live = await get_json(client, "/api/v1/stats/live", {})
    return {
        "tickets": {"issued": len(tickets), "printed": printed.get("printed", 0),
                    "print_failed": printed.get("failed", 0), "called": sum(1 for t in tickets if t.get("called_at")),
                    "finished": states.get("finished", 0), "by_state": dict(sorted(states.items())),
                    "by_priority": dict(sorted(Counter(t.get("priority", "normal") for t in tickets).items()))},
        "ratings": {"given": len(ratings),
                    "levels": dict(sorted(Counter(str(e["data"].get("level")) for e in ratings).items()))},
        "certificates": {"printed": sum(1 for e in certificates if e["data"].get("outcome") == "printed"),
                         "failed": sum(1 for e in certificates if e["data"].get("outcome") != "printed")},
        "device_health": [{"node": e["data"].get("node"), "device": e["data"].get("device"),
                           "state": e["data"].get("state"), "at": e.get("at")} for e in health],
        "waits": {"measured": _spread(waits, 1.0), "scaled": _spread(waits, speed)},
        "handling": {"measured": _spread(handling, 1.0), "scaled": _spread(handling, speed)},
        "live": live,
        "numbers": sorted(t["number"] for t in tickets),
        "ticket_list": [{"id": t["id"], "number": t["number"], "state": t["state"], "printed": t.get("printed")}
                        for t in tickets],
    }


def _minutes(value: float | int | None) -> str:
    return "—" if value is None else f"{value / 60:.1f} min"


def in_words(summary: dict[str, Any]) -> str:
    """The summary for a person, a few lines of words."""
    t, r, c, w = summary["tickets"], summary["ratings"], summary["certificates"], summary["waits"]
    rush = summary["rush"]
    lines = [
        f"rush of {rush['citizens']} citizens (seed {rush['seed']}, speed ×{rush['speed']:g}) in "
        f"{rush['real_s']:.0f} s real time ({rush['real_s'] * rush['speed'] / 60:.0f} simulated minutes)",
        f"tickets: {t['issued']} issued, {t['printed']} printed, {t['print_failed']} failed to print, "
        f"{t['called']} called, {t['finished']} finished",
        f"ratings: {r['given']} given on the pads ({', '.join(f'{k}★ {v}' for k, v in r['levels'].items()) or 'none'})",
        f"certificates: {c['printed']} printed, {c['failed']} not delivered",
        f"waits (issue to call): median {_minutes(w['scaled']['p50_s'])}, p90 {_minutes(w['scaled']['p90_s'])} "
        f"simulated (measured on the server's real clock: median {w['measured']['p50_s']} s, "
        f"p90 {w['measured']['p90_s']} s)",
        f"faults: {', '.join(f['fault'] for f in summary['faults']) or 'none'}; "
        f"{len(summary['device_health'])} device-health transitions reported",
        f"citizens turned away or lost: {rush['turned_away']}; files in {rush['out']}",
    ]
    return "\n".join(lines)


def write_json(summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
