"""The service's façade, one desk per domain (appointments, ratings and cases, figures, alerts, nodes).

A desk is a mixin of ``HallService``: its methods are what the routes call, and they run engine
commands through ``self.command`` / ``self.run`` (durable before answering, idempotent per key) and
answer reads through ``self.read`` (sent once what they show is durable). Annotate ``self`` as
``HallService`` (imported under TYPE_CHECKING) so mypy sees the service's attributes.
"""
