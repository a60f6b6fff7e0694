"""The certificates desk: a kiosk logs each self-service certificate print (自助证照打印) it attempted."""

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

        def present(record: CertificatePrint) -> Answer:
            return _answer(record.view(), 201)

        return await self.command(
            lambda at: engine.log_certificate_print(kind, holder_masked, outcome, reason, at, node=node.name),
            present, node=node.name, key=key, fingerprint=fingerprint)
