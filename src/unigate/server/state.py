"""Everything a worker needs at request time, in memory: the configuration snapshot, the
provider adapters, the token table and the pooled upstream HTTP session."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import aiohttp

from unigate.accounting.usage import UsageWriter
from unigate.config import Destination, EndpointConfig, GatewayConfig
from unigate.providers import Provider, build_provider
from unigate.store.sqlite import SQLiteStore, TokenRow


@dataclass(slots=True)
class Principal:
    name: str
    type: str  # "admin" | "user" | "service_principal"


class GatewayState:
    def __init__(self, config: GatewayConfig, store: SQLiteStore, usage: UsageWriter) -> None:
        self.config = config
        self.store = store
        self.usage = usage
        self.providers: dict[str, Provider] = {
            name: build_provider(cfg) for name, cfg in config.providers.items()
        }
        self.endpoints: dict[str, EndpointConfig] = config.endpoints
        self.tokens: dict[str, TokenRow] = {}
        self.session: aiohttp.ClientSession | None = None
        self.reload_tokens()

    def reload_tokens(self) -> None:
        self.tokens = {row.token_hash: row for row in self.store.active_tokens()}

    def principal_for(self, token_hash: str) -> Principal | None:
        row = self.tokens.get(token_hash)
        if row is None or (row.expires_at is not None and row.expires_at < time.time()):
            return None
        return Principal(row.principal, row.principal_type)

    def choose_destination(self, endpoint: EndpointConfig) -> Destination:
        dests = endpoint.destinations
        if len(dests) == 1:
            return dests[0]
        return random.choices(dests, weights=[d.traffic_percentage for d in dests])[0]

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=1024, keepalive_timeout=60,
                                         ttl_dns_cache=300, enable_cleanup_closed=True)
        self.session = aiohttp.ClientSession(
            connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
