"""The budget part of a plan (`unigate apply`) and of the audit log: specs compared field by
field, with webhook header values (often credentials) never shown."""

from __future__ import annotations

from typing import Any

from unigate.governance.plan import CHANGED, HIDDEN, Change, spec_diff


def public(spec: dict[str, Any]) -> dict[str, Any]:
    """A budget spec as reads show it: webhook header names, not their values."""
    out = dict(spec)
    hook = spec.get("webhook")
    if isinstance(hook, dict) and hook.get("headers"):
        out["webhook"] = {**hook, "headers": {name: HIDDEN for name in hook["headers"]}}
    return out


def _headers(spec: dict[str, Any]) -> dict[str, str]:
    hook = spec.get("webhook")
    return dict(hook.get("headers") or {}) if isinstance(hook, dict) else {}


def budget_diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Field-level changes; a header whose value changed shows as "(changed)"."""
    changes = spec_diff(public(old), public(new))
    old_h, new_h = _headers(old), _headers(new)
    for name in sorted(set(old_h) & set(new_h)):
        if old_h[name] != new_h[name]:
            changes.append({"field": f"webhook.headers.{name}", "old": HIDDEN, "new": CHANGED})
    return changes


def budget_changes(wanted: list[dict[str, Any]], stored: list[dict[str, Any]], prune: bool) -> list[Change]:
    """Creates and updates for each wanted budget that differs from the stored one; with `prune`,
    deletes for each stored budget not wanted. Specs as Budget.to_spec() normalises them."""
    have = {s["name"]: s for s in stored}
    changes: list[Change] = []
    for spec in wanted:
        old = have.get(spec["name"])
        if old is None:
            changes.append(Change("budget", spec["name"], "create", spec=public(spec)))
        elif diff := budget_diff(old, spec):
            changes.append(Change("budget", spec["name"], "update", diff=diff))
    if prune:
        names = {s["name"] for s in wanted}
        changes += [Change("budget", n, "delete") for n in sorted(have) if n not in names]
    return changes
