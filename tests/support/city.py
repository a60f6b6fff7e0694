"""A test city: copies of the all-day hall, each with its own code and tokens, and the city file naming them."""

from __future__ import annotations

from pathlib import Path

from tests.integration.server_support import ALLDAY_HALL

CITY_MANAGER = "city-manager-token"


def hall_code(n: int) -> str:
    return f"h{n}"


def write_city(directory: Path, halls: int) -> Path:
    """Halls h1…hN (tokens ``hN-kiosk-1``, ``hN-window-1``, ``hN-manager`` …) and ``city.toml``; returns its path."""
    text = ALLDAY_HALL.read_text(encoding="utf-8")
    assert 'code = "allday"' in text and '"demo-' in text
    names = []
    for n in range(1, halls + 1):
        code = hall_code(n)
        hall = text.replace('code = "allday"', f'code = "{code}"').replace('"demo-', f'"{code}-')
        hall = hall.replace('name = "全天测试大厅"', f'name = "全天测试大厅 {n}"')
        (directory / f"{code}.toml").write_text(hall, encoding="utf-8")
        names.append(f'"{code}.toml"')
    city = directory / "city.toml"
    city.write_text(f'[city]\nname = "测试市"\nhalls = [{", ".join(names)}]\nmanager_token = "{CITY_MANAGER}"\n',
                    encoding="utf-8")
    return city
