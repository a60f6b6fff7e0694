"""PIN and token hashing: round trips, wrong PINs, the stored format and the technician's CLI."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from config.secrets import hash_pin, hash_token, is_pin_hash, is_token_hash, main, verify_pin


def test_pin_round_trip_and_wrong_pin():
    stored = hash_pin("123456")
    assert verify_pin("123456", stored)
    assert not verify_pin("123457", stored)
    assert not verify_pin("", stored)


def test_pin_hash_format_and_random_salt():
    first, second = hash_pin("2468"), hash_pin("2468")
    assert first != second  # a fresh 16-byte salt each time
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(bytes.fromhex(salt)) == 16 and len(bytes.fromhex(digest)) == 32
    assert is_pin_hash(first) and is_pin_hash(second)


def test_verify_reads_the_stored_parameters():
    """A hash made with other (cheap) scrypt parameters, independently of hash_pin, still verifies."""
    salt = bytes(range(16))
    digest = hashlib.scrypt(b"0000", salt=salt, n=1024, r=4, p=2, dklen=32)
    stored = f"scrypt$1024$4$2${salt.hex()}${digest.hex()}"
    assert is_pin_hash(stored)
    assert verify_pin("0000", stored) and not verify_pin("0001", stored)


@pytest.mark.parametrize("text", [
    "123456", "", "scrypt$16384$8$1$00$00", "bcrypt$16384$8$1$" + "0" * 32 + "$" + "0" * 64,
    "scrypt$16383$8$1$" + "0" * 32 + "$" + "0" * 64,      # N not a power of two
    "scrypt$1073741824$8$1$" + "0" * 32 + "$" + "0" * 64,  # would need 1 TiB
    "scrypt$16384$0$1$" + "0" * 32 + "$" + "0" * 64,
    "scrypt$16384$8$1$" + "0" * 32 + "$" + "A" * 64,       # upper-case hex
    "scrypt$16384$8$1$" + "0" * 32 + "$" + "0" * 64 + "\n",
])
def test_malformed_pin_hashes_are_refused_and_never_verify(text):
    assert not is_pin_hash(text)
    assert not verify_pin("123456", text)


def test_short_pin_is_refused():
    with pytest.raises(ValueError, match="at least 4"):
        hash_pin("123")


def test_token_hash_is_sha256_hex():
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert is_token_hash(hash_token("demo-kiosk-1"))
    assert not is_token_hash("BA7816BF" * 8) and not is_token_hash("ab" * 31) and not is_token_hash(None)


def test_cli_hash_pin_reads_stdin():
    done = subprocess.run([sys.executable, "-m", "config.secrets", "hash-pin"], input="987654\n",
                          capture_output=True, text=True, check=True, timeout=60)
    stored = done.stdout.strip()
    assert verify_pin("987654", stored) and "987654" not in done.stdout


def test_cli_hash_token_and_refusals(monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("demo-display\n"))
    assert main(["hash-token"]) == 0
    assert capsys.readouterr().out.strip() == hashlib.sha256(b"demo-display").hexdigest()
    monkeypatch.setattr(sys, "stdin", io.StringIO("12\n"))
    assert main(["hash-pin"]) == 1
    assert "at least 4" in capsys.readouterr().err
