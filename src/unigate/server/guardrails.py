"""An endpoint's guardrails at work on one request: the input before any provider hears of it,
the answer (unary, or a stream through a held-back window) before the client does.

Each guardrail leaves a verdict on the usage row (`guardrails`): passed, flagged (log mode),
sanitized, blocked or error. Local ones (pii, keywords, topics) read every text the model
reads (system, user, assistant and tool-result text; not images or tool-call arguments);
topics and judges read the latest user turn, and for the answer, its whole text."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from unigate.errors import GatewayError, GuardrailBlocked
from unigate.guardrails.edits import Edit, Placeholders, apply_edits, non_overlapping
from unigate.guardrails.judge import JudgeError, JudgeVerdict, parse_verdict, system_prompt, threshold, user_prompt
from unigate.guardrails.rails import Check, EndpointGuardrails, LocalRail
from unigate.guardrails.spec import GuardrailSpec, judge_timeout
from unigate.guardrails.stream_window import StreamWindow
from unigate.ir import EmbedRequest, IRRequest, IRResponse, Message, StreamEvent, TextDelta, TextPart, ToolResultPart
from unigate.server.context import RequestContext

# a verdict only moves up this order when a guardrail runs more than once (stream windows)
_RANK = {"passed": 0, "error": 1, "flagged": 2, "sanitized": 3, "blocked": 4}
JUDGE_MAX_TOKENS = 512


def _texts(messages: list[Message]) -> list[TextPart]:
    out: list[TextPart] = []
    for m in messages:
        for p in m.parts:
            if isinstance(p, TextPart):
                out.append(p)
            elif isinstance(p, ToolResultPart):
                out.extend(c for c in p.content if isinstance(c, TextPart))
    return out


def _latest_user(ir: IRRequest) -> list[TextPart]:
    for m in reversed(ir.messages):
        if m.role == "user":
            return [p for p in m.parts if isinstance(p, TextPart)]
    return []


def _replace_all(parts: list[TextPart], text: str) -> None:
    """A judge's sanitized_text in place of what it judged: in the first part, the others emptied."""
    for i, p in enumerate(parts):
        p.text = text if i == 0 else ""


class RequestGuard:
    __slots__ = ("answer", "ctx", "placeholders", "prompt", "rails", "_verdicts")

    def __init__(self, ctx: RequestContext, rails: EndpointGuardrails) -> None:
        self.ctx, self.rails = ctx, rails
        self.placeholders = Placeholders()
        self.prompt = ""  # the latest user turn (a hallucination judge's context)
        self.answer: list[str] = []  # streamed text released so far
        self._verdicts: dict[str, dict[str, Any]] = {}
        ctx.record.guardrails = []

    @property
    def reads_output(self) -> bool:
        """Whether the answer must be read: output guardrails, or placeholders to give back (only
        when the input really had some: otherwise the fast path stays open)."""
        rails = self.rails
        return bool(rails.output) or (rails.restore and bool(self.placeholders))

    # --- verdicts ------------------------------------------------------------------------------

    def _note(self, spec: GuardrailSpec, outcome: str, reason: str = "", started: float | None = None,
              confidence: float | None = None) -> None:
        v = self._verdicts.get(spec.name)
        if v is None:
            v = self._verdicts[spec.name] = {"name": spec.name, "type": spec.type, "phase": spec.phase,
                                             "mode": spec.mode, "action": spec.action, "outcome": outcome,
                                             "latency_ms": 0.0}
            assert self.ctx.record.guardrails is not None
            self.ctx.record.guardrails.append(v)
        elif _RANK[outcome] > _RANK[v["outcome"]]:
            v["outcome"] = outcome
        if reason and _RANK[outcome] >= _RANK[v["outcome"]]:
            v["reason"] = reason
        if confidence is not None:
            v["confidence"] = round(confidence, 3)
        if started is not None:
            v["latency_ms"] = round(v["latency_ms"] + (time.perf_counter() - started) * 1000.0, 3)

    def _flagged(self, spec: GuardrailSpec, reason: str, started: float, confidence: float | None = None) -> bool:
        """A guardrail found something: block (raises), or say whether to sanitize."""
        if not spec.enforced:
            self._note(spec, "flagged", reason, started, confidence)
            return False
        if spec.action == "block":
            self._note(spec, "blocked", reason, started, confidence)
            raise GuardrailBlocked(spec.name, spec.phase, reason)
        self._note(spec, "sanitized", reason, started, confidence)
        return True

    # --- input ---------------------------------------------------------------------------------

    async def check_input(self, ir: IRRequest) -> bool:
        """Run the input guardrails on the request; True when they changed it."""
        changed = False
        latest = _latest_user(ir)
        self.prompt = "\n".join(p.text for p in latest)
        everything = _texts(ir.messages)
        for rail in self.rails.input.local:
            started = time.perf_counter()
            if rail.whole_text or rail.spec.type == "topics":
                self._check_whole(rail, self.prompt, started)
                continue
            changed = self._check_parts(rail, everything, started) or changed
        if self.rails.input.judges:
            changed = await self._judges(self.rails.input.judges, latest, self.prompt, "") or changed
        return changed

    async def check_embed_input(self, req: EmbedRequest) -> bool:
        """The input guardrails on an embeddings request's texts (token-id inputs are not read)."""
        parts = {i: TextPart(v) for i, v in enumerate(req.inputs) if isinstance(v, str)}
        if not parts:
            return False
        changed = await self.check_input(IRRequest(model=req.model, messages=[Message("user", list(parts.values()))]))
        for i, part in parts.items():
            req.inputs[i] = part.text
        return changed

    def _check_whole(self, rail: LocalRail, text: str, started: float) -> None:
        """A guardrail that judges a text as a whole (topics): it passes or blocks, nothing to edit."""
        check = rail.check(text)
        if check.flagged:
            self._flagged(rail.spec, check.reason, started)
        else:
            self._note(rail.spec, "passed", started=started)

    def _check_parts(self, rail: LocalRail, parts: list[TextPart], started: float) -> bool:
        found: list[tuple[TextPart, Check]] = []
        for p in parts:
            if p.text:
                check = rail.check(p.text)
                if check.flagged:
                    found.append((p, check))
        if not found:
            self._note(rail.spec, "passed", started=started)
            return False
        reasons = sorted({c.reason for _, c in found})
        if not self._flagged(rail.spec, "; ".join(reasons), started):
            return False
        for p, check in found:
            p.text = apply_edits(p.text, non_overlapping(rail.edits(p.text, check, self.placeholders)))
        return True

    async def _judges(self, specs: list[GuardrailSpec], parts: list[TextPart], text: str, context: str) -> bool:
        """Every judge at once; then their verdicts in configuration order (the first blocker raises)."""
        started = time.perf_counter()
        results = await asyncio.gather(*(self._evaluate(s, text, context) for s in specs))
        changed = False
        first_block: GuardrailBlocked | None = None
        for spec, result in zip(specs, results, strict=True):  # every verdict noted, then the block
            try:
                changed = self._judged(spec, result, parts, started) or changed
            except GuardrailBlocked as b:
                first_block = first_block or b
        if first_block is not None:
            raise first_block
        return changed

    def _judged(self, spec: GuardrailSpec, result: JudgeVerdict | JudgeError, parts: list[TextPart],
                started: float) -> bool:
        if isinstance(result, JudgeError):
            if spec.options.get("on_error", "block") == "allow" or not spec.enforced:
                self._note(spec, "error", f"evaluator failed: {result}", started)
                return False
            reason = f"evaluator failed (fail closed): {result}"
            self._note(spec, "blocked", reason, started)
            raise GuardrailBlocked(spec.name, spec.phase, reason)
        if not (result.flagged and result.confidence >= threshold(spec)):
            self._note(spec, "passed", result.reason, started, result.confidence)
            return False
        reason = result.reason or f"flagged by the evaluator ({spec.options['template']})"
        if spec.enforced and spec.action == "sanitize" and result.sanitized_text is None:
            self._note(spec, "blocked", reason + " (no sanitized text given)", started, result.confidence)
            raise GuardrailBlocked(spec.name, spec.phase, reason)
        if not self._flagged(spec, reason, started, result.confidence):
            return False
        assert result.sanitized_text is not None
        _replace_all(parts, result.sanitized_text)
        return True

    async def _evaluate(self, spec: GuardrailSpec, text: str, context: str) -> JudgeVerdict | JudgeError:
        """One judge's verdict from its evaluator endpoint, called like an agent loop's model call:
        the call gets its own usage row (api "guardrail"), charged to the same requester."""
        from unigate.agent.model_call import call_model  # the agent's model call (it imports server)
        from unigate.codecs.registry import FORMATS
        from unigate.server.guard import plan

        name = spec.options["endpoint"]
        endpoint = self.ctx.state.endpoints.get(name)
        if endpoint is None:
            return JudgeError(f"the evaluator endpoint '{name}' does not exist")
        parent = self.ctx
        child = RequestContext(parent.request, parent.state, "guardrail")
        child.request_id = child.record.request_id = f"{parent.request_id}-{spec.name}"
        child.principal = parent.principal
        r, p = child.record, parent.record
        r.endpoint_name, r.requester, r.requester_type = name, p.requester, p.requester_type
        r.request_tags, r.session_id = p.request_tags, p.session_id
        system, user = system_prompt(spec), user_prompt(spec, text, context)
        ir = IRRequest(model=name, max_tokens=JUDGE_MAX_TOKENS, temperature=0.0, messages=[
            Message("system", [TextPart(system)]), Message("user", [TextPart(user)])])
        # the call as a chat request would be: what budgets estimate it at (and the row, if unreported)
        body = {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
                "max_tokens": JUDGE_MAX_TOKENS}
        child.fmt_name, child.raw_body = "openai_chat", orjson.dumps(body)
        timeout = judge_timeout(spec)
        try:
            try:
                if parent.state.budgets.index:  # the evaluator's spend counts against budgets too
                    await parent.state.budgets.reserve(child, endpoint, body)
                resp = await asyncio.wait_for(call_model(child, plan(child, endpoint), FORMATS["openai_chat"], ir),
                                              timeout)
            except TimeoutError:
                r.status_code, r.error_code = 504, "upstream_timeout"
                return JudgeError(f"no verdict within {timeout:g}s")
            except GatewayError as e:
                r.status_code, r.error_code = e.status, e.code
                return JudgeError(e.message)
            r.usage, r.status_code = resp.usage, 200
            try:
                return parse_verdict("".join(p.text for p in resp.parts if isinstance(p, TextPart)))
            except JudgeError as e:
                return e
        finally:
            child.finish()

    # --- output --------------------------------------------------------------------------------

    async def check_output(self, resp: IRResponse) -> None:
        """Run the output guardrails on a whole answer (and give masked values back)."""
        parts = [p for p in resp.parts if isinstance(p, TextPart)]
        whole = "\n".join(p.text for p in parts)
        for rail in self.rails.output.local:
            started = time.perf_counter()
            if rail.whole_text:
                self._check_whole(rail, whole, started)
                continue
            if self._check_parts(rail, parts, started):
                whole = "\n".join(p.text for p in parts)
        if self.rails.output.judges:
            await self._judges(self.rails.output.judges, parts, whole, self.prompt)
        if self.rails.restore and self.placeholders:
            for p in parts:
                p.text = self.placeholders.restore(p.text)

    def stream_window(self) -> StreamWindow:
        return StreamWindow(self._check_streamed, self.rails.window, self.rails.margin,
                            self.rails.holds_whole_stream)

    def released(self, events: list[StreamEvent]) -> None:
        """Text that went to the client (what whole-answer checks read at the end)."""
        self.answer.extend(e.text for e in events if isinstance(e, TextDelta))

    async def _check_streamed(self, text: str, final: bool) -> list[Edit]:
        edits: list[Edit] = []
        for rail in self.rails.output.local:
            started = time.perf_counter()
            if rail.whole_text:
                if final:
                    self._check_whole(rail, "".join(self.answer) + text, started)
                continue
            check = rail.check(text)
            if not check.flagged:
                self._note(rail.spec, "passed", started=started)
            elif self._flagged(rail.spec, check.reason, started):
                edits += rail.edits(text, check, self.placeholders)
        edits = non_overlapping(edits)
        if final and self.rails.output.judges:
            held = [TextPart(apply_edits(text, edits))]
            if await self._judges(self.rails.output.judges, held, "".join(self.answer) + held[0].text, self.prompt):
                # sanitized by a judge: only a stream held whole (enforcing judge) gets here
                edits = [(0, len(text), held[0].text)]
        if self.rails.restore and self.placeholders:
            edits = non_overlapping(edits + self.placeholders.restore_edits(text))
        return edits
