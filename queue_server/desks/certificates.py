"""The certificates desk: a kiosk logs each self-service certificate print (自助证照打印) it attempted, and the
citizen's rating of a delivered one."""

from __future__ import annotations

from config.model import Node
from queue_server.answer import Answer
from queue_server.answer import answer as _answer
from queue_server.desks import DeskBase
from queue_server.engine.certificates import CertificatePrint


class CertificatesDesk(DeskBase):
    """Façade methods of certificate prints (a mixin of HallService)."""

    async def log_certificate_print(self, node: Node, key: str | None, fingerprint: bytes, kind: str,
                                    holder_masked: str, outcome: str, reason: str) -> Answer:
        """One print attempt, durable before the answer; a retry under the same key answers the same."""
        engine = self.engine
        return await self.command(
            lambda at: engine.log_certificate_print(kind, holder_masked, outcome, reason, at, node=node.name),
            _created, node=node.name, key=key, fingerprint=fingerprint)

    async def rate_certificate_print(self, node: Node, key: str | None, fingerprint: bytes, print_id: str,
                                     level: int, channel: str) -> Answer:
        """好差评 of one delivered print, once; a bad level opens its follow-up in the same command."""
        engine = self.engine
        return await self.command(
            lambda at: engine.rate_certificate_print(print_id, level, channel, at, node=node.name),
            _created, node=node.name, key=key, fingerprint=fingerprint)


def _created(record: CertificatePrint) -> Answer:
    return _answer(record.view(), 201)
