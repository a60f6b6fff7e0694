"""Engine command of 好差评: rate a finished matter once, and open its follow-up when the rating is bad."""

from __future__ import annotations

from queue_server.engine import events as ev
from queue_server.engine.case_commands import CaseCommands
from queue_server.engine.commands import command
from queue_server.engine.errors import QueueError, not_found
from queue_server.engine.ratings import BAD_LEVELS, CHANNELS, LEVEL_ZH, LEVELS, Rating
from queue_server.engine.state import Ticket, TicketState


def refuse_bad_rating(level: int, channel: str) -> None:
    """The rating itself, whatever is rated (a ticket's matter, a self-service print): five levels, a known channel."""
    if level not in LEVELS:
        raise QueueError("invalid_level", "评价等级必须为 1 到 5", "level must be 1..5 (5 = very satisfied)", 422,
                         {"field": "level"})
    if channel not in CHANNELS:
        raise QueueError("invalid_channel", "评价渠道无效", f"channel must be one of {', '.join(CHANNELS)}", 422,
                         {"field": "channel"})


class RatingCommands(CaseCommands):
    """The rating command, mixed into QueueEngine (a bad rating opens a case through CaseCommands)."""

    def rated_ticket(self, ticket_id: str) -> Ticket:
        """Today's or a recent day's ticket, refused as ``not_finished`` unless its matter was finished."""
        ticket = self.find_ticket(ticket_id)
        if ticket is None:
            raise not_found("号票", "ticket", "ticket_not_found")
        if ticket.state is not TicketState.FINISHED:
            raise QueueError("not_finished", f"{ticket.number} 号尚未办结，不能评价",
                             f"ticket {ticket.number} is {ticket.state.value}; only a finished matter can be rated",
                             409, {"state": ticket.state.value})
        return ticket

    def refuse_unratable(self, ticket: Ticket, at: float) -> None:
        """Once per matter, within ``ratings.window_hours`` of its finish."""
        if ticket.id in self.ratings.ratings:
            raise QueueError("already_rated", f"{ticket.number} 号已评价过", f"ticket {ticket.number} was already "
                             "rated; a matter is rated once", 409)
        hours = self.hall.ratings.window_hours
        assert ticket.finished_at is not None
        if at - ticket.finished_at > hours * 3600:
            raise QueueError("rating_expired", f"办结已超过 {hours:g} 小时，不能再评价",
                             f"ticket {ticket.number} was finished more than {hours:g} hours ago; the rating "
                             "window is closed", 409, {"window_hours": hours})

    def rating_open(self, ticket: Ticket, at: float) -> bool:
        """Whether the matter may be rated now (the status page offers the levels only then)."""
        try:
            self.refuse_unratable(ticket, at)
        except QueueError:
            return False
        return ticket.state is TicketState.FINISHED

    @command
    def rate(self, ticket_id: str, level: int, channel: str, at: float, *, comment: str = "",
             node: str = "") -> Rating:
        """Rate a finished matter; levels 1 and 2 open its follow-up (整改) case in the same command."""
        ticket = self.rated_ticket(ticket_id)
        self.refuse_unratable(ticket, at)
        refuse_bad_rating(level, channel)
        window, staff, _ = self.ratings.finishers.get(ticket.id, (ticket.window, ticket.staff, 0.0))
        service = self.service(ticket.service)
        assert ticket.finished_at is not None
        self._emit(ev.RATING_GIVEN, at, {
            "ticket": ticket.id, "number": ticket.number, "level": level, "channel": channel, "comment": comment,
            "service": service.code, "department": service.department, "window": window, "staff": staff,
            "finished_at": ticket.finished_at}, node)
        if level in BAD_LEVELS:
            self._open_case("followup", at, ticket=ticket.id, level=level, holder_masked=ticket.holder_masked,
                            subject=f"{ticket.number} 号差评（{LEVEL_ZH[level]}）整改", category="bad_rating",
                            department=service.department, node=node)
        return self.ratings.ratings[ticket.id]
