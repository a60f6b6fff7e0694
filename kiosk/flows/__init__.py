"""Kiosk flows as pure state machines: ``step(state, event) -> (new_state, effects)``, no devices, screens or network.

The node feeds touches, card reads, device outcomes, server answers and timeouts in as events (events.py) and
performs the effects (effects.py) the flows ask for; every transition is then a unit test.
"""
