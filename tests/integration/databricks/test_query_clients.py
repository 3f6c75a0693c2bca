"""Querying unigate with the real Databricks clients, configured with only a host and a token:
databricks-sdk (`serving_endpoints.query`, `get_open_ai_client()`), databricks-openai
(`DatabricksOpenAI()`, `use_ai_gateway=True`), mlflow's databricks deployments client and
databricks-langchain. Answers come from the mock providers (OpenAI- and Anthropic-backed
endpoints: the translation is unigate's); errors must raise each client's own exception class;
every request leaves a usage row naming the surface it came by."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.integration.databricks.client_env import client_env, run_client
from tests.integration.gateway import Gateway
from tests.integration.rawhttp import bearer, call, until_stable
from tests.integration.test_rate_limits import make_user

RUN = uuid.uuid4().hex[:8]


def run(gw: Gateway, script: str, token: str | None = None, timeout: float = 120, **params: Any) -> Any:
    """`script` with the clients' python; `P` in it is `params` (a dict)."""
    prelude = f"import json\nP = json.loads({json.dumps(json.dumps(params))})\n"
    return run_client(prelude + script, client_env(gw.url, token or gw.token), timeout)


def may_query(gw: Gateway, token: str, *endpoints: str) -> None:
    """Wait until every worker knows the token and its grants (the endpoints it lists)."""
    def listed() -> bool:
        r = call("GET", f"{gw.url}/serving-endpoints/models", headers=bearer(token))
        return r.status == 200 and set(endpoints) <= {m["id"] for m in r.json()["data"]}
    until_stable(listed)


def usage_rows(gw: Gateway, requester: str, count: int) -> list[dict[str, Any]]:
    """The requester's query rows, not may_query's listings (rows are written off the request
    path: waited for, bounded)."""
    deadline = time.monotonic() + 10
    while True:
        r = call("GET", f"{gw.url}/api/v1/usage?requester={requester}", headers=bearer(gw.token))
        assert r.status == 200, r.body
        rows: list[dict[str, Any]] = [row for row in r.json()["rows"] if row["api_type"] != "models"]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_databricks_config_makes_a_workspace(dbx_gateway: Gateway) -> None:
    r = call("GET", f"{dbx_gateway.url}/.well-known/databricks-config")  # no token: the SDK sends none
    assert r.status == 200
    meta = r.json()
    assert meta["oidc_endpoint"] == f"{dbx_gateway.url}/oidc"
    assert meta["workspace_id"].isdigit() and "account_id" not in meta
    out = run(dbx_gateway, """
from databricks.sdk import WorkspaceClient
cfg = WorkspaceClient().config
print(json.dumps({"workspace_id": cfg.workspace_id, "discovery_url": cfg.discovery_url, "host": cfg.host}))
""")
    assert out == {"workspace_id": meta["workspace_id"], "host": dbx_gateway.url,
                   "discovery_url": f"{dbx_gateway.url}/oidc/.well-known/oauth-authorization-server"}


def test_sdk_query_chat_completions_and_embeddings(dbx_gateway: Gateway) -> None:
    out = run(dbx_gateway, """
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.serving import ChatMessage, ChatMessageRole
w = WorkspaceClient()
out = {}
for name in ("chat-openai", "chat-anthropic"):
    r = w.serving_endpoints.query(name=name, max_tokens=50, temperature=0.0,
                                  messages=[ChatMessage(role=ChatMessageRole.SYSTEM, content="be brief"),
                                            ChatMessage(role=ChatMessageRole.USER, content="hello " + name)])
    c = r.choices[0]
    out[name] = {"text": c.message.content, "role": c.message.role.value, "object": r.object.value,
                 "model": r.model, "served": r.served_model_name, "total": r.usage.total_tokens}
r = w.serving_endpoints.query(name="chat-anthropic", prompt="complete this", max_tokens=20)
out["completion"] = {"text": r.choices[0].text, "object": r.object.value}
e = w.serving_endpoints.query(name="emb-openai", input=["one", "two"])
out["emb"] = {"object": e.object.value, "dims": [len(d.embedding) for d in e.data],
              "index": [d.index for d in e.data]}
print(json.dumps(out))
""")
    for name, served in (("chat-openai", "gpt-4o-mini"), ("chat-anthropic", "claude-haiku-4-5")):
        assert out[name] == {"text": f"MOCK-UPSTREAM-OK: hello {name}", "role": "assistant",
                             "object": "chat.completion", "model": name, "served": served,
                             "total": out[name]["total"]}
        assert out[name]["total"] > 0
    assert out["completion"] == {"text": "MOCK-UPSTREAM-OK: complete this", "object": "text_completion"}
    assert out["emb"]["object"] == "list" and out["emb"]["index"] == [0, 1]
    assert out["emb"]["dims"][0] == out["emb"]["dims"][1] > 0


def test_sdk_errors_raise_the_sdk_classes(dbx_gateway: Gateway) -> None:
    email = f"no-anthropic-{RUN}@example.com"
    token = make_user(dbx_gateway, email, "chat-openai")  # CAN_QUERY on chat-openai only
    may_query(dbx_gateway, token, "chat-openai")
    script = """
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError
from databricks.sdk.service.serving import ChatMessage, ChatMessageRole
w = WorkspaceClient()
try:
    w.serving_endpoints.query(name=P["name"], messages=[ChatMessage(role=ChatMessageRole.USER, content="x")])
    print(json.dumps(None))
except DatabricksError as e:
    print(json.dumps({"mro": [c.__name__ for c in type(e).__mro__], "code": e.error_code, "message": str(e)}))
"""
    nf = run(dbx_gateway, script, name="no-such-endpoint")
    assert nf["mro"][:2] == ["ResourceDoesNotExist", "NotFound"] and nf["code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "no-such-endpoint" in nf["message"]
    denied = run(dbx_gateway, script, token, name="chat-anthropic")
    assert denied["mro"][0] == "PermissionDenied" and denied["code"] == "PERMISSION_DENIED"
    assert "CAN_QUERY" in denied["message"]
    assert run(dbx_gateway, script, token, name="chat-openai") is None  # the grant it has works
    bad = run(dbx_gateway, script, "ug_not_a_token", name="chat-openai")
    assert bad["mro"][0] == "Unauthenticated" and bad["code"] == "UNAUTHENTICATED"


def test_sdk_open_ai_client(dbx_gateway: Gateway) -> None:
    email = f"oa-{RUN}@example.com"
    token = make_user(dbx_gateway, email, "chat-anthropic")
    may_query(dbx_gateway, token, "chat-anthropic")
    out = run(dbx_gateway, """
import openai, warnings
warnings.simplefilter("ignore", DeprecationWarning)
from databricks.sdk import WorkspaceClient
oa = WorkspaceClient().serving_endpoints.get_open_ai_client()
out = {"base_url": str(oa.base_url)}
r = oa.chat.completions.create(model="chat-anthropic", messages=[{"role": "user", "content": "via oa"}])
out["chat"] = [r.model, r.choices[0].message.content]
s = oa.chat.completions.create(model="chat-anthropic", messages=[{"role": "user", "content": "streamed"}],
                               stream=True)
out["stream"] = "".join(c.choices[0].delta.content or "" for c in s if c.choices)
out["completion"] = oa.completions.create(model="chat-anthropic", prompt="legacy").choices[0].text
for name, exc in (("no-such-endpoint", openai.NotFoundError), ("chat-openai", openai.PermissionDeniedError)):
    try:
        oa.chat.completions.create(model=name, messages=[{"role": "user", "content": "x"}])
    except exc as e:
        out[name] = e.status_code
print(json.dumps(out))
""", token)
    assert out == {"base_url": f"{dbx_gateway.url}/serving-endpoints/",
                   "chat": ["chat-anthropic", "MOCK-UPSTREAM-OK: via oa"],
                   "stream": "MOCK-UPSTREAM-OK: streamed", "completion": "MOCK-UPSTREAM-OK: legacy",
                   "no-such-endpoint": 404, "chat-openai": 403}


def test_databricks_openai(dbx_gateway: Gateway) -> None:
    out = run(dbx_gateway, """
from databricks_openai import DatabricksOpenAI
out = {}
for key, client in (("serving", DatabricksOpenAI()), ("gateway", DatabricksOpenAI(use_ai_gateway=True)),
                    ("native", DatabricksOpenAI(use_ai_gateway_native_api=True))):
    r = client.chat.completions.create(model="chat-anthropic", messages=[{"role": "user", "content": key}])
    s = client.chat.completions.create(model="chat-openai", stream=True,
                                       messages=[{"role": "user", "content": key + " stream"}])
    out[key] = {"base_url": str(client.base_url), "chat": r.choices[0].message.content,
                "stream": "".join(c.choices[0].delta.content or "" for c in s if c.choices),
                "responses": client.responses.create(model="chat-anthropic", input=key + " resp").output_text,
                "emb": len(client.embeddings.create(model="emb-openai", input="text").data[0].embedding)}
print(json.dumps(out))
""")
    for key, path in (("serving", "/serving-endpoints/"), ("gateway", "/ai-gateway/mlflow/v1/"),
                      ("native", "/ai-gateway/openai/v1/")):
        assert out[key]["base_url"] == dbx_gateway.url + path
        assert out[key]["chat"] == f"MOCK-UPSTREAM-OK: {key}"
        assert out[key]["stream"] == f"MOCK-UPSTREAM-OK: {key} stream"
        assert out[key]["responses"] == f"MOCK-UPSTREAM-OK: {key} resp"
        assert out[key]["emb"] > 0


def test_mlflow_deployments_client(dbx_gateway: Gateway) -> None:
    out = run(dbx_gateway, """
import requests
from mlflow.deployments import get_deploy_client
m = get_deploy_client("databricks")
out = {}
p = m.predict(endpoint="chat-anthropic", inputs={"messages": [{"role": "user", "content": "ml"}], "max_tokens": 30})
out["chat"] = [p["object"], p["choices"][0]["message"]["content"]]
chunks = list(m.predict_stream(endpoint="chat-openai", inputs={"messages": [{"role": "user", "content": "mls"}]}))
out["stream"] = [chunks[0]["object"], "".join(c["choices"][0]["delta"].get("content") or ""
                                             for c in chunks if c["choices"])]
chunks = list(m.predict_stream(endpoint="chat-anthropic", inputs={"prompt": "mlc"}))
out["completion_stream"] = [chunks[0]["object"], "".join(c["choices"][0]["text"] for c in chunks if c["choices"])]
e = m.predict(endpoint="emb-openai", inputs={"input": ["x", "y"]})
out["emb"] = [e["object"], len(e["data"])]
try:
    m.predict(endpoint="no-such-endpoint", inputs={"messages": [{"role": "user", "content": "x"}]})
except requests.HTTPError as err:
    out["error"] = [err.response.status_code, err.response.json()["error_code"]]
print(json.dumps(out))
""")
    assert out == {"chat": ["chat.completion", "MOCK-UPSTREAM-OK: ml"],
                   "stream": ["chat.completion.chunk", "MOCK-UPSTREAM-OK: mls"],
                   "completion_stream": ["text_completion", "MOCK-UPSTREAM-OK: mlc"],
                   "emb": ["list", 2], "error": [404, "RESOURCE_DOES_NOT_EXIST"]}


def test_mlflow_deployments_server_client(dbx_gateway: Gateway) -> None:
    """mlflow's client of an MLflow deployments server (AI Gateway): the target is unigate's root,
    the token MLFLOW_TRACKING_TOKEN."""
    env = client_env(dbx_gateway.url, MLFLOW_TRACKING_TOKEN=dbx_gateway.token)
    out = run_client("""
import json, requests
from mlflow.deployments import get_deploy_client
m = get_deploy_client(P_URL)
out = {"listed": {e.name: [e.endpoint_type, e.model.provider, e.endpoint_url] for e in m.list_endpoints()}}
e = m.get_endpoint("chat-azure")
out["azure"] = [e.model.name, e.model.provider, e.limit]
p = m.predict(endpoint="chat-anthropic", inputs={"messages": [{"role": "user", "content": "srv"}], "max_tokens": 20})
out["chat"] = [p["object"], p["choices"][0]["message"]["content"]]
c = m.predict(endpoint="chat-openai", inputs={"prompt": "srv completion"})
out["completion"] = [c["object"], c["choices"][0]["text"]]
e = m.predict(endpoint="emb-openai", inputs={"input": ["a", "b"]})
out["emb"] = [e["object"], len(e["data"])]
for name in ("no-such-endpoint",):
    try:
        m.get_endpoint(name)
    except Exception as err:
        out["missing"] = type(err).__name__, str(err)[:200]
print(json.dumps(out))
""".replace("P_URL", repr(dbx_gateway.url)), env)
    url = dbx_gateway.url
    assert out["listed"]["chat-anthropic"] == ["llm/v1/chat", "anthropic",
                                               f"{url}/endpoints/chat-anthropic/invocations"]
    assert out["listed"]["emb-openai"] == ["llm/v1/embeddings", "openai", f"{url}/endpoints/emb-openai/invocations"]
    assert out["azure"] == ["gpt-4o-deployment", "openai", None]
    assert out["chat"] == ["chat.completion", "MOCK-UPSTREAM-OK: srv"]
    assert out["completion"] == ["text_completion", "MOCK-UPSTREAM-OK: srv completion"]
    assert out["emb"] == ["list", 2]
    assert "404" in out["missing"][1] and "no-such-endpoint" in out["missing"][1], out["missing"]
    # the admin sees every endpoint; a user with no grants sees none and may query none
    r = call("GET", f"{url}/api/2.0/endpoints/", headers=bearer(dbx_gateway.token))
    assert r.status == 200 and "chat-openai" in {e["name"] for e in r.json()["endpoints"]}
    r = call("POST", f"{url}/gateway/chat-openai/invocations", headers=bearer("dapi-not-a-token"),
             body={"messages": [{"role": "user", "content": "x"}]})
    assert r.status == 401 and r.json()["error_code"] == "UNAUTHENTICATED", r.body
    # an endpoint-wide requests-per-minute limit is MLflow's `limit`
    limits = [{"key": "endpoint", "requests": 50, "renewal_period": "minute"},
              {"key": "user_default", "tokens": 900, "renewal_period": "minute"}]
    r = call("PUT", f"{url}/api/v1/endpoints/chat-compat/rate-limits", headers=bearer(dbx_gateway.token),
             body={"rate_limits": limits})
    assert r.status == 200, r.body

    def limited() -> bool:
        got = call("GET", f"{url}/api/2.0/endpoints/chat-compat", headers=bearer(dbx_gateway.token)).json()
        return got["limit"] == {"calls": 50, "key": None, "renewal_period": "minute"}
    until_stable(limited)


def test_databricks_langchain(dbx_gateway: Gateway) -> None:
    out = run(dbx_gateway, """
from databricks_langchain import ChatDatabricks, DatabricksEmbeddings
out = {}
for name in ("chat-openai", "chat-anthropic"):
    llm = ChatDatabricks(endpoint=name)
    out[name] = [llm.invoke("lc " + name).content, "".join(c.content for c in llm.stream("stream " + name))]
emb = DatabricksEmbeddings(endpoint="emb-openai")
out["emb"] = [len(emb.embed_query("q")), len(emb.embed_documents(["a", "b", "c"]))]
print(json.dumps(out))
""")
    for name in ("chat-openai", "chat-anthropic"):
        assert out[name] == [f"MOCK-UPSTREAM-OK: lc {name}", f"MOCK-UPSTREAM-OK: stream {name}"]
    assert out["emb"][0] > 0 and out["emb"][1] == 3


def test_usage_rows_name_the_databricks_surface(dbx_gateway: Gateway) -> None:
    email = f"usage-{RUN}@example.com"
    token = make_user(dbx_gateway, email, "chat-anthropic")
    admin = bearer(dbx_gateway.token)
    acl = {"access_control_list": [{"user_name": email, "permission_level": "CAN_QUERY"}]}
    assert call("PATCH", f"{dbx_gateway.url}/api/v1/endpoints/emb-openai/permissions", acl, admin).status == 200
    may_query(dbx_gateway, token, "chat-anthropic", "emb-openai")
    run(dbx_gateway, """
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.serving import ChatMessage, ChatMessageRole
w = WorkspaceClient()
w.serving_endpoints.query(name="chat-anthropic", messages=[ChatMessage(role=ChatMessageRole.USER, content="row")])
w.serving_endpoints.query(name="emb-openai", input=["row"])
w.serving_endpoints.query(name="chat-anthropic", prompt="row")
from databricks_openai import DatabricksOpenAI
DatabricksOpenAI().chat.completions.create(model="chat-anthropic", messages=[{"role": "user", "content": "row"}])
print(json.dumps(True))
""", token)
    rows = usage_rows(dbx_gateway, email, 4)
    seen = sorted((r["api_type"], r["url"], r["endpoint_name"], r["status_code"]) for r in rows)
    assert seen == sorted([
        ("chat", "/serving-endpoints/chat-anthropic/invocations", "chat-anthropic", 200),
        ("embeddings", "/serving-endpoints/emb-openai/invocations", "emb-openai", 200),
        ("completions", "/serving-endpoints/chat-anthropic/invocations", "chat-anthropic", 200),
        ("chat", "/serving-endpoints/chat/completions", "chat-anthropic", 200),
    ])
    for r in rows:
        assert r["requester"] == email
        assert r["input_tokens"] > 0, r


def test_invocations_payloads(dbx_gateway: Gateway, mock_url: str) -> None:
    """What /invocations refuses (in Databricks' error shape) and what it sends the provider."""
    url = f"{dbx_gateway.url}/serving-endpoints/chat-openai/invocations"
    auth = bearer(dbx_gateway.token)
    for body, param in (({"dataframe_records": [{"x": 1}]}, "dataframe_records"),
                        ({"messages": [{"role": "user", "content": "x"}], "input": "y"}, "only one"),
                        ({"prompt": ["a", "b"]}, "prompt"), ({"prompt": "a", "echo": True}, "echo")):
        r = call("POST", url, body, auth)
        assert r.status == 400, (body, r.body)
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE" and param in r.json()["message"]
    r = call("POST", url, b"{not json", auth)
    assert r.status == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = call("POST", url, {"messages": [{"role": "user", "content": "x"}]})
    assert r.status == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
    # Databricks' own fields stay here; extra_params are the provider's parameters
    marker = f"extra-{RUN}"
    body = {"messages": [{"role": "user", "content": marker}], "extra_params": {"top_p": 0.5, "user": "u1"},
            "client_request_id": "abc", "usage_context": {"team": "x"}, "max_tokens": 9}
    r = call("POST", url, body, auth)
    assert r.status == 200 and r.json()["choices"][0]["message"]["content"] == f"MOCK-UPSTREAM-OK: {marker}"
    sent = [rec["body"] for rec in call("GET", f"{mock_url}/_mock/requests?path_contains=/v1/chat/completions").json()
            if marker in json.dumps(rec["body"])]
    assert sent == [{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": marker}], "top_p": 0.5,
                     "user": "u1", "max_tokens": 9}]


def make_endpoints(gw: Gateway, *specs: dict[str, Any]) -> None:
    """Endpoints on chat-openai's provider and model, queryable on every worker once this returns."""
    for spec in specs:
        body = {"destinations": [{"provider": "openai-main", "model": "gpt-4o-mini"}], **spec}
        r = call("POST", f"{gw.url}/api/v1/endpoints", body, bearer(gw.token))
        assert r.status == 201, r.body
    may_query(gw, gw.token, *(spec["name"] for spec in specs))


def mock_bodies(mock_url: str, path: str, marker: str) -> list[dict[str, Any]]:
    """What the mock provider received on `path` with `marker` in it."""
    records = call("GET", f"{mock_url}/_mock/requests?path_contains={path}").json()
    return [rec["body"] for rec in records if marker in json.dumps(rec["body"])]


def test_sdk_raises_at_once_on_refusals_that_cannot_clear_in_a_minute(dbx_gateway: Gateway) -> None:
    """databricks-sdk sleeps Retry-After on a 429, uncapped, for up to 300 s: an hourly limit or
    a spent budget is answered 403 with RequestLimitExceeded / ResourceExhausted's error_code,
    raised at once; a per-minute limit stays a 429 the SDK waits on, as against Databricks."""
    gw = dbx_gateway
    hourly, broke, minute = f"hourly-{RUN}", f"broke-{RUN}", f"minute-{RUN}"
    make_endpoints(gw, {"name": hourly, "rate_limits": [{"key": "endpoint", "requests": 1, "renewal_period": "hour"}]},
                   {"name": broke},
                   {"name": minute, "rate_limits": [{"key": "endpoint", "requests": 0, "renewal_period": "minute"}]})
    spec = {"name": broke, "scope": {"endpoint": broke}, "period": "monthly", "limit_usd": 0, "block": True}
    assert call("POST", f"{gw.url}/api/v1/budgets", spec, bearer(gw.token)).status == 201
    query = {"messages": [{"role": "user", "content": "x"}]}

    def refused(name: str) -> tuple[int, str, str]:
        r = call("POST", f"{gw.url}/serving-endpoints/{name}/invocations", query, bearer(gw.token))
        return r.status, r.json().get("error_code"), r.headers.get("retry-after", "")
    until_stable(lambda: refused(broke)[:2] == (403, "RESOURCE_EXHAUSTED"))  # every worker has the budget
    assert int(refused(broke)[2]) > 60
    status, code, wait = refused(minute)
    assert (status, code) == (429, "REQUEST_LIMIT_EXCEEDED") and 0 < int(wait) <= 60
    into = time.time() % 3600
    if into > 3600 - 90:  # near the hour's end its Retry-After is under a minute: a 429 the SDK waits on
        time.sleep(3600 - into + 1)
    out = run(gw, """
import os, time
# mlflow retries what the SDK raises as a TooManyRequests with its own backoff (7 times, about
# four minutes; against Databricks too): once here, to see the SDK under it answer at once
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError
from databricks.sdk.service.serving import ChatMessage, ChatMessageRole
from mlflow.deployments import get_deploy_client
w = WorkspaceClient()
def ask(name):
    w.serving_endpoints.query(name=name, messages=[ChatMessage(role=ChatMessageRole.USER, content="x")])
def predict(name):
    get_deploy_client("databricks").predict(endpoint=name, inputs={"messages": [{"role": "user", "content": "x"}]})
def outcome(call, name):
    start = time.monotonic()
    try:
        call(name)
        return "ok"
    except Exception as e:
        return {"mro": [c.__name__ for c in type(e).__mro__], "code": getattr(e, "error_code", None),
                "message": str(e), "seconds": time.monotonic() - start}
print(json.dumps({"first": outcome(ask, P["hourly"]), "second": outcome(ask, P["hourly"]),
                  "budget": outcome(ask, P["broke"]), "mlflow": outcome(predict, P["hourly"])}))
""", timeout=60, hourly=hourly, broke=broke)
    assert out["first"] == "ok"
    second, budget, mlflow = out["second"], out["budget"], out["mlflow"]
    assert second["mro"][:3] == ["RequestLimitExceeded", "TooManyRequests", "DatabricksError"], second
    assert second["code"] == "REQUEST_LIMIT_EXCEEDED" and "per hour" in second["message"]
    assert "it resets in" in second["message"]
    assert budget["mro"][:2] == ["ResourceExhausted", "TooManyRequests"] and budget["code"] == "RESOURCE_EXHAUSTED"
    assert "budget" in budget["message"] and "resets at" in budget["message"]
    assert mlflow["mro"][0] == "HTTPError" and "REQUEST_LIMIT_EXCEEDED" in mlflow["message"], mlflow
    for refusal in (second, budget, mlflow):
        assert refusal["seconds"] < 5, refusal


def test_langchain_structured_output_json_schema(dbx_gateway: Gateway, mock_url: str) -> None:
    """ChatDatabricks' with_structured_output(method="json_schema") sends a json_schema with no
    name, which Databricks takes: unigate names it (the schema's title) on every path."""
    marker = f"schema-{RUN}"
    out = run(dbx_gateway, """
from pydantic import BaseModel
from databricks_langchain import ChatDatabricks
class Answer(BaseModel):
    city: str
    population: int
out = {}
for name in ("chat-openai", "chat-anthropic"):
    llm = ChatDatabricks(endpoint=name).with_structured_output(Answer, method="json_schema")
    out[name] = sorted(llm.invoke(P["marker"] + " " + name).model_dump())
print(json.dumps(out))
""", marker=marker)
    assert out == {"chat-openai": ["city", "population"], "chat-anthropic": ["city", "population"]}
    [sent] = mock_bodies(mock_url, "/v1/chat/completions", marker)  # the fast path: OpenAI needs a name
    assert sent["response_format"]["json_schema"]["name"] == "Answer"
    assert sent["response_format"]["json_schema"]["strict"] is True
    [sent] = mock_bodies(mock_url, "/v1/messages", marker)
    assert sent["output_config"]["format"]["schema"]["title"] == "Answer"
    # /invocations too, with the format among the extra_params
    body = {"messages": [{"role": "user", "content": marker + " raw"}],
            "extra_params": {"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}}}
    r = call("POST", f"{dbx_gateway.url}/serving-endpoints/chat-anthropic/invocations", body, bearer(dbx_gateway.token))
    assert r.status == 200, r.body


def test_sdk_extra_params_as_strings(dbx_gateway: Gateway, mock_url: str) -> None:
    """databricks-sdk types extra_params as Dict[str, str]: numbers sent as strings reach the
    provider as numbers, whether unigate translates (Anthropic) or forwards (OpenAI)."""
    marker = f"strings-{RUN}"
    out = run(dbx_gateway, """
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.serving import ChatMessage, ChatMessageRole
w = WorkspaceClient()
out = {}
for name in ("chat-openai", "chat-anthropic"):
    r = w.serving_endpoints.query(name=name, messages=[ChatMessage(role=ChatMessageRole.USER, content=P["marker"])],
                                  extra_params={"top_p": "0.5", "top_k": "3", "max_tokens": "40"})
    out[name] = r.choices[0].message.content
print(json.dumps(out))
""", marker=marker)
    assert out == {name: f"MOCK-UPSTREAM-OK: {marker}" for name in ("chat-openai", "chat-anthropic")}
    [openai_sent] = mock_bodies(mock_url, "/v1/chat/completions", marker)
    [anthropic_sent] = mock_bodies(mock_url, "/v1/messages", marker)
    for sent in (openai_sent, anthropic_sent):
        assert (sent["top_p"], sent["top_k"], sent["max_tokens"]) == (0.5, 3, 40), sent


def test_invocations_endpoint_and_grant_come_before_the_payload(dbx_gateway: Gateway) -> None:
    """An unknown endpoint is a 404 and one the caller may not query a 403 whatever the payload,
    as Databricks answers (after the token: a bad one is still a 401)."""
    email = f"payload-order-{RUN}@example.com"
    token = make_user(dbx_gateway, email, "chat-openai")
    may_query(dbx_gateway, token, "chat-openai")
    out = run(dbx_gateway, """
import requests
from mlflow.deployments import get_deploy_client
m = get_deploy_client("databricks")
out = {}
for name in ("no-such-endpoint", "chat-anthropic", "chat-openai"):
    try:
        m.predict(endpoint=name, inputs={})
    except requests.HTTPError as err:
        out[name] = [err.response.status_code, err.response.json()["error_code"]]
print(json.dumps(out))
""", token)
    assert out == {"no-such-endpoint": [404, "RESOURCE_DOES_NOT_EXIST"], "chat-anthropic": [403, "PERMISSION_DENIED"],
                   "chat-openai": [400, "INVALID_PARAMETER_VALUE"]}
    r = call("POST", f"{dbx_gateway.url}/serving-endpoints/no-such-endpoint/invocations", {}, bearer("ug_not_a_token"))
    assert r.status == 401 and r.json()["error_code"] == "UNAUTHENTICATED"


def test_sdk_provider_failures_say_their_cause(dbx_gateway: Gateway) -> None:
    """A provider that refuses the gateway's key is the gateway's configuration (INTERNAL_ERROR),
    an unreachable one may come back (TEMPORARILY_UNAVAILABLE); both stay 502."""
    out = run(dbx_gateway, """
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError
from databricks.sdk.service.serving import ChatMessage, ChatMessageRole
w = WorkspaceClient()
out = {}
for name in ("chat-badkey", "chat-dead"):
    try:
        w.serving_endpoints.query(name=name, messages=[ChatMessage(role=ChatMessageRole.USER, content="x")])
    except DatabricksError as e:
        out[name] = [e.error_code, str(e)]
print(json.dumps(out))
""", timeout=60)
    assert out["chat-badkey"][0] == "INTERNAL_ERROR" and "credentials" in out["chat-badkey"][1]
    assert out["chat-dead"][0] == "TEMPORARILY_UNAVAILABLE" and "unreachable" in out["chat-dead"][1]
