"""Node tokens and staff PINs as the config file holds them: hashes only, so a leaked file opens nothing.

A node's bearer token is long and random, so a plain sha256 is enough (``hash_token``). A staff PIN is short
and guessable, so it is stretched with scrypt and a random salt, stored as ``scrypt$N$r$p$salt_hex$hash_hex``.

Technicians hash a PIN with ``python -m config.secrets hash-pin`` (the PIN is read from standard input, never
from the command line, so it stays out of the shell history) and a token with ``hash-token``.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import os
import re
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.model import Hall

__all__ = [
    "HOLDER_KEY_ENV",
    "MIN_PIN_LENGTH",
    "HolderKeyError",
    "hash_pin",
    "hash_token",
    "holder_secret",
    "is_pin_hash",
    "is_token_hash",
    "verify_pin",
]

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PIN_LENGTH = 4
# A stored hash chooses its own cost; cap it so a hostile config cannot make verify_pin eat the machine.
_MAX_SCRYPT_MEMORY = 64 * 2**20

_PIN_HASH = re.compile(r"scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([0-9a-f]{32})\$([0-9a-f]{64})")
_TOKEN_HASH = re.compile(r"[0-9a-f]{64}")
_HOLDER_KEY = re.compile(r"[0-9a-f]{64,128}")
HOLDER_KEY_ENV = "SERVICEHALL_HOLDER_KEY"


class HolderKeyError(ValueError):
    """The hall's holder key is missing or malformed; the words say where it was looked for and what to give."""


def holder_secret(hall: Hall, environ: Mapping[str, str] | None = None) -> bytes:
    """The hall's HMAC key for holder keys (kiosk/flows/holder.py): env SERVICEHALL_HOLDER_KEY, else the file
    ``[hall] holder_key_file`` (relative to the hall file), else ``[hall] holder_key`` (demo halls only).

    Every kiosk of a hall must use the same key, or one citizen would hold two "one open ticket" slots, so a
    kiosk without a valid key refuses to start rather than make one up.
    """
    env = os.environ if environ is None else environ
    if env.get(HOLDER_KEY_ENV):
        return _holder_key_bytes(env[HOLDER_KEY_ENV].strip(), f"the environment variable {HOLDER_KEY_ENV}")
    if hall.holder_key_file:
        path = Path(hall.holder_key_file)
        if not path.is_absolute() and hall.source:
            path = Path(hall.source).parent / path
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise HolderKeyError(f"cannot read the holder key file {path} ([hall] holder_key_file): {err}") from err
        return _holder_key_bytes(text, f"the holder key file {path}")
    if hall.holder_key:
        return _holder_key_bytes(hall.holder_key, f"{hall.source or 'the hall file'}: hall.holder_key")
    raise HolderKeyError(f"{hall.source or 'the hall file'} gives no holder key: set {HOLDER_KEY_ENV} or "
                         "[hall] holder_key_file (a file with 64 hex digits, e.g. from "
                         "python -c 'import secrets; print(secrets.token_hex(32))')")


def _holder_key_bytes(text: str, where: str) -> bytes:
    if not _HOLDER_KEY.fullmatch(text):
        raise HolderKeyError(f"{where} must hold 64 to 128 lower-case hex digits (a key of 32+ random bytes), "
                             f"not {len(text)} characters of that form")
    return bytes.fromhex(text)


def hash_token(token: str) -> str:
    """sha256 hex of a node's bearer token, the form the config and the server compare."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_token_hash(text: object) -> bool:
    """True for 64 lower-case hex digits (what ``hash_token`` produces)."""
    return isinstance(text, str) and _TOKEN_HASH.fullmatch(text) is not None


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES,
                          maxmem=2 * _MAX_SCRYPT_MEMORY)


def hash_pin(pin: str) -> str:
    """A salted scrypt hash of a staff PIN, as ``scrypt$N$r$p$salt_hex$hash_hex``."""
    if not isinstance(pin, str) or len(pin) < MIN_PIN_LENGTH:
        raise ValueError(f"a PIN needs at least {MIN_PIN_LENGTH} characters")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def _parameters(stored: object) -> tuple[int, int, int, bytes, bytes] | None:
    if not isinstance(stored, str):
        return None
    match = _PIN_HASH.fullmatch(stored)
    if match is None:
        return None
    n, r, p = int(match[1]), int(match[2]), int(match[3])
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or 128 * n * r > _MAX_SCRYPT_MEMORY or p > 16:
        return None
    return n, r, p, bytes.fromhex(match[4]), bytes.fromhex(match[5])


def is_pin_hash(text: object) -> bool:
    """True when ``text`` is a hash ``hash_pin`` could have made (format and sane scrypt cost)."""
    return _parameters(text) is not None


def verify_pin(pin: str, stored: str) -> bool:
    """Whether ``pin`` matches ``stored``; a malformed stored hash never matches."""
    params = _parameters(stored)
    if params is None or not isinstance(pin, str):
        return False
    n, r, p, salt, expected = params
    return hmac.compare_digest(_scrypt(pin, salt, n, r, p), expected)


def _read_secret(what: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"{what}: ")
    return sys.stdin.readline().rstrip("\r\n")


def main(argv: list[str] | None = None) -> int:
    """``python -m config.secrets hash-pin|hash-token``: print the hash of a secret read from stdin."""
    parser = argparse.ArgumentParser(prog="python -m config.secrets",
                                     description="Hash a staff PIN or a node token for the hall TOML file.")
    parser.add_argument("verb", choices=["hash-pin", "hash-token"])
    args = parser.parse_args(argv)
    if args.verb == "hash-pin":
        pin = _read_secret("PIN")
        try:
            print(hash_pin(pin))
        except ValueError as err:
            print(f"hash-pin: {err}", file=sys.stderr)
            return 1
        return 0
    token = _read_secret("token")
    if not token:
        print("hash-token: the token is empty", file=sys.stderr)
        return 1
    print(hash_token(token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
