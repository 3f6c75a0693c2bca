"""What `unigate apply` would change: the file's providers and endpoints against the stored
ones, as creates, updates (with a field-level diff) and, when pruning, deletes.

Pure functions over specs (the YAML entry shape), so the server computes the plan and the CLI
only renders it. A provider's api_key never appears in a plan: a changed key shows as
"(changed)"."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from unigate.store.config_store import public_provider_spec

SECRET_FIELDS = frozenset({"api_key"})
HIDDEN, CHANGED, REMOVED, ADDED = "(hidden)", "(changed)", "(removed)", "(set)"
KINDS = ("provider", "endpoint", "mcp_service")


@dataclass(slots=True)
class Change:
    kind: str  # "provider" | "endpoint" | "mcp_service"
    name: str
    action: str  # "create" | "update" | "delete"
    diff: list[dict[str, Any]] = field(default_factory=list)  # updates: [{field, old, new}]
    spec: dict[str, Any] | None = None  # creates: the new spec, secrets hidden

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "action": self.action}
        if self.action == "update":
            out["diff"] = self.diff
        if self.spec is not None:
            out["spec"] = self.spec
        return out


@dataclass(slots=True)
class Plan:
    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def of(self, kind: str, action: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind and c.action == action]

    def summary(self) -> dict[str, int]:
        return {a: sum(1 for c in self.changes if c.action == a) for a in ("create", "update", "delete")}

    def to_json(self) -> dict[str, Any]:
        return {"changes": [c.to_json() for c in self.changes], "summary": self.summary(),
                "plan_id": self.plan_id()}

    def plan_id(self) -> str:
        """A fingerprint the CLI sends back with the real apply, so what is applied is what
        was shown (a concurrent change in between makes the server refuse with 409)."""
        raw = json.dumps([c.to_json() for c in self.changes], sort_keys=True, default=str)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


def hide_secrets(spec: dict[str, Any]) -> dict[str, Any]:
    if "api_key" in spec or spec.get("type"):  # a provider: the shape reads show
        return public_provider_spec(spec)
    out = {k: v for k, v in spec.items() if k not in SECRET_FIELDS}
    for key in ("headers", "env"):  # an MCP service's headers and environment carry credentials
        if isinstance(out.get(key), dict):
            out[key] = {name: HIDDEN for name in out[key]}
    return out


def _is_secret(path: str) -> bool:
    """The provider key, and the values of its extra headers (they often carry credentials)."""
    return path in SECRET_FIELDS or path.startswith(("headers.", "env."))


def spec_diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Field-level differences, as [{"field": "destinations[0].model", "old": .., "new": ..}].
    Missing fields are None; secret fields never show their values."""
    if _is_secret(path):
        if old == new:
            return []
        return [{"field": path, "old": HIDDEN if old else None,
                 "new": CHANGED if old and new else (ADDED if new else REMOVED)}]
    if isinstance(old, dict) and isinstance(new, dict):
        diffs: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new), key=_field_order):
            diffs += spec_diff(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return diffs
    if isinstance(old, list) and isinstance(new, list):
        diffs = []
        for i in range(max(len(old), len(new))):
            diffs += spec_diff(old[i] if i < len(old) else None, new[i] if i < len(new) else None,
                               f"{path}[{i}]")
        return diffs
    return [] if old == new else [{"field": path, "old": old, "new": new}]


def _field_order(key: str) -> tuple[int, str]:
    first = ("name", "type", "base_url", "api_key", "destinations", "fallbacks")
    return (first.index(key), "") if key in first else (len(first), key)


def make_plan(file_providers: list[dict[str, Any]], file_endpoints: list[dict[str, Any]],
              stored_providers: list[dict[str, Any]], stored_endpoints: list[dict[str, Any]],
              prune: bool, file_services: list[dict[str, Any]] | None = None,
              stored_services: list[dict[str, Any]] | None = None) -> Plan:
    """Creates and updates for every file entry that differs from the stored one; with
    `prune`, deletes for every stored entry the file does not name. Specs are compared as
    normalised by unigate.store.config_store (so equal configurations give an empty plan)."""
    plan = Plan()
    for kind, wanted, stored in (("provider", file_providers, stored_providers),
                                 ("endpoint", file_endpoints, stored_endpoints),
                                 ("mcp_service", file_services or [], stored_services or [])):
        have = {s["name"]: s for s in stored}
        for spec in wanted:
            old = have.get(spec["name"])
            if old is None:
                plan.changes.append(Change(kind, spec["name"], "create", spec=hide_secrets(spec)))
            elif (diff := spec_diff(old, spec)):
                plan.changes.append(Change(kind, spec["name"], "update", diff=diff))
        if prune:
            names = {s["name"] for s in wanted}
            plan.changes += [Change(kind, n, "delete") for n in sorted(have) if n not in names]
    return plan


def render_plan(plan: dict[str, Any]) -> str:
    """The plan as the CLI prints it (from its JSON form)."""
    changes = plan.get("changes") or []
    if not changes:
        return "No changes: the gateway already matches the file."
    marks = {"create": "+", "update": "~", "delete": "-"}
    lines: list[str] = []
    for c in changes:
        lines.append(f"{marks.get(c['action'], '?')} {c['action']} {c['kind']} {c['name']}")
        if c["action"] == "create":
            for key, value in (c.get("spec") or {}).items():
                if key != "name":
                    lines.append(f"      {key}: {_show(value)}")
        for d in c.get("diff") or []:
            lines.append(f"      {d['field']}: {_show(d['old'])} -> {_show(d['new'])}")
    s = plan.get("summary") or {}
    lines.append(f"Plan: {s.get('create', 0)} to create, {s.get('update', 0)} to update, "
                 f"{s.get('delete', 0)} to delete.")
    return "\n".join(lines)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str) and value.startswith("(") and value.endswith(")"):
        return value
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
