"""Which of an endpoint's limits apply to one request, and how a denial is worded.

Rules (Databricks AI Gateway style):
* `endpoint` limits always apply: one counter shared by every caller of the endpoint.
* `request_tag` limits apply to requests that carry the tag. principal "team=search": one counter
  shared by all requests tagged team=search. principal "team": one counter per value of the tag
  (team=a and team=b each get the full amount); requests without the tag are not affected.
* Principal level, most specific first, decided separately for each (measure, renewal_period):
  a `user` / `service_principal` limit naming the caller, else the `group` limits of every group
  the caller belongs to (each group's counter is shared by all its members, as in Databricks),
  else `user_default` (a counter per caller). A user's own limit therefore overrides the groups'
  and the default for the same measure and period, but not for another one.
* Every applicable limit must have room (the strictest decides); 0 denies all it applies to.
  Databricks lets a member of several limited groups through while ANY of its groups has room;
  unigate applies all of them (strictest wins), as the issue asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from unigate.governance.ratelimit.spec import RateLimit

SEP = "\x1f"  # cannot appear in YAML-typed names by accident; keeps counter keys unambiguous
_LEVEL = {"user": 0, "service_principal": 0, "group": 1, "user_default": 2}


def applicable_limits(limits: Sequence[RateLimit], principal_type: str, principal: str,
                      groups: frozenset[str], tags: Mapping[str, str]) -> list[tuple[RateLimit, str]]:
    """(limit, counter scope) for every limit this request must fit in, in the order of `limits`.
    `groups` is the caller's transitive group membership; `tags` the request tags (string values)."""
    # First pass: the most specific principal level present for each (measure, period).
    best: dict[tuple[str, str], int] = {}
    for lim in limits:
        level = _LEVEL.get(lim.key)
        if level is None or not _names_caller(lim, principal_type, principal, groups):
            continue
        slot = (lim.measure, lim.renewal_period)
        if level < best.get(slot, 3):
            best[slot] = level
    out: list[tuple[RateLimit, str]] = []
    for lim in limits:
        key = lim.key
        if key == "endpoint":
            out.append((lim, "endpoint"))
        elif key == "request_tag":
            tag, eq, wanted = (lim.principal or "").partition("=")
            value = tags.get(tag)
            if value is not None and (not eq or value == wanted):
                out.append((lim, f"tag{SEP}{tag}={value}"))
        elif best and _names_caller(lim, principal_type, principal, groups) \
                and best.get((lim.measure, lim.renewal_period)) == _LEVEL[key]:
            if key == "user_default":
                out.append((lim, f"default{SEP}{principal_type}:{principal}"))
            else:
                out.append((lim, f"{key}{SEP}{lim.principal}"))
    return out


def _names_caller(lim: RateLimit, principal_type: str, principal: str, groups: frozenset[str]) -> bool:
    key = lim.key
    if key == "user_default":
        return True
    if key == "group":
        return lim.principal in groups
    return key == principal_type and lim.principal == principal


def denial_message(endpoint: str, limit: RateLimit, scope: str, target: str | None = None) -> str:
    """Names the limit that refused the request, e.g. "rate limit exceeded: user 'a@b.c' may send
    5 requests per minute on endpoint 'x'". `target` names what is limited when it is not an
    endpoint ("MCP service 'docs'")."""
    n, period = limit.amount, limit.renewal_period
    owner = "the service's" if target else "the endpoint's"
    target = target or f"endpoint '{endpoint}'"
    what = f"send {n} requests" if limit.measure == "requests" else f"use {n} tokens"
    on = f"per {period} on {target}"
    key = limit.key
    if key == "endpoint":
        unit = "requests" if limit.measure == "requests" else "tokens"
        text = f"{target} accepts {n} {unit} per {period} from all callers together"
    elif key == "user":
        text = f"user '{limit.principal}' may {what} {on}"
    elif key == "service_principal":
        text = f"service principal '{limit.principal}' may {what} {on}"
    elif key == "group":
        text = f"group '{limit.principal}' may {what} {on}, shared by all its members"
    elif key == "user_default":
        ptype, _, name = scope.split(SEP, 1)[1].partition(":")
        text = f"{ptype.replace('_', ' ')} '{name}' may {what} {on} ({owner} default per-user limit)"
    else:
        tagged = scope.split(SEP, 1)[1]
        per_value = "" if "=" in (limit.principal or "") else f" (a limit per value of tag '{limit.principal}')"
        text = f"requests tagged {tagged} may {what} {on}{per_value}"
    return f"rate limit exceeded: {text}"
