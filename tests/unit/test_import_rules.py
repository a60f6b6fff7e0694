"""The house import rules (STYLE.md, "Where code goes"), walked with ast so a stray import fails a test."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"config", "devices", "queue_server", "kiosk", "screens"}


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("devices"), ids=lambda p: str(p.relative_to(ROOT)))
def test_devices_import_no_other_project_package(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in PROJECT - {"devices"} or (path.name == "cli.py" and top == "config"), \
            f"{path.relative_to(ROOT)} imports {name}"


@pytest.mark.parametrize("path", _modules("queue_server/engine"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_engine_is_pure(path: Path) -> None:
    """The engine imports only the standard library, config and itself: no I/O, no aiohttp, no store."""
    for name in _imports(path):
        top = name.split(".")[0]
        ok = top in sys.stdlib_module_names or top == "__future__" or top == "config" \
            or name.startswith("queue_server.engine")
        assert ok, f"{path.relative_to(ROOT)} imports {name}"
        assert top not in {"asyncio", "sqlite3", "socket", "threading", "time"}, f"{path.name} imports {name}"


#: the command-line entry points that put rooms together (a node's program with its touch UI, previews)
KIOSK_WIRING = {"cli.py", "preview.py",
                "node_ui.py"}  # the kiosk touch UI: only node_cli.py and hall_cli.py import it, as a kiosk's view


@pytest.mark.parametrize("path", [p for p in _modules("kiosk") if p.name not in KIOSK_WIRING],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_kiosk_talks_to_the_server_only_over_the_wire(path: Path) -> None:
    """Nodes reach the server over HTTP/WebSocket only, and never draw with the screens' code (only the
    command-line entry points in KIOSK_WIRING import every room)."""
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in {"queue_server", "screens"}, f"{path.relative_to(ROOT)} imports {name}"
#: the kiosk UI renders the flows' Show effects and gives back their Touch events: those message modules only
SCREENS_MAY_IMPORT = {"kiosk.flows.effects", "kiosk.flows.events", "kiosk.flows.words"}


@pytest.mark.parametrize("path", _modules("screens"), ids=lambda p: str(p.relative_to(ROOT)))
def test_screens_import_only_the_flow_messages_they_render(path: Path) -> None:
    """Screens reach the server over HTTP/WebSocket; of the project they import only the flows' message types
    (and the CLI the config it loads)."""
    for name in _imports(path):
        top = name.split(".")[0]
        if top in PROJECT - {"screens"}:
            assert name in SCREENS_MAY_IMPORT or (path.name == "cli.py" and top == "config"), \
                f"{path.relative_to(ROOT)} imports {name}"
