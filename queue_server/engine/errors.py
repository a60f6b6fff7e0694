"""Refusals the engine gives, each with a stable code and words a kiosk can show in Chinese and English."""

from __future__ import annotations

from typing import Any

from queue_server.engine.state import STATE_ZH, TicketState


class QueueError(Exception):
    """A command the engine refuses; ``status`` is the HTTP status the API answers with."""

    def __init__(self, code: str, message_zh: str, message_en: str, status: int = 409,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.status = status
        self.details = details or {}
        self.events: list[Any] = []  # events emitted before the refusal (a day roll-over); persist them

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en}
        if self.details:
            body["details"] = self.details
        return body


def forbidden(message_zh: str, message_en: str) -> QueueError:
    """This node (its role, its window) may not do that: 403, the one shape of every authority refusal."""
    return QueueError("forbidden", message_zh, message_en, 403)


def not_found(what_zh: str, what_en: str, code: str = "not_found") -> QueueError:
    return QueueError(code, f"{what_zh}不存在", f"{what_en} does not exist", 404)


def bad_state(ticket_number: str, state: TicketState, action_en: str, action_zh: str) -> QueueError:
    """The refusal of an action from the wrong state, the state named in each message's own language."""
    return QueueError(
        "invalid_state",
        f"{ticket_number} 号当前状态为「{STATE_ZH[state]}」，不能{action_zh}",
        f"ticket {ticket_number} is {state.value}; it cannot be {action_en}",
        409,
        {"state": STATE_ZH[state]},
    )
