"""A client's Responses request body → `IRRequest`."""

from __future__ import annotations

from typing import Any

from unigate.codecs.fields import fail, obj, opt_bool, opt_integer, opt_number, opt_string, string
from unigate.codecs.openai_responses.items_decode import input_to_messages
from unigate.codecs.openai_responses.tools import text_format_to_ir, tool_choice_to_ir, tools_to_ir
from unigate.ir.parameters import DialectParameters, Kind, classify, soft_fields
from unigate.ir.parts import TextPart
from unigate.ir.request import IRRequest, Message, ReasoningConfig

# Read into IR fields below.
_HANDLED = frozenset({
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text",
    "reasoning", "max_output_tokens", "temperature", "top_p", "top_logprobs", "stream",
    "metadata", "user", "safety_identifier", "include",
})
# The parameter policy (see `ir.parameters`); anything not listed is semantic
# (previous_response_id, conversation, prompt, max_tool_calls, truncation "auto", ...).
PARAMETERS: dict[str, Kind] = {
    "store": Kind.ADVISORY,  # server-side storage; the translated path stores nothing
    "prompt_cache_key": Kind.ADVISORY,  # cache routing: never the output
    "prompt_cache_retention": Kind.ADVISORY,
    "service_tier": Kind.ADVISORY,  # a billing / latency tier of OpenAI's
    "stream_options": Kind.ADVISORY,  # only `include_obfuscation`, padding on stream events
    "client_metadata": Kind.ADVISORY,  # Codex's installation / session ids
    "metadata": Kind.ADVISORY, "user": Kind.ADVISORY, "safety_identifier": Kind.ADVISORY,
    "parallel_tool_calls": Kind.ADVISORY,
    "include": Kind.ADVISORY,  # optional output fields (see _include)
}
# Advisory only with the value that means "off"; any other value is semantic.
_DEFAULT_WHEN = {
    "truncation": "disabled",  # the default: fail rather than truncate
    "background": False,  # the default: answer within this request
}
DIALECT = DialectParameters(
    soft=soft_fields(PARAMETERS, {"user": "user", "metadata": "metadata",
                                  "parallel_tool_calls": "parallel_tool_calls"}),
    names={"max_tokens": "max_output_tokens", "response_format": "text.format",
           "top_logprobs": "top_logprobs", "logprobs": "include"},
)
_REASONING_KEYS = frozenset({"effort", "summary", "generate_summary"})


def openai_responses_to_ir_request(body: dict[str, Any]) -> IRRequest:
    body = obj(body, "body")
    ir = IRRequest(model=string(body.get("model"), "model"))
    instructions = opt_string(body.get("instructions"), "instructions")
    if instructions is not None:
        ir.messages.append(Message("system", [TextPart(instructions)]))
    if body.get("input") is not None:
        input_to_messages(body["input"], ir.messages)

    ir.stream = bool(opt_bool(body.get("stream"), "stream"))
    ir.max_tokens = opt_integer(body.get("max_output_tokens"), "max_output_tokens")
    ir.temperature = opt_number(body.get("temperature"), "temperature")
    ir.top_p = opt_number(body.get("top_p"), "top_p")
    ir.top_logprobs = opt_integer(body.get("top_logprobs"), "top_logprobs")
    ir.parallel_tool_calls = opt_bool(body.get("parallel_tool_calls"), "parallel_tool_calls")
    ir.user = opt_string(body.get("user"), "user") or opt_string(
        body.get("safety_identifier"), "safety_identifier")
    if body.get("metadata") is not None:
        ir.metadata = obj(body["metadata"], "metadata")
    if body.get("tools"):
        ir.tools = tools_to_ir(body["tools"])
    if body.get("tool_choice") is not None:
        ir.tool_choice = tool_choice_to_ir(body["tool_choice"])
        if ir.tool_choice is None:
            ir.extra["tool_choice"] = body["tool_choice"]
    _text(body.get("text"), ir)
    _reasoning(body.get("reasoning"), ir)
    _include(body.get("include"), ir)
    ir.fill_tool_result_names()  # formats that need the called name (Gemini) find it here

    for key, value in body.items():
        if key in _HANDLED or value is None:
            continue
        if key in _DEFAULT_WHEN and value == _DEFAULT_WHEN[key]:
            continue  # the default: nothing to honour
        if classify(PARAMETERS, key) is Kind.ADVISORY:
            ir.advisory[key] = value
        else:
            # previous_response_id, conversation, prompt, ...: they need state or features the
            # translated path does not have
            ir.extra[key] = value
    return ir


def _text(value: Any, ir: IRRequest) -> None:
    if value is None:
        return
    text = obj(value, "text")
    ir.response_format = text_format_to_ir(text.get("format"))
    verbosity = opt_string(text.get("verbosity"), "text.verbosity")
    if verbosity not in (None, "medium"):  # "medium" is the default: nothing to honour
        ir.extra["text.verbosity"] = verbosity


def _reasoning(value: Any, ir: IRRequest) -> None:
    if value is None:
        return
    reasoning = obj(value, "reasoning")
    summary = opt_string(reasoning.get("summary"), "reasoning.summary") or opt_string(
        reasoning.get("generate_summary"), "reasoning.generate_summary")  # the older name
    ir.reasoning = ReasoningConfig(
        effort=opt_string(reasoning.get("effort"), "reasoning.effort"), summary=summary)
    for key, val in reasoning.items():
        if key not in _REASONING_KEYS and val is not None:
            ir.extra[f"reasoning.{key}"] = val


# Always honoured: encrypted reasoning rides along on every path; logprobs become `logprobs`.
_INCLUDE_HONOURED = frozenset({"reasoning.encrypted_content", "message.output_text.logprobs"})


def _include(value: Any, ir: IRRequest) -> None:
    """`include` asks for optional output fields. Reasoning's encrypted content is always
    returned; the outputs of built-in tools only exist where those tools run (a Responses
    upstream); log probabilities are a real request, so they become `logprobs`."""
    if value is None:
        return
    if not isinstance(value, list):
        fail("include", "expected an array of strings")
    if "message.output_text.logprobs" in value:
        ir.logprobs = True
    others = [v for v in value if v not in _INCLUDE_HONOURED]
    if others:
        # the outputs of built-in tools (web_search_call.action.sources, ...) only exist where
        # those tools run; toward another format they are dropped, and reported
        ir.advisory["include"] = value
