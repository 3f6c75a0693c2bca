"""A worker's observability at start and stop: the metrics it reads from its parts, its posts
to the host's metrics board, and the tracer with its exporter when tracing is configured."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from unigate import __version__
from unigate.observability.metrics import POST_INTERVAL, Labels
from unigate.observability.metrics_board import MetricsBoard
from unigate.observability.otlp import OtlpExporter
from unigate.observability.tracing import Tracer
from unigate.server.state import GatewayState


class WorkerObservability:
    def __init__(self, state: GatewayState, board: MetricsBoard, slot: int) -> None:
        self.state = state
        self.board, self.slot = board, slot
        self.exporter: OtlpExporter | None = None
        self._poster: asyncio.Task[None] | None = None

    def start(self) -> None:
        state, m = self.state, self.state.metrics
        tracing = state.file_config.tracing
        if tracing is not None:
            self.exporter = OtlpExporter(
                tracing.endpoint, tracing.headers, resource={"service.name": tracing.service_name,
                                                            "service.version": __version__},
                scope_version=__version__)
            self.exporter.start()
            state.tracer = Tracer(self.exporter, tracing.sample_ratio)
        m.sources.update(self._sources())
        if state.usage is not None:
            state.usage.on_estimate = m.estimated
        m.share(self.board, self.slot)
        self._poster = asyncio.get_running_loop().create_task(self._post_every_second())

    def _sources(self) -> dict[str, Callable[[], dict[Labels, float]]]:
        state = self.state
        usage, exporter = state.usage, self.exporter

        def cooling() -> dict[Labels, float]:
            now_cooling = set(state.health.cooling())
            return {key: 1.0 if key in now_cooling else 0.0 for key in state.health.known()}

        def connections() -> dict[Labels, float]:
            in_use, idle = state.session.stats() if state.session is not None else (0, 0)
            return {("in_use",): float(in_use), ("idle",): float(idle)}

        sources: dict[str, Callable[[], dict[Labels, float]]] = {
            "unigate_destination_cooling_down": cooling,
            "unigate_usage_queue_rows": lambda: {(): float(usage.queued)},
            "unigate_usage_queue_oldest_seconds": lambda: {(): usage.oldest_age()},
            "unigate_usage_rows_dropped_total": lambda: {(): float(usage.dropped)},
            "unigate_payload_queue_rows": lambda: {(): float(state.payloads.queued if state.payloads else 0)},
            "unigate_upstream_connections": connections,
            "unigate_build_info": lambda: {(__version__,): 1.0},
            "unigate_budget_spend_usd": lambda: {(name,): v[0] for name, v in state.budgets.spend.items()},
            "unigate_budget_limit_usd": lambda: {(name,): v[1] for name, v in state.budgets.spend.items()},
        }
        if exporter is not None:
            sources["unigate_trace_spans_dropped_total"] = lambda: {(): float(exporter.dropped + exporter.failed)}
        return sources

    async def _post_every_second(self) -> None:
        while True:
            await asyncio.sleep(POST_INTERVAL)
            self.state.metrics.post()

    async def stop(self) -> None:
        if self._poster is not None:
            self._poster.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poster
        self.state.metrics.post()  # the last counts stay for a worker restarted into this slot
        if self.exporter is not None:
            await asyncio.to_thread(self.exporter.stop)
