"""The case desk: who registers cases and takes which step, the ledger's lists, follow-ups and figures.

Roles: a case (办不成事 ``complaint``, 帮办代办 ``assisted``) is registered by a manager or by a window of
the matching kind (``complaints`` / ``assisted`` in config WindowKind). Its steps are taken by a manager,
by a window of that kind, or (start and resolve) by a window of the department it was assigned to.
A 差评 follow-up's contact, rectify, close and appeal are taken by a manager or a window (a window of
another department may not appeal: the appeal is the department's); uphold and overturn only by a
manager. Every step records the node and the staff signed in at the acting window.
"""

from __future__ import annotations

from typing import Any

from config.model import Node, NodeRole, WindowKind
from queue_server.answer import Answer, dumps
from queue_server.desks import DeskBase
from queue_server.desks.ratings import followup_view
from queue_server.engine.cases import Case
from queue_server.engine.errors import QueueError, forbidden

DESK_OF_KIND = {"complaint": WindowKind.COMPLAINTS, "assisted": WindowKind.ASSISTED}
MANAGER_ONLY = frozenset({"uphold", "overturn"})


class CaseDesk(DeskBase):
    """Case requests; a mixin of HallService."""

    def _window_kind(self, node: Node) -> tuple[WindowKind | None, str]:
        cfg = self.hall.window(node.window) if node.window is not None else None
        return (cfg.kind, cfg.department) if cfg else (None, "")

    def _staff_of(self, node: Node) -> str:
        state = self.engine.windows.get(node.window) if node.window is not None else None
        return state.staff if state else ""

    def _may_step(self, node: Node, case: Case, step: str) -> None:
        if node.role is NodeRole.MANAGER:
            return
        if node.role is not NodeRole.WINDOW:
            raise forbidden(f"「{node.role.value}」角色不能处理案件", f"role {node.role.value} may not work on cases")
        if step in MANAGER_ONLY:
            raise forbidden("申诉由管理员裁定", f"only a manager may {step} an appeal")
        kind, department = self._window_kind(node)
        if case.kind == "followup":
            if step == "appeal" and department and department != case.department:
                raise forbidden("只有被评价的部门可以申诉",
                               f"window {node.window} is not of department {case.department}")
            return
        if kind is DESK_OF_KIND[case.kind]:
            return
        if step in ("start", "resolve") and department and department == case.department:
            return
        raise forbidden(f"{node.window} 号窗口不能处理此案件",
                       f"window {node.window} may not {step} this {case.kind} case")

    async def open_case(self, node: Node, key: str | None, fingerprint: bytes, *, kind: str,
                        subject: str, category: str, department: str, ticket: str | None,
                        holder_masked: str) -> Answer:
        """Register a complaint or an assisted matter (201 with the case)."""
        if node.role is not NodeRole.MANAGER:
            desk = DESK_OF_KIND.get(kind)
            if node.role is not NodeRole.WINDOW or desk is None or self._window_kind(node)[0] is not desk:
                raise forbidden("只有办不成事反映窗口、帮办代办窗口或管理员可以登记",
                               f"a {kind} case is registered at a {desk.value if desk else kind} window or by a "
                               "manager")
        staff = self._staff_of(node)
        return await self.command(
            lambda at: self.engine.open_case(kind, at, subject=subject, category=category, department=department,
                                             ticket=ticket, holder_masked=holder_masked, node=node.name,
                                             staff=staff),
            lambda case: Answer(201, dumps(case.as_dict())), node=node.name, key=key, fingerprint=fingerprint)

    async def case_step(self, node: Node, key: str | None, fingerprint: bytes, case_id: str,
                        step: str, *, note: str, department: str, followups_only: bool) -> Answer:
        """One step of a case (or of a follow-up through /followups, which knows only follow-ups)."""
        engine = self.engine
        staff = self._staff_of(node)

        def decide(at: float) -> Any:
            case = engine.case(case_id)
            if followups_only and case.kind != "followup":
                raise QueueError("case_not_found", "整改不存在", "follow-up does not exist", 404)
            self._may_step(node, case, step)
            return engine.case_step(case_id, step, at, note=note, department=department, node=node.name,
                                    staff=staff)

        def present(case: Case) -> Answer:
            return Answer(200, dumps(followup_view(case) if followups_only else case.as_dict()))

        return await self.command(decide, present, node=node.name, key=key, fingerprint=fingerprint)

    async def list_cases(self, *, kind: str | None, state: str | None, department: str | None,
                         ) -> Answer:

        def present() -> Answer:
            chosen = [c.as_dict() for c in self.engine.cases.cases.values()
                      if (kind is None or c.kind == kind) and (state is None or c.state == state)
                      and (department is None or c.department == department)]
            return Answer(200, dumps({"cases": chosen}))

        return await self.read(present)

    async def list_followups(self, *, state: str | None) -> Answer:

        def present() -> Answer:
            chosen = [followup_view(c) for c in self.engine.cases.cases.values()
                      if c.kind == "followup" and (state is None or c.state == state)]
            return Answer(200, dumps({"followups": chosen}))

        return await self.read(present)

    async def case_figures(self, first: str, last: str) -> Answer:

        return await self.read(lambda: Answer(200, dumps({"from": first, "to": last,
                                                          "rows": self.engine.cases.figures(first, last)})))
