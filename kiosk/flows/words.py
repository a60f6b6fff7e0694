"""Words for the citizen in Chinese first and English second, and what to do after each server refusal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ASK_STAFF", "NO_WORDS", "Words", "refusal_words"]


@dataclass(frozen=True)
class Words:
    """One message in both languages; the screen shows ``zh`` large and ``en`` under it."""

    zh: str
    en: str

    def __add__(self, other: Words) -> Words:
        return Words(f"{self.zh}{other.zh}", f"{self.en} {other.en}".strip())


NO_WORDS = Words("", "")  # a screen whose targets say it all
ASK_STAFF = Words("如需帮助，请咨询导办台工作人员。", "For help, ask the staff at the information desk.")

#: server error code → what the citizen can do next ({opens_at}, {come_back_at}, … from ``details``)
_REMEDIES: dict[str, Words] = {
    "lunch_break": Words("请于 {opens_at} 后再来取号。", "Please come back after {opens_at}."),
    "between_sessions": Words("请于 {opens_at} 后再来取号。", "Please come back after {opens_at}."),
    "not_open_yet": Words("请于 {opens_at} 后再来取号。", "Please come back after {opens_at}."),
    "closed": Words("请在办理日再来，或在网上预约。", "Please come on a service day, or book online."),
    "closed_for_today": Words("请明天再来，或在网上预约。", "Please come back tomorrow, or book online."),
    "daily_quota_reached": Words("请明天再来，或在网上预约。", "Please come back tomorrow, or book online."),
    "slot_quota_reached": Words("请在下一个时段再来取号。", "Please take a ticket in the next time slot."),
    "real_name_required": Words("请刷身份证或社保卡。", "Please tap your ID card or social-security card."),
    "holder_has_ticket": Words("请使用已有的号码，或先取消再签到。",
                               "Please use the ticket you have, or cancel it first."),
    "checkin_too_early": Words("请于 {come_back_at} 后再签到。", "Please check in after {come_back_at}."),
    "checkin_too_late": Words("可改取普通号排队。", "You can take a normal ticket instead."),
    "appointment_not_found": Words("请核对 6 位预约码，或刷身份证签到。",
                                   "Check the 6-digit code, or tap your ID card to check in."),
    "appointment_cancelled": Words("可取普通号排队。", "You can take a normal ticket instead."),
    "appointment_ambiguous": Words("请选择要签到的业务。", "Please choose the service to check in for."),
    "already_rated": Words("感谢您的评价。", "Thank you for your rating."),
    "rating_expired": Words("可通过办事小票上的二维码联系我们。",
                            "You can reach us through the QR code on your ticket."),
    "not_finished": Words("事项办结后再评价。", "Please rate once your matter is finished."),
    "ticket_not_found": Words("请核对号码，号码只在当天有效。", "Check the number; numbers are valid for one day."),
}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "—"


def refusal_words(error: Mapping[str, Any]) -> Words:
    """The server's own words for a refusal, then what to do; an unknown code sends the citizen to the desk."""
    code = str(error.get("code", ""))
    said = Words(str(error.get("message_zh") or "请求未被受理。"), str(error.get("message_en") or "refused."))
    remedy = _REMEDIES.get(code, ASK_STAFF)
    details = _Blank(error.get("details") or {})
    filled = Words(remedy.zh.format_map(details), remedy.en.format_map(details))
    return Words(_sentence(said.zh, "。"), _sentence(said.en, ".")) + filled


def _sentence(text: str, stop: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:] if stop == "." else text
    return text if text[-1] in "。.!！?？" else text + stop
