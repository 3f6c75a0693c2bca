"""One driver per client dialect: the official SDK, used as an application would use it.

Each driver sends a prompt (optionally offering a weather tool), streaming or not, and
returns what the application would see, in one shape the tests can compare across dialects.
`follow_up` sends the tool's result back and returns the model's next answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types as gt

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"location": {"type": "string", "description": "City name"}},
    "required": ["location"],
}


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Answer:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    raw: Any = None  # what the driver needs to continue the conversation


class OpenAIChatDriver:
    name = "openai_chat"

    def __init__(self, base: str, token: str) -> None:
        self.client = openai.OpenAI(base_url=f"{base}/mlflow/v1", api_key=token, max_retries=0)

    def tools(self) -> list[dict[str, Any]]:
        return [{"type": "function", "function": {"name": "get_weather",
                 "description": "Weather for a city", "parameters": WEATHER_SCHEMA}}]

    def ask(self, endpoint: str, prompt: str, stream: bool, tool: bool,
            messages: list[dict[str, Any]] | None = None) -> Answer:
        messages = messages or [{"role": "system", "content": "You are terse."},
                                {"role": "user", "content": prompt}]
        kwargs: dict[str, Any] = {"model": endpoint, "messages": messages}
        if tool:
            kwargs["tools"] = self.tools()
        ans = Answer(raw=messages)
        if not stream:
            r = self.client.chat.completions.create(**kwargs)
            msg = r.choices[0].message
            ans.text, ans.finish, ans.model = msg.content or "", r.choices[0].finish_reason, r.model
            ans.tool_calls = [ToolCall(c.id, c.function.name, json.loads(c.function.arguments))
                              for c in msg.tool_calls or []]
            if r.usage:
                ans.input_tokens, ans.output_tokens = r.usage.prompt_tokens, r.usage.completion_tokens
            return ans
        calls: dict[int, dict[str, str]] = {}
        for chunk in self.client.chat.completions.create(
                **kwargs, stream=True, stream_options={"include_usage": True}):
            ans.model = chunk.model
            if chunk.usage:
                ans.input_tokens, ans.output_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
            for choice in chunk.choices:
                ans.text += choice.delta.content or ""
                for tc in choice.delta.tool_calls or []:
                    c = calls.setdefault(tc.index, {"id": "", "name": "", "args": ""})
                    c["id"] += tc.id or ""
                    if tc.function:
                        c["name"] += tc.function.name or ""
                        c["args"] += tc.function.arguments or ""
                ans.finish = choice.finish_reason or ans.finish
        ans.tool_calls = [ToolCall(c["id"], c["name"], json.loads(c["args"] or "{}"))
                          for _, c in sorted(calls.items())]
        return ans

    def follow_up(self, endpoint: str, first: Answer, result: str, stream: bool) -> Answer:
        messages = list(first.raw) + [
            {"role": "assistant", "content": first.text or None, "tool_calls": [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                for c in first.tool_calls]},
        ] + [{"role": "tool", "tool_call_id": c.id, "content": result} for c in first.tool_calls]
        return self.ask(endpoint, "", stream, True, messages)


class ResponsesDriver:
    name = "openai_responses"

    def __init__(self, base: str, token: str) -> None:
        self.client = openai.OpenAI(base_url=f"{base}/openai/v1", api_key=token, max_retries=0)

    def ask(self, endpoint: str, prompt: str, stream: bool, tool: bool,
            items: list[Any] | None = None) -> Answer:
        items = items or [{"role": "user", "content": prompt}]
        kwargs: dict[str, Any] = {"model": endpoint, "input": items, "instructions": "You are terse."}
        if tool:
            kwargs["tools"] = [{"type": "function", "name": "get_weather",
                                "description": "Weather for a city", "parameters": WEATHER_SCHEMA}]
        if stream:
            final = None
            text = ""
            for event in self.client.responses.create(**kwargs, stream=True):
                if event.type == "response.output_text.delta":
                    text += event.delta
                if event.type in ("response.completed", "response.incomplete"):
                    final = event.response
            assert final is not None, "stream ended without response.completed"
            assert text == final.output_text, (text, final.output_text)
            r = final
        else:
            r = self.client.responses.create(**kwargs)
        ans = Answer(text=r.output_text, model=r.model, raw=items)
        ans.finish = r.status
        ans.tool_calls = [ToolCall(o.call_id, o.name, json.loads(o.arguments))
                          for o in r.output if o.type == "function_call"]
        ans.raw = list(items) + [o.model_dump(exclude_none=True) for o in r.output]
        if r.usage:
            ans.input_tokens, ans.output_tokens = r.usage.input_tokens, r.usage.output_tokens
        return ans

    def follow_up(self, endpoint: str, first: Answer, result: str, stream: bool) -> Answer:
        items = list(first.raw) + [{"type": "function_call_output", "call_id": c.id, "output": result}
                                   for c in first.tool_calls]
        return self.ask(endpoint, "", stream, True, items)


class AnthropicDriver:
    name = "anthropic"

    def __init__(self, base: str, token: str) -> None:
        # As Databricks documents it: a placeholder key and the real token as a Bearer header.
        self.client = anthropic.Anthropic(base_url=f"{base}/anthropic", api_key="unused",
                                          default_headers={"Authorization": f"Bearer {token}"},
                                          max_retries=0)

    def ask(self, endpoint: str, prompt: str, stream: bool, tool: bool,
            messages: list[dict[str, Any]] | None = None) -> Answer:
        messages = messages or [{"role": "user", "content": prompt}]
        kwargs: dict[str, Any] = {"model": endpoint, "max_tokens": 256, "messages": messages,
                                  "system": "You are terse."}
        if tool:
            kwargs["tools"] = [{"name": "get_weather", "description": "Weather for a city",
                                "input_schema": WEATHER_SCHEMA}]
        if stream:
            with self.client.messages.stream(**kwargs) as s:
                streamed = "".join(s.text_stream)
                m = s.get_final_message()
            assert streamed == "".join(b.text for b in m.content if b.type == "text")
        else:
            m = self.client.messages.create(**kwargs)
        ans = Answer(model=m.model, finish=m.stop_reason, raw=messages)
        ans.text = "".join(b.text for b in m.content if b.type == "text")
        ans.tool_calls = [ToolCall(b.id, b.name, dict(b.input)) for b in m.content if b.type == "tool_use"]
        ans.input_tokens, ans.output_tokens = m.usage.input_tokens, m.usage.output_tokens
        ans.raw = list(messages) + [{"role": "assistant", "content": [
            b.model_dump(exclude_none=True) for b in m.content]}]
        return ans

    def follow_up(self, endpoint: str, first: Answer, result: str, stream: bool) -> Answer:
        messages = list(first.raw) + [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": c.id, "content": result} for c in first.tool_calls]}]
        return self.ask(endpoint, "", stream, True, messages)


class GeminiDriver:
    name = "gemini"

    def __init__(self, base: str, token: str) -> None:
        # As Databricks documents it: api_key="databricks" and the real token as a Bearer header.
        self.client = genai.Client(api_key="databricks", http_options=gt.HttpOptions(
            base_url=f"{base}/gemini", headers={"Authorization": f"Bearer {token}"}))

    def ask(self, endpoint: str, prompt: str, stream: bool, tool: bool,
            contents: list[gt.Content] | None = None) -> Answer:
        contents = contents or [gt.Content(role="user", parts=[gt.Part(text=prompt)])]
        config = gt.GenerateContentConfig(system_instruction="You are terse.")
        if tool:
            config.tools = [gt.Tool(function_declarations=[gt.FunctionDeclaration(
                name="get_weather", description="Weather for a city",
                parameters_json_schema=WEATHER_SCHEMA)])]
            config.automatic_function_calling = gt.AutomaticFunctionCallingConfig(disable=True)
        ans = Answer(raw=contents)
        parts: list[gt.Part] = []
        if stream:
            for chunk in self.client.models.generate_content_stream(
                    model=endpoint, contents=contents, config=config):
                self._take(chunk, ans, parts)
        else:
            self._take(self.client.models.generate_content(
                model=endpoint, contents=contents, config=config), ans, parts)
        ans.raw = list(contents) + [gt.Content(role="model", parts=parts)]
        return ans

    @staticmethod
    def _take(r: gt.GenerateContentResponse, ans: Answer, parts: list[gt.Part]) -> None:
        ans.model = r.model_version or ans.model
        if r.usage_metadata and r.usage_metadata.prompt_token_count is not None:
            ans.input_tokens = r.usage_metadata.prompt_token_count
            ans.output_tokens = r.usage_metadata.candidates_token_count
        for cand in r.candidates or []:
            if cand.finish_reason:
                ans.finish = cand.finish_reason.value
            for p in (cand.content.parts if cand.content else None) or []:
                parts.append(p)
                if p.text and not p.thought:
                    ans.text += p.text
                if p.function_call:
                    fc = p.function_call
                    ans.tool_calls.append(ToolCall(fc.id or "", fc.name or "", dict(fc.args or {})))

    def follow_up(self, endpoint: str, first: Answer, result: str, stream: bool) -> Answer:
        contents = list(first.raw) + [gt.Content(role="user", parts=[
            gt.Part(function_response=gt.FunctionResponse(name=c.name, id=c.id or None,
                                                         response={"result": result}))
            for c in first.tool_calls])]
        return self.ask(endpoint, "", stream, True, contents)


DRIVERS = [OpenAIChatDriver, ResponsesDriver, AnthropicDriver, GeminiDriver]
