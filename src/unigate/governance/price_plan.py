"""The price part of a plan (`unigate apply`, PUT /api/v1/prices): the operator's entries
wanted against the stored ones, as governance.plan does for providers and endpoints."""

from __future__ import annotations

from typing import Any

from unigate.governance.plan import Change, spec_diff


def label(spec: dict[str, Any]) -> str:
    """How a plan and the audit log name an entry: provider:NAME/MODEL or type:TYPE/MODEL."""
    owner = f"provider:{spec['provider']}" if spec.get("provider") is not None else f"type:{spec.get('type')}"
    return f"{owner}/{spec.get('model')}"


def spec_key(spec: dict[str, Any]) -> tuple[str, str, str]:
    """A stored entry's key in the prices table: (scope, owner, model)."""
    if spec.get("provider") is not None:
        return ("provider", str(spec["provider"]), str(spec["model"]))
    return ("type", str(spec["type"]), str(spec["model"]))


def price_changes(wanted: list[dict[str, Any]], stored: list[dict[str, Any]], prune: bool) -> list[Change]:
    """Creates and updates for each wanted entry that differs from the stored one; with
    `prune`, deletes for each stored entry not wanted. Specs are in the file's shape, as
    PriceEntry.spec() normalises them (so equal prices give no change)."""
    have = {label(s): s for s in stored}
    changes: list[Change] = []
    for spec in wanted:
        old = have.get(label(spec))
        if old is None:
            changes.append(Change("price", label(spec), "create", spec=spec))
        elif diff := spec_diff(old, spec):
            changes.append(Change("price", label(spec), "update", diff=diff))
    if prune:
        names = {label(s) for s in wanted}
        changes += [Change("price", n, "delete") for n in sorted(have) if n not in names]
    return changes
