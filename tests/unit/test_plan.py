"""The plan `unigate apply` shows: creates, field-level updates, deletes only when pruning, and
never a provider's api_key."""

from __future__ import annotations

from typing import Any

from unigate.governance.plan import make_plan, render_plan, spec_diff

P = {"name": "o", "type": "openai", "base_url": "https://api.openai.com/v1", "api_key": "sk-old-secret"}
E = {"name": "e", "destinations": [{"provider": "o", "model": "m", "traffic_percentage": 100}]}


def with_(spec: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**spec, **changes}


def test_equal_configurations_give_an_empty_plan() -> None:
    plan = make_plan([P], [E], [P], [E], prune=True)
    assert plan.empty
    assert render_plan(plan.to_json()).startswith("No changes")


def test_creates_and_field_level_updates() -> None:
    new_e = with_(E, destinations=[{"provider": "o", "model": "m2", "traffic_percentage": 100}], timeout="5s")
    other = {"name": "p2", "type": "anthropic", "base_url": "https://api.anthropic.com", "api_key": "sk-ant-x"}
    plan = make_plan([P, other], [new_e], [P], [E], prune=False)
    data = plan.to_json()
    assert data["summary"] == {"create": 1, "update": 1, "delete": 0}
    create = plan.of("provider", "create")[0]
    assert create.spec == {"name": "p2", "type": "anthropic", "base_url": "https://api.anthropic.com",
                           "api_key_set": True}
    update = plan.of("endpoint", "update")[0]
    assert update.diff == [{"field": "destinations[0].model", "old": "m", "new": "m2"},
                           {"field": "timeout", "old": None, "new": "5s"}]
    text = render_plan(data)
    assert "+ create provider p2" in text and "~ update endpoint e" in text
    assert "destinations[0].model: m -> m2" in text and "timeout: (none) -> 5s" in text
    assert "Plan: 1 to create, 1 to update, 0 to delete." in text


def test_api_key_changes_show_as_changed_never_the_value() -> None:
    plan = make_plan([with_(P, api_key="sk-new-secret")], [], [P], [], prune=False)
    assert plan.of("provider", "update")[0].diff == [{"field": "api_key", "old": "(hidden)", "new": "(changed)"}]
    removed = spec_diff(P, {k: v for k, v in P.items() if k != "api_key"})
    assert removed == [{"field": "api_key", "old": "(hidden)", "new": "(removed)"}]
    added = spec_diff({k: v for k, v in P.items() if k != "api_key"}, P)
    assert added == [{"field": "api_key", "old": None, "new": "(set)"}]
    text = render_plan(plan.to_json()) + str(plan.to_json())
    assert "secret" not in text and "api_key: (hidden) -> (changed)" in text


def test_deletes_only_when_pruning() -> None:
    extra = with_(E, name="old-endpoint")
    assert make_plan([P], [E], [P], [E, extra], prune=False).empty
    plan = make_plan([P], [E], [P], [E, extra], prune=True)
    assert [(c.kind, c.name, c.action) for c in plan.changes] == [("endpoint", "old-endpoint", "delete")]
    assert "- delete endpoint old-endpoint" in render_plan(plan.to_json())


def test_list_length_changes_and_plan_ids() -> None:
    two = with_(E, destinations=[{"provider": "o", "model": "m", "traffic_percentage": 50},
                                 {"provider": "o", "model": "n", "traffic_percentage": 50}])
    diff = spec_diff(E, two)
    assert {"field": "destinations[0].traffic_percentage", "old": 100, "new": 50} in diff
    assert {"field": "destinations[1]", "old": None,
            "new": {"provider": "o", "model": "n", "traffic_percentage": 50}} in diff
    a, b = make_plan([], [two], [P], [E], False), make_plan([], [two], [P], [E], False)
    assert a.plan_id() == b.plan_id() != make_plan([], [E], [P], [two], False).plan_id()
