"""Engine commands of the case ledger: register a case, and take one step of it (see cases.py for the states)."""

from __future__ import annotations

from queue_server.engine import events as ev
from queue_server.engine.cases import KINDS, STEPS_BY_KIND, UPHOLD, Case, next_deadline
from queue_server.engine.commands import CommandBase, command
from queue_server.engine.errors import QueueError, not_found

STEP_ZH = {"assign": "交办", "start": "开始办理", "contact": "联系", "rectify": "整改", "resolve": "办结",
           "close": "关闭", "decline": "不予受理", "appeal": "申诉", "uphold": "维持", "overturn": "撤销"}
STATE_ZH = {"open": "待跟进", "contacted": "已联系", "rectified": "已整改", "appealed": "申诉中", "closed": "已关闭",
            "overturned": "已撤销", "registered": "已登记", "assigned": "已交办", "in_progress": "办理中",
            "resolved": "已办结", "declined": "不予受理"}


class CaseCommands(CommandBase):
    """Commands of the case ledger, mixed into QueueEngine."""

    def case(self, case_id: str) -> Case:
        case = self.cases.cases.get(case_id)
        if case is None:
            raise not_found("案件", "case", "case_not_found")
        return case

    def _working_days(self, kind: str) -> int:
        rules = self.hall.ratings
        return {"followup": rules.followup_working_days, "complaint": rules.complaint_working_days,
                "assisted": rules.assisted_working_days}[kind]

    def _open_case(self, kind: str, at: float, *, ticket: str | None, level: int | None, holder_masked: str,
                   subject: str, category: str, department: str, node: str, staff: str = "") -> Case:
        """Emit case.opened; the deadline is counted in working days from today in the hall's zone."""
        case_id = self._new_id()
        self._emit(ev.CASE_OPENED, at, {
            "case": case_id, "kind": kind, "ticket": ticket, "level": level, "holder_masked": holder_masked,
            "subject": subject, "category": category, "department": department,
            "deadline": next_deadline(self, at, self._working_days(kind))}, node, staff)
        return self.cases.cases[case_id]

    @command
    def open_case(self, kind: str, at: float, *, subject: str, category: str = "", department: str = "",
                  ticket: str | None = None, holder_masked: str = "", node: str = "", staff: str = "") -> Case:
        """Register a 办不成事 complaint or a 帮办代办 matter (follow-ups open only from a bad rating)."""
        if kind not in KINDS or kind == "followup":
            raise QueueError("invalid_kind", "案件类型无效", "kind must be complaint or assisted (follow-ups are "
                             "opened by a bad rating)", 422, {"field": "kind"})
        if not subject:
            raise QueueError("subject_required", "请填写事项", "a case needs a subject", 422, {"field": "subject"})
        if department and department not in {d.code for d in self.hall.departments}:
            raise QueueError("unknown_department", f"没有「{department}」这个部门",
                             f"unknown department {department!r}", 422, {"field": "department"})
        if ticket is not None and self.find_ticket(ticket) is None:
            raise not_found("号票", "ticket", "ticket_not_found")
        return self._open_case(kind, at, ticket=ticket, level=None, holder_masked=holder_masked, subject=subject,
                               category=category, department=department, node=node, staff=staff)

    @command
    def case_step(self, case_id: str, step: str, at: float, *, note: str = "", department: str = "",
                  node: str = "", staff: str = "") -> Case:
        """One step of a case from the state it is in now; a decline needs its reason as the note."""
        case = self.case(case_id)
        steps = STEPS_BY_KIND[case.kind]
        if step not in steps:
            raise QueueError("unknown_step", "该案件不能执行此操作",
                             f"a {case.kind} case has no step {step!r} (steps: {', '.join(steps)})", 404)
        sources, target = steps[step]
        if case.state not in sources:
            raise QueueError("invalid_case_state", f"案件当前状态为「{STATE_ZH[case.state]}」，不能{STEP_ZH[step]}",
                             f"the case is {case.state}; it cannot take the step {step}", 409,
                             {"state": case.state})
        if step == "appeal" and case.appealed:
            raise QueueError("already_appealed", "该整改已申诉过一次", "this follow-up was appealed once already",
                             409)
        if step == "decline" and not note:
            raise QueueError("reason_required", "不予受理需要填写原因", "a decline needs its reason as the note", 422,
                             {"field": "note"})
        if step == "assign":
            if not department:
                raise QueueError("department_required", "请指定交办部门", "assign needs a department", 422,
                                 {"field": "department"})
            if department not in {d.code for d in self.hall.departments}:
                raise QueueError("unknown_department", f"没有「{department}」这个部门",
                                 f"unknown department {department!r}", 422, {"field": "department"})
        state = case.appealed_from if target == UPHOLD else target
        data = {"case": case.id, "kind": case.kind, "ticket": case.ticket, "step": step, "state": state,
                "note": note}
        if step == "assign":
            data["department"] = department
        self._emit(ev.CASE_STEP, at, data, node, staff)
        return case
