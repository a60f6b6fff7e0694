"""One exception tree for every device, so a node can catch DeviceError and show the words inside."""

from __future__ import annotations


class DeviceError(Exception):
    """A device failed; the message names the device, the fact and what the technician can do."""


class DeviceTimeout(DeviceError):
    """The device gave no (complete) answer in time."""


class DeviceDisconnected(DeviceError):
    """The link to the device is gone (unplugged, port vanished, connection refused)."""


class ProtocolError(DeviceError):
    """Bytes from the device do not follow its protocol (bad checksum, bad length, garbage)."""


class DeviceStatusError(DeviceError):
    """The device answered and reported a failure of its own (status word, paper out, …)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class NoCard(DeviceStatusError):
    """No card is on the reader or in the slot."""
