"""Shared state of one mock server: expected keys, recorded requests, queued faults, ids."""

from __future__ import annotations

import itertools
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .faults import Fault, FaultQueue, fault_in_text


@dataclass
class MockKeys:
    """The credentials each provider accepts; the compat flavour accepts anything."""

    openai: str = "sk-mock-openai"
    azure: str = "mock-azure-key"
    anthropic: str = "sk-ant-mock"
    gemini: str = "mock-gemini-key"


@dataclass
class MockState:
    keys: MockKeys = field(default_factory=MockKeys)
    records: list[dict[str, Any]] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    faults: FaultQueue = field(default_factory=FaultQueue)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def new_id(self, prefix: str, length: int = 24) -> str:
        """Unique, realistic-looking ids (chatcmpl-…, msg_01…, resp_…)."""
        serial = f"{next(self._ids):06d}"
        return prefix + (secrets.token_hex(length) + serial)[-length:]

    def fault_for(self, request: web.Request, last_user_text: str) -> Fault | None:
        """The queued fault wins (it is explicit); otherwise a directive in the prompt."""
        return self.faults.take(request.path) or fault_in_text(last_user_text)


STATE: web.AppKey[MockState] = web.AppKey("mock_state", MockState)


def state_of(request: web.Request) -> MockState:
    return request.app[STATE]
