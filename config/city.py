"""A city: the halls one deployment serves (``servicehall serve --city FILE``), and its city manager.

The file lists hall files, or names a directory whose ``*.toml`` are the halls; every hall file is loaded by
the hall loader, unchanged. A node's token says which hall it belongs to, so tokens must be unique across
the city, and hall codes too (a hall's rows in the shared log are keyed by its code). Syntax::

    [city]
    name = "某市政务服务"
    halls = ["east.toml", "west.toml"]     # relative to this file; or: hall_dir = "halls"
    manager_token_hash = "…64 hex…"        # the city manager (stats across halls); or manager_token (demo only)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.fields import Reader
from config.loader import ConfigError, _token_hash, load_hall
from config.model import Hall

CITY_KEYS = ("name", "halls", "hall_dir", "manager_token", "manager_token_hash")
MAX_HALLS = 500


@dataclass(frozen=True)
class City:
    """The halls of one deployment, in the order given, and the city manager's token hash."""

    name: str
    halls: tuple[Hall, ...]
    manager_token_hash: str
    source: str = ""

    def hall(self, code: str) -> Hall | None:
        return next((h for h in self.halls if h.code == code), None)


def load_city(path: str | Path) -> City:
    """Read a city file and every hall it names; raises ConfigError naming the file and the dotted path."""
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as err:
        raise ConfigError(source, [("", f"cannot read the file: {err.strerror or err}")]) from err
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(source, [("", f"not valid UTF-8 TOML: {err}")]) from err
    r = Reader()
    r.table(data, "", ("city",))
    head = r.table(data.get("city", {}), "city", CITY_KEYS)
    name = r.string(head, "city", "name")
    token_hash = _manager_token(r, head)
    files = _hall_files(r, head, Path(path).parent)
    if r.problems:
        raise ConfigError(source, r.problems)
    halls = tuple(load_hall(f) for f in files)  # each refused with its own file's ConfigError
    problems = _clashes(halls, token_hash)
    if problems:
        raise ConfigError(source, problems)
    return City(name, halls, token_hash, source)


def _manager_token(r: Reader, head: dict[str, Any]) -> str:
    if "manager_token" not in head and "manager_token_hash" not in head:
        r.problem("city.manager_token_hash", "missing: the city manager's token (sha256, as for a node)")
        return ""
    renamed = {k.removeprefix("manager_"): v for k, v in head.items() if k.startswith("manager_")}
    return _token_hash(r, renamed, "city.manager")[0]


def _hall_files(r: Reader, head: dict[str, Any], base: Path) -> list[Path]:
    if ("halls" in head) == ("hall_dir" in head):
        r.problem("city.halls", "give either halls (a list of hall files) or hall_dir (a directory of them)")
        return []
    if "halls" in head:
        names = r.strings(head, "city", "halls", max_items=MAX_HALLS)
        files = [base / n for n in names]
    else:
        directory = base / r.string(head, "city", "hall_dir")
        files = sorted(directory.glob("*.toml"))
        if not files:
            r.problem("city.hall_dir", f"{directory} holds no hall files (*.toml)")
    if len(files) > MAX_HALLS:
        r.problem("city.halls", f"{len(files)} halls; at most {MAX_HALLS}")
    return files


def _clashes(halls: tuple[Hall, ...], manager_hash: str) -> list[tuple[str, str]]:
    """Hall codes and node tokens must each name one hall; the city manager's token no hall node."""
    problems: list[tuple[str, str]] = []
    codes: dict[str, str] = {}
    owners: dict[str, str] = {manager_hash: "the city manager"}
    for hall in halls:
        if hall.code in codes:
            problems.append(("city.halls", f"hall code {hall.code!r} is used by {codes[hall.code]} and {hall.source}"))
        codes.setdefault(hall.code, hall.source)
        for node in (n for n in hall.nodes if n.token_hash):
            owner = owners.setdefault(node.token_hash, f"node {node.name} of {hall.source}")
            if owner != f"node {node.name} of {hall.source}":
                problems.append(("city.halls", f"node {node.name} of {hall.source} has the token of {owner}; "
                                 "a token must say which hall it belongs to"))
    return problems
