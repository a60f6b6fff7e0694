"""Random kiosk traffic with idempotency keys, slow commits, cancelled requests and restarts (hypothesis).

Kiosks send issue requests with keys drawn from a small pool (so retries and concurrent duplicates are
common); commits are held and released at random; requests are cancelled while their events are being
written (a kiosk that gives up, a shutdown); the service restarts on the same log. Checked throughout:
every key durably answered is answered the same way, byte for byte, by every later request and after
every restart, and no key ever yields a second ticket (tickets issued == keys answered).
"""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from config.model import Node, NodeRole
from queue_server.answer import Answer
from queue_server.engine import events as ev
from queue_server.engine.errors import QueueError
from queue_server.service import HallService
from tests.support.halls import MONDAY, at, small_hall
from tests.support.memory_store import MemoryStore

KIOSKS = tuple(Node(f"kiosk-{n}", NodeRole.KIOSK, f"{n:064x}") for n in (1, 2))
KEYS = ("k1", "k2", "k3", "k4", "k5")


class KioskTraffic(RuleBasedStateMachine):
    @initialize()
    def open_hall(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.now = at(MONDAY, "10:00")
        self.store = MemoryStore()
        self.service = self._start(self.store)
        self.tasks: list[tuple[tuple[str, str], asyncio.Task[Answer]]] = []
        self.answers: dict[tuple[str, str], set[str]] = {}

    def _start(self, store: MemoryStore) -> HallService:
        service = HallService(small_hall(), store, clock=lambda: self.now)
        self.loop.run_until_complete(service.start())
        return service

    def _issue(self, node: Node, key: str) -> asyncio.Task[Answer]:
        body = json.dumps({"service": "A01"}).encode()
        return self.loop.create_task(self.service.issue(node, key, body, service="A01", priority="normal",
                                                        holder_key="", holder_masked="", appointment_id=""))

    def _run(self, rounds: int = 4) -> None:
        for _ in range(rounds):
            self.loop.run_until_complete(asyncio.sleep(0))

    def _collect(self) -> None:
        still = []
        for slot, task in self.tasks:
            if not task.done():
                still.append((slot, task))
            elif not task.cancelled() and task.exception() is None:
                self.answers.setdefault(slot, set()).add(task.result().body)
            elif not task.cancelled():
                assert isinstance(task.exception(), QueueError), task.exception()
        self.tasks = still

    @rule(kiosk=st.sampled_from(KIOSKS), key=st.sampled_from(KEYS), copies=st.integers(1, 3))
    def request(self, kiosk: Node, key: str, copies: int) -> None:
        for _ in range(copies):
            self.tasks.append(((kiosk.name, key), self._issue(kiosk, key)))
        self._run(1)
        self._collect()

    @rule()
    def slow_disk(self) -> None:
        self.store.hold()

    @rule()
    def disk_catches_up(self) -> None:
        self.store.release()
        self._run()
        self._collect()

    @rule(index=st.integers(0, 20))
    def give_up(self, index: int) -> None:
        """A kiosk drops its request while the commit may be in flight."""
        if self.tasks:
            self.tasks[index % len(self.tasks)][1].cancel()
        self._run()
        self._collect()

    @rule(seconds=st.integers(0, 30))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds
        self._run()
        self._collect()

    @rule()
    def restart(self) -> None:
        self.store.release()
        self._run(8)
        for _, task in self.tasks:
            task.cancel()
        self._run()
        self._collect()
        self.loop.run_until_complete(self.service.stop())
        self.store = MemoryStore(self.store.events, list(self.store.records.values()))
        self.service = self._start(self.store)

    @invariant()
    def one_ticket_per_key_and_one_answer(self) -> None:
        if not hasattr(self, "store"):
            return
        issued = [e for e in self.store.events if e.type == ev.TICKET_ISSUED]
        assert len(issued) == len(self.store.records), (len(issued), sorted(self.store.records))
        for slot, bodies in self.answers.items():
            assert len(bodies) == 1, f"key {slot} was answered {len(bodies)} ways"
            record = self.store.records.get(slot)
            assert record is not None and record.body in bodies, slot

    def teardown(self) -> None:
        if not hasattr(self, "store"):
            return
        self.store.release()
        self._run(8)
        for slot, record in list(self.store.records.items()):  # every durable answer, asked once more
            node = next(k for k in KIOSKS if k.name == slot[0])
            answer = self.loop.run_until_complete(self._issue(node, slot[1]))
            assert answer.body == record.body, slot
        for _, task in self.tasks:
            task.cancel()
        self._run()
        self.loop.run_until_complete(self.service.stop())
        self.loop.close()


KioskTraffic.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow])
TestKioskTraffic = KioskTraffic.TestCase
