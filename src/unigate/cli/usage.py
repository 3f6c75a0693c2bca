"""`unigate usage list|aggregate|export` and `unigate payloads list`: read a running
gateway's usage and inference tables over its admin API.

    unigate usage list --endpoint chat --since 2024-06-10 --tag team=search
    unigate usage aggregate --group-by tag
    unigate usage export --format csv -o usage.csv
    unigate payloads list --endpoint chat --limit 5
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from unigate.cli.common import add_connection_args, guarded, query, request, table

LIST_COLUMNS = ("event_time", "request_id", "endpoint_name", "requester", "client_name", "status_code",
                "streaming", "latency_ms", "input_tokens", "output_tokens", "cost_usd", "request_tags",
                "dropped_parameters", "emulated_parameters")
GROUP_COLUMNS = ("key", "requests", "errors", "input_tokens", "output_tokens", "total_tokens", "cost_usd")
PAYLOAD_COLUMNS = ("event_time", "request_id", "requester", "status_code", "latency_ms",
                   "request_body", "response_body", "not_stored_reason")


def _get(args: argparse.Namespace, path: str, params: dict[str, Any], accept: str = "application/json") -> bytes:
    return request(args, "GET", path + query(params), accept=accept)


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"start": args.since, "end": args.until, "endpoint": args.endpoint,
            "requester": args.requester, "tag": args.tag or None, "status": args.status,
            "client": args.client, "session": args.session, "limit": args.limit}


def _usage_list(args: argparse.Namespace) -> int:
    data = json.loads(_get(args, "/usage", _filters(args)))
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(table(_with_usd(data["rows"]), LIST_COLUMNS, width=40))
    return 0


def _usage_aggregate(args: argparse.Namespace) -> int:
    params = _filters(args) | {"group_by": args.group_by, "tag_key": args.tag_key}
    data = json.loads(_get(args, "/usage/aggregate", params))
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(table(_with_usd(data["groups"]), GROUP_COLUMNS, width=60))
    return 0


def usd(value: Any) -> str | None:
    """A cost as tables show it: dollars to the millionth (None stays None: no price known)."""
    return None if value is None else f"{value:.6f}"


def _with_usd(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "cost_usd": usd(r.get("cost_usd"))} for r in rows]


def _usage_export(args: argparse.Namespace) -> int:
    params = _filters(args) | {"format": args.format}
    accept = "text/csv" if args.format == "csv" else "application/json"
    body = _get(args, "/usage", params, accept)
    if args.format == "json":
        body = json.dumps(json.loads(body)["rows"], indent=2).encode() + b"\n"
    if args.output and args.output != "-":
        with open(args.output, "wb") as f:
            f.write(body)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    return 0


def _payloads_list(args: argparse.Namespace) -> int:
    path = f"/endpoints/{urllib.parse.quote(args.endpoint, safe='/')}/payloads"
    params = {"limit": args.limit, "start": args.since, "end": args.until,
              "request_id": args.request_id}
    data = json.loads(_get(args, path, params))
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(table(data["payloads"], PAYLOAD_COLUMNS, width=48))
    return 0


def _filter_args(p: argparse.ArgumentParser, limit: int) -> None:
    p.add_argument("--since", help="start time: unix seconds or ISO 8601 (2024-06-10T08:00:00Z)")
    p.add_argument("--until", help="end time (exclusive), same forms")
    p.add_argument("--endpoint")
    p.add_argument("--requester", help="an email, application id or 'admin'")
    p.add_argument("--tag", action="append", help="key=value (repeatable; all must match)")
    p.add_argument("--status", type=int, help="HTTP status code")
    p.add_argument("--client", help="client name from the User-Agent (claude-code, codex, gemini-cli, ...)")
    p.add_argument("--session", help="a client's session id")
    p.add_argument("--limit", type=int, default=limit)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    usage = sub.add_parser("usage", help="query the usage table")
    usage_sub = usage.add_subparsers(dest="usage_command", required=True)
    p = usage_sub.add_parser("list", help="usage rows, newest first")
    add_connection_args(p)
    _filter_args(p, 50)
    p.set_defaults(func=guarded(_usage_list))
    p = usage_sub.add_parser("aggregate", help="requests, tokens and cost per group")
    add_connection_args(p)
    _filter_args(p, 1000)
    p.add_argument("--group-by", default="endpoint",
                   choices=("endpoint", "requester", "group", "tag", "hour", "day", "status", "model",
                            "client", "session"))
    p.add_argument("--tag-key", help="with --group-by tag: only this tag name")
    p.set_defaults(func=guarded(_usage_aggregate))
    p = usage_sub.add_parser("export", help="usage rows as CSV or JSON")
    add_connection_args(p)
    _filter_args(p, 100_000)
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.set_defaults(func=guarded(_usage_export))

    payloads = sub.add_parser("payloads", help="read an endpoint's inference (payload) table")
    payloads_sub = payloads.add_subparsers(dest="payloads_command", required=True)
    p = payloads_sub.add_parser("list", help="payload rows of one endpoint, newest first")
    add_connection_args(p)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("--request-id")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=guarded(_payloads_list))
