"""A private pcscd with the vsmartcard ``vpcd`` reader, for tests, benchmarks and ``sim+pcsc://`` URLs.

Why private: the system's pcscd (if any) owns ``/run/pcscd/pcscd.comm`` and vpcd's fixed ports 35963/35964,
and vpcd listens on 0.0.0.0. We start our own ``pcscd -f`` with a reader.conf.d of our own (vpcd on a free
port pair) inside a private mount namespace (``unshare --mount``) whose ``/run/pcscd`` is a tmpfs, so the
host's socket and pid file are never touched; the client library reaches the private socket through
``/proc/<pid>/root/run/pcscd/pcscd.comm``. Without unshare rights (no root, no user namespaces) and with no
system pcscd running, pcscd runs directly on the host instead.

pcsc-lite's client library reads ``PCSCLITE_CSOCK_NAME`` once per process, at the first
``SCardEstablishContext``. So ``client_socket_link`` points that variable, once, at a per-process symlink
which normally leads to the system socket and is re-pointed while a private daemon runs. Consequence: while a
private daemon runs, this process sees only the private daemon's readers.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from devices.errors import DeviceError

log = logging.getLogger(__name__)

__all__ = ["SYSTEM_SOCKET", "PcscDaemon", "PcscdError", "acquire", "client_socket_link", "release"]

SYSTEM_SOCKET = "/run/pcscd/pcscd.comm"
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
READER_NAME = "Virtual PCD"
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 3.0

_link_dir: str | None = None


class PcscdError(DeviceError):
    """The private pcscd could not be started; the message says what is missing."""


def client_socket_link() -> str:
    """The path this process's PC/SC client dials; set up once, before pyscard first talks to pcscd."""
    global _link_dir
    configured = os.environ.get("PCSCLITE_CSOCK_NAME")
    if _link_dir is not None:
        return os.path.join(_link_dir, "pcscd.comm")
    if configured:
        return configured  # the operator chose a socket; respect it
    _link_dir = tempfile.mkdtemp(prefix=f"servicehall-pcsc-{os.getpid()}-")
    atexit.register(shutil.rmtree, _link_dir, True)
    link = os.path.join(_link_dir, "pcscd.comm")
    os.symlink(SYSTEM_SOCKET, link)
    os.environ["PCSCLITE_CSOCK_NAME"] = link
    return link


def _point_link(target: str) -> None:
    link = client_socket_link()
    if _link_dir is None or not link.startswith(_link_dir):
        raise PcscdError(f"PCSCLITE_CSOCK_NAME is set to {link!r} by the environment, so a private pcscd "
                         "cannot be reached; unset it to use sim+pcsc:// or the test rig")
    tmp = link + ".new"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _free_port_pair() -> int:
    """A port p with p and p+1 free (vpcd slot n listens on p+n)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("0.0.0.0", port))
                b.bind(("0.0.0.0", port + 1))
        except OSError:
            continue
        return port
    raise PcscdError("found no two consecutive free TCP ports for the vpcd reader")


class PcscDaemon:
    """One private ``pcscd -f`` serving the vpcd reader ``Virtual PCD 00 0n`` on ``port + n``."""

    def __init__(self, allow_isolation: bool = True) -> None:
        self.allow_isolation = allow_isolation
        self.port = 0
        self.isolated = False
        self._pcscd = ""
        self._conf = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def reader_name(self, slot: int = 0) -> str:
        return f"{READER_NAME} 00 {slot:02X}"

    def _socket_path(self) -> str:
        assert self._proc is not None
        if self.isolated:
            return f"/proc/{self._proc.pid}/root/run/pcscd/pcscd.comm"
        return SYSTEM_SOCKET

    def _spawn(self) -> None:
        """Launch pcscd (isolated when ``unshare`` exists); never waits, ``_ready`` judges the outcome."""
        self._pcscd = shutil.which("pcscd") or ("/usr/sbin/pcscd" if os.path.exists("/usr/sbin/pcscd") else "")
        if not self._pcscd or not os.path.exists(VPCD_DRIVER):
            raise PcscdError("pcscd or the vpcd reader driver is missing; install: apt-get install pcscd "
                             "vsmartcard-vpcd (see .ci/setup)")
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="servicehall-pcscd-")
            os.mkdir(os.path.join(self._dir, "reader.conf.d"))
        if not self.port:
            self.port = _free_port_pair()
        self._conf = os.path.join(self._dir, "reader.conf.d")
        with open(os.path.join(self._conf, "vpcd"), "w", encoding="ascii") as out:
            out.write(f'FRIENDLYNAME "{READER_NAME}"\nDEVICENAME /dev/null:0x{self.port:04X}\n'
                      f"LIBPATH {VPCD_DRIVER}\nCHANNELID 0x{self.port:04X}\n")
        unshare = shutil.which("unshare") if self.allow_isolation else None
        if unshare is None:
            self._spawn_on_host()
            return
        # a tmpfs over /run hides the host's pcscd socket, pid file and udev data from our daemon
        inner = f'mount -t tmpfs tmpfs /run && mkdir /run/pcscd && exec "{self._pcscd}" -f -c "{self._conf}"'
        prefix = ["--mount", "--propagation", "private"] if os.geteuid() == 0 else [
            "--user", "--map-root-user", "--mount", "--propagation", "private"]
        self._launch([unshare, *prefix, "sh", "-c", inner])
        self.isolated = True

    def _spawn_on_host(self) -> None:
        if os.path.exists(SYSTEM_SOCKET):
            raise PcscdError(f"another pcscd owns {SYSTEM_SOCKET} and this machine does not allow "
                             "'unshare --mount'; stop that pcscd or run as root")
        self._launch([self._pcscd, "-f", "-c", self._conf])
        self.isolated = False

    def _launch(self, argv: list[str]) -> None:
        assert self._dir is not None
        with open(os.path.join(self._dir, "pcscd.log"), "ab") as logfile:
            self._proc = subprocess.Popen(argv, stdout=logfile, stderr=logfile, stdin=subprocess.DEVNULL,
                                          start_new_session=True)

    def _ready(self) -> bool:
        """Up yet? Falls back to a host pcscd once when unshare is refused (it exits at once then)."""
        assert self._proc is not None
        if self._proc.poll() is not None:
            if self.isolated and not os.path.exists(self._socket_path()):
                log.info("unshare is not permitted here (exit %s); running pcscd on the host", self._proc.returncode)
                self._spawn_on_host()
                return False
            raise PcscdError(f"pcscd exited at start (code {self._proc.returncode}); see {self._dir}/pcscd.log")
        if not os.path.exists(self._socket_path()):
            return False
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def _started(self) -> None:
        _point_link(self._socket_path())
        log.info("private pcscd pid %s (%s), vpcd reader %r on 127.0.0.1:%s", self._proc and self._proc.pid,
                 "isolated" if self.isolated else "host", self.reader_name(), self.port)

    def start_sync(self) -> None:
        """Start and wait until the socket and the vpcd port answer (for fixtures and scripts)."""
        if self.running:
            return
        self._spawn()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready():
            if time.monotonic() > deadline:
                self.stop_sync()
                raise PcscdError(f"pcscd did not come up within {START_TIMEOUT_S} s; see {self._dir}/pcscd.log")
            time.sleep(0.02)
        self._started()

    async def start(self) -> None:
        """Start without blocking the event loop (the polling sleeps are asyncio sleeps)."""
        if self.running:
            return
        self._spawn()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready():
            if time.monotonic() > deadline:
                await self.stop()
                raise PcscdError(f"pcscd did not come up within {START_TIMEOUT_S} s; see {self._dir}/pcscd.log")
            await asyncio.sleep(0.02)
        self._started()

    def _signal(self) -> subprocess.Popen[bytes] | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        with contextlib.suppress(Exception):
            _point_link(SYSTEM_SOCKET)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        return proc

    def _finish(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)

    def stop_sync(self) -> None:
        proc = self._signal()
        if proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT_S)
        self._finish(proc)

    async def stop(self) -> None:
        proc = self._signal()
        if proc is None:
            return
        for _ in range(int(STOP_TIMEOUT_S / 0.02)):
            if proc.poll() is not None:
                break
            await asyncio.sleep(0.02)
        self._finish(proc)

    def cleanup(self) -> None:
        """Stop and remove the config directory."""
        self.stop_sync()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


_shared: PcscDaemon | None = None
_users = 0


async def acquire() -> PcscDaemon:
    """The process's shared private daemon, started on first use (simulators reuse one pcscd)."""
    global _shared, _users
    if _shared is None:
        _shared = PcscDaemon()
    _users += 1
    try:
        await _shared.start()
    except BaseException:
        _users -= 1
        raise
    return _shared


async def release() -> None:
    """Drop one use; the last user stops the daemon."""
    global _shared, _users
    _users = max(0, _users - 1)
    if _users == 0 and _shared is not None:
        daemon, _shared = _shared, None
        await daemon.stop()
        daemon.cleanup()


def hold_sync() -> PcscDaemon:
    """Synchronous ``acquire`` for a test session fixture or a benchmark's setup."""
    global _shared, _users
    if _shared is None:
        _shared = PcscDaemon()
    _users += 1
    _shared.start_sync()
    return _shared


def release_sync() -> None:
    global _shared, _users
    _users = max(0, _users - 1)
    if _users == 0 and _shared is not None:
        daemon, _shared = _shared, None
        daemon.cleanup()
