"""What the API sends back, as the service and every desk build it: a status and a JSON body kept as text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    """A status and a JSON body, kept as text so a retry under the same Idempotency-Key gets it byte for byte."""

    status: int
    body: str


def dumps(body: Any) -> str:
    """The API's compact JSON (Chinese kept as is, not escaped)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def answer(body: Any, status: int = 200) -> Answer:
    return Answer(status, dumps(body))
