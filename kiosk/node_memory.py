"""What a node remembers across restarts, all of it derived from the event stream: the last event it applied
(so a restart replays from there, not from 0) and what its role learnt from the stream (a kiosk's number →
ticket id map, for ticket status by number).

Because everything here comes from the stream, a data reset on the server (close 4009) simply forgets it all
and the stream is replayed from 0. Writing is at-least-once: the file is saved every ``FLUSH_S`` and on stop,
so a crash may replay the last second's events again, which the node's handlers apply idempotently (a map
entry set twice, a health state fed twice). The file is small JSON written atomically (temp file + rename)
off the event loop; it holds ids and printed numbers, never a holder's data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

__all__ = ["FILE_NAME", "FLUSH_S", "NodeMemory"]

log = logging.getLogger(__name__)

FILE_NAME = "memory.json"
FLUSH_S = 1.0


class NodeMemory:
    """The node's memory file ``directory/memory.json``: ``last_event_id`` and named sections (dicts)."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / FILE_NAME
        self._data: dict[str, Any] = self._load()
        self._dirty = False

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            log.warning("node memory %s unreadable (%s); replaying the event stream from the start", self.path, err)
            return {}
        if not isinstance(data, dict) or not isinstance(data.get("last_event_id", 0), int):
            log.warning("node memory %s is not what this node writes; replaying the event stream from the start",
                        self.path)
            return {}
        return data

    @property
    def last_event_id(self) -> int:
        value = self._data.get("last_event_id", 0)
        return value if isinstance(value, int) and value >= 0 else 0

    def applied(self, event_id: int) -> None:
        """The event ``event_id`` was applied (saved at the next flush)."""
        self._data["last_event_id"] = event_id
        self._dirty = True

    def section(self, name: str) -> dict[str, Any]:
        """A role's own part (created empty); call ``touched`` after changing it."""
        part = self._data.get(name)
        if not isinstance(part, dict):
            part = self._data[name] = {}
        return part

    def touched(self) -> None:
        self._dirty = True

    def forget(self) -> None:
        """The server's log was reset: nothing learnt from the old one holds."""
        self._data = {}
        self._dirty = True

    async def flush(self) -> None:
        """Save if anything changed since the last save."""
        if not self._dirty:
            return
        self._dirty = False
        text = json.dumps(self._data, ensure_ascii=False, separators=(",", ":"))
        await asyncio.to_thread(self._write, text)

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(".tmp")
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, self.path)

    async def run(self, every_s: float = FLUSH_S) -> None:
        """Flush every ``every_s`` until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.flush()
            except OSError as err:
                self._dirty = True
                log.warning("node memory %s not saved (%s); retrying", self.path, err)
