"""``servicehall devices …``: the technician's tool (probe, read-card, print-test, simulate)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the ``devices`` sub-command and its verbs."""
    devices = sub.add_parser("devices", help="probe, test and simulate hall devices")
    devices.add_subparsers(dest="devices_command", required=True)


def run(args: argparse.Namespace) -> int:
    """Run one ``devices`` verb; exit code 0 when every device is ready."""
    raise SystemExit("servicehall devices: not built yet")
