"""SQL over the identity tables of migration 0003: users, service principals, groups and their
members, tokens, endpoint grants and the audit log. Synchronous like Store: handlers call
these through asyncio.to_thread. Writes that change what the request path uses bump the
configuration version so every worker reloads its snapshot within a second."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from unigate.store.base import Store, hash_token, new_token

ADMINS_GROUP = "admins"
LEVELS = ("CAN_QUERY", "CAN_MANAGE")
PRINCIPAL_TYPES = ("user", "service_principal", "group")
Statements = list[tuple[str, tuple[Any, ...]]]


class Missing(LookupError):
    """An object named in a request does not exist; the message names it."""


class Clash(ValueError):
    """The change would conflict with what is stored (duplicate, cycle, built-in object)."""


@dataclass(frozen=True, slots=True)
class Member:
    type: str  # user | service_principal | group
    name: str


# --- users and service principals ----------------------------------------------------------

def list_users(store: Store) -> list[dict[str, Any]]:
    rows = store.execute("SELECT email, display_name, created_at FROM users ORDER BY email")
    return [{"email": e, "display_name": d, "created_at": c} for e, d, c in rows]


def get_user(store: Store, email: str) -> dict[str, Any] | None:
    rows = store.execute("SELECT email, display_name, created_at FROM users WHERE email = ?", (email,))
    return {"email": rows[0][0], "display_name": rows[0][1], "created_at": rows[0][2]} if rows else None


def create_user(store: Store, email: str, display_name: str | None) -> dict[str, Any]:
    if get_user(store, email) is not None:
        raise Clash(f"user '{email}' already exists")
    now = time.time()
    store.transaction([("INSERT INTO users (email, display_name, created_at) VALUES (?, ?, ?)",
                        (email, display_name, now))], bump=False)
    return {"email": email, "display_name": display_name, "created_at": now}


def list_service_principals(store: Store) -> list[dict[str, Any]]:
    rows = store.execute("SELECT application_id, display_name, created_at FROM service_principals "
                         "ORDER BY display_name, application_id")
    return [{"application_id": a, "display_name": d, "created_at": c} for a, d, c in rows]


def get_service_principal(store: Store, application_id: str) -> dict[str, Any] | None:
    rows = store.execute("SELECT application_id, display_name, created_at FROM service_principals "
                         "WHERE application_id = ?", (application_id,))
    return {"application_id": rows[0][0], "display_name": rows[0][1], "created_at": rows[0][2]} if rows else None


def create_service_principal(store: Store, display_name: str) -> dict[str, Any]:
    app_id, now = str(uuid.uuid4()), time.time()
    store.transaction([("INSERT INTO service_principals (application_id, display_name, created_at) "
                        "VALUES (?, ?, ?)", (app_id, display_name, now))], bump=False)
    return {"application_id": app_id, "display_name": display_name, "created_at": now}


def delete_principal(store: Store, ptype: str, name: str) -> int:
    """Deletes a user or service principal with everything hanging off it: its tokens are revoked,
    its memberships, grants and OAuth secrets removed. Returns how many tokens were revoked."""
    table, key = ("users", "email") if ptype == "user" else ("service_principals", "application_id")
    if not store.execute(f"SELECT 1 FROM {table} WHERE {key} = ?", (name,)):
        raise Missing(f"{ptype.replace('_', ' ')} '{name}' does not exist")
    live = store.execute("SELECT COUNT(*) FROM tokens WHERE principal = ? AND principal_type = ? "
                         "AND revoked_at IS NULL", (name, ptype))[0][0]
    store.transaction([
        (f"DELETE FROM {table} WHERE {key} = ?", (name,)),
        ("UPDATE tokens SET revoked_at = ? WHERE principal = ? AND principal_type = ? AND revoked_at IS NULL",
         (time.time(), name, ptype)),
        ("DELETE FROM group_members WHERE member_type = ? AND member = ?", (ptype, name)),
        ("DELETE FROM grants WHERE principal_type = ? AND principal = ?", (ptype, name)),
        ("DELETE FROM mcp_grants WHERE principal_type = ? AND principal = ?", (ptype, name)),
        *([("DELETE FROM service_principal_secrets WHERE application_id = ?", (name,))]
          if ptype == "service_principal" else []),
    ])
    return int(live)


def principal_type_of(store: Store, name: str) -> str | None:
    """What a token's `principal` names: a user (by email) or a service principal (by id)."""
    if store.execute("SELECT 1 FROM users WHERE email = ?", (name,)):
        return "user"
    if store.execute("SELECT 1 FROM service_principals WHERE application_id = ?", (name,)):
        return "service_principal"
    return None


def require_exists(store: Store, member: Member) -> None:
    table, key = {"user": ("users", "email"), "service_principal": ("service_principals", "application_id"),
                  "group": ("groups", "name")}[member.type]
    if not store.execute(f"SELECT 1 FROM {table} WHERE {key} = ?", (member.name,)):
        raise Missing(f"{member.type.replace('_', ' ')} '{member.name}' does not exist")


# --- groups ----------------------------------------------------------------------------------

def _members(store: Store, group: str | None = None) -> dict[str, list[Member]]:
    sql = "SELECT group_name, member_type, member FROM group_members"
    rows = store.execute(sql + " WHERE group_name = ?", (group,)) if group else store.execute(sql)
    out: dict[str, list[Member]] = {}
    for g, t, m in sorted(rows):
        out.setdefault(g, []).append(Member(t, m))
    return out


def list_groups(store: Store) -> list[dict[str, Any]]:
    members = _members(store)
    return [{"name": n, "created_at": c, "builtin": n == ADMINS_GROUP, "members": members.get(n, [])}
            for n, c in store.execute("SELECT name, created_at FROM groups ORDER BY name")]


def get_group(store: Store, name: str) -> dict[str, Any] | None:
    rows = store.execute("SELECT name, created_at FROM groups WHERE name = ?", (name,))
    if not rows:
        return None
    return {"name": name, "created_at": rows[0][1], "builtin": name == ADMINS_GROUP,
            "members": _members(store, name).get(name, [])}


def _check_cycle(store: Store, group: str, members: set[Member]) -> None:
    """Refuses a membership set under which `group` would (transitively) contain itself."""
    edges: dict[str, set[str]] = {}
    for g, ms in _members(store).items():
        edges[g] = {m.name for m in ms if m.type == "group"}
    edges[group] = {m.name for m in members if m.type == "group"}
    todo, seen = list(edges[group]), set()
    while todo:
        g = todo.pop()
        if g == group:
            raise Clash(f"group '{group}' would contain itself (nesting cycle through '{g}')")
        if g not in seen:
            seen.add(g)
            todo.extend(edges.get(g, ()))


def _membership_statements(group: str, old: set[Member], new: set[Member]) -> Statements:
    stmts: Statements = [("DELETE FROM group_members WHERE group_name = ? AND member_type = ? AND member = ?",
                          (group, m.type, m.name)) for m in sorted(old - new, key=str)]
    stmts += [("INSERT INTO group_members (group_name, member_type, member) VALUES (?, ?, ?)",
               (group, m.type, m.name)) for m in sorted(new - old, key=str)]
    return stmts


def create_group(store: Store, name: str, members: list[Member]) -> dict[str, Any]:
    if get_group(store, name) is not None:
        raise Clash(f"group '{name}' already exists")
    for m in members:
        if m != Member("group", name):
            require_exists(store, m)
    wanted = set(members)
    _check_cycle(store, name, wanted)
    store.transaction([("INSERT INTO groups (name, created_at) VALUES (?, ?)", (name, time.time()))]
                      + _membership_statements(name, set(), wanted))
    group = get_group(store, name)
    assert group is not None
    return group


def set_group_members(store: Store, name: str, add: list[Member], remove: list[Member],
                      replace: bool = False) -> dict[str, Any]:
    """Adds and removes members (or, with `replace`, makes `add` the whole membership)."""
    group = get_group(store, name)
    if group is None:
        raise Missing(f"group '{name}' does not exist")
    for m in add:
        require_exists(store, m)
    old = set(group["members"])
    new = (set(add) if replace else (old | set(add))) - set(remove)
    _check_cycle(store, name, new)
    stmts = _membership_statements(name, old, new)
    if stmts:
        store.transaction(stmts)
    result = get_group(store, name)
    assert result is not None
    return result


def delete_group(store: Store, name: str) -> None:
    if name == ADMINS_GROUP:
        raise Clash(f"group '{ADMINS_GROUP}' is built in and cannot be deleted")
    if get_group(store, name) is None:
        raise Missing(f"group '{name}' does not exist")
    store.transaction([
        ("DELETE FROM group_members WHERE group_name = ?", (name,)),
        ("DELETE FROM group_members WHERE member_type = 'group' AND member = ?", (name,)),
        ("DELETE FROM grants WHERE principal_type = 'group' AND principal = ?", (name,)),
        ("DELETE FROM mcp_grants WHERE principal_type = 'group' AND principal = ?", (name,)),
        ("DELETE FROM groups WHERE name = ?", (name,)),
    ])


# --- tokens ----------------------------------------------------------------------------------

TOKEN_COLUMNS = ("token_id", "principal", "principal_type", "comment", "created_at", "expires_at",
                 "last_used_at", "revoked_at")


def create_token(store: Store, principal: str, principal_type: str, comment: str | None,
                 lifetime_seconds: float | None) -> dict[str, Any]:
    """Like Store.create_token (only the hash is kept), but bumps the configuration version
    so the workers learn the new token within a second. The token is in the result only."""
    token, token_id, now = new_token(), secrets.token_hex(8), time.time()
    expires = now + lifetime_seconds if lifetime_seconds else None
    store.transaction([("INSERT INTO tokens (token_id, token_hash, principal, principal_type, comment,"
                        " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (token_id, hash_token(token), principal, principal_type, comment, now, expires))])
    return {"token_id": token_id, "token": token, "principal": principal, "principal_type": principal_type,
            "comment": comment, "created_at": now, "expires_at": expires}


def list_tokens(store: Store, principal: str | None = None,
                include_revoked: bool = False) -> list[dict[str, Any]]:
    """Token metadata: never the token or its hash."""
    where, args = [], []
    if principal is not None:
        where.append("principal = ?")
        args.append(principal)
    if not include_revoked:
        where.append("revoked_at IS NULL")
    sql = f"SELECT {', '.join(TOKEN_COLUMNS)} FROM tokens"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = store.execute(sql + " ORDER BY created_at", args)
    return [dict(zip(TOKEN_COLUMNS, r, strict=True)) for r in rows]


def get_token(store: Store, token_id: str) -> dict[str, Any] | None:
    rows = store.execute(f"SELECT {', '.join(TOKEN_COLUMNS)} FROM tokens WHERE token_id = ?", (token_id,))
    return dict(zip(TOKEN_COLUMNS, rows[0], strict=True)) if rows else None


def revoke_token(store: Store, token_id: str) -> dict[str, Any]:
    """Sets revoked_at (once); the bump makes every worker refuse the token within a second."""
    row = get_token(store, token_id)
    if row is None:
        raise Missing(f"token '{token_id}' does not exist")
    if row["revoked_at"] is None:
        now = time.time()
        store.transaction([("UPDATE tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                            (now, token_id))])
        row["revoked_at"] = now
    return row


# --- grants ----------------------------------------------------------------------------------

def endpoint_exists(store: Store, name: str) -> bool:
    return bool(store.execute("SELECT 1 FROM endpoints WHERE name = ?", (name,)))


def all_memberships(store: Store) -> list[tuple[str, str, str]]:
    """Every (group, member type, member): what the workers' snapshot resolves groups from."""
    return [(r[0], r[1], r[2]) for r in store.execute("SELECT group_name, member_type, member FROM group_members")]


def all_grants(store: Store) -> list[tuple[str, str, str, str]]:
    """Every (endpoint, principal type, principal, level)."""
    return [(r[0], r[1], r[2], r[3]) for r in
            store.execute("SELECT endpoint, principal_type, principal, level FROM grants")]


def all_mcp_grants(store: Store) -> list[tuple[str, str, str, frozenset[str] | None]]:
    """Every (MCP service, principal type, principal, tools): tools None = every tool."""
    return [(r[0], r[1], r[2], None if r[3] is None else frozenset(json.loads(r[3]))) for r in
            store.execute("SELECT service, principal_type, principal, tools FROM mcp_grants")]


def mcp_service_exists(store: Store, name: str) -> bool:
    return bool(store.execute("SELECT 1 FROM mcp_services WHERE name = ?", (name,)))


def get_mcp_grants(store: Store, service: str) -> list[tuple[Member, list[str] | None]]:
    rows = store.execute("SELECT principal_type, principal, tools FROM mcp_grants WHERE service = ? "
                         "ORDER BY principal_type, principal", (service,))
    return [(Member(t, p), None if tools is None else json.loads(tools)) for t, p, tools in rows]


def set_mcp_grants(store: Store, service: str, acl: list[tuple[Member, list[str] | None]],
                   replace: bool) -> None:
    """CAN_USE grants on an MCP service, each for every tool (None) or the tools named."""
    for member, _ in acl:
        require_exists(store, member)
    stmts: Statements = [("DELETE FROM mcp_grants WHERE service = ?", (service,))] if replace else []
    stmts += [("INSERT INTO mcp_grants (service, principal_type, principal, level, tools) "
               "VALUES (?, ?, ?, 'CAN_USE', ?) ON CONFLICT (service, principal_type, principal) "
               "DO UPDATE SET tools = excluded.tools",
               (service, m.type, m.name, None if tools is None else json.dumps(sorted(set(tools)))))
              for m, tools in acl]
    store.transaction(stmts)


def get_grants(store: Store, endpoint: str) -> list[tuple[Member, str]]:
    rows = store.execute("SELECT principal_type, principal, level FROM grants WHERE endpoint = ? "
                         "ORDER BY principal_type, principal", (endpoint,))
    return [(Member(t, p), level) for t, p, level in rows]


def set_grants(store: Store, endpoint: str, acl: list[tuple[Member, str]], replace: bool) -> None:
    """Replaces the endpoint's grants with `acl` (or, without `replace`, adds/updates entries)."""
    for member, _ in acl:
        require_exists(store, member)
    stmts: Statements = [("DELETE FROM grants WHERE endpoint = ?", (endpoint,))] if replace else []
    stmts += [("INSERT INTO grants (endpoint, principal_type, principal, level) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (endpoint, principal_type, principal) DO UPDATE SET level = excluded.level",
               (endpoint, m.type, m.name, level)) for m, level in acl]
    store.transaction(stmts)


# --- audit log -------------------------------------------------------------------------------

def audit_entries(store: Store, limit: int = 100, actor: str | None = None, action: str | None = None,
                  target: str | None = None, offset: int = 0, start: float | None = None,
                  end: float | None = None) -> list[dict[str, Any]]:
    """Newest first. `action` ending in '.' or '*' matches a prefix ('token.' = every token change);
    `start` (inclusive) and `end` (exclusive) bound the time, in unix seconds."""
    where: list[str] = []
    args: list[Any] = []
    for clause, bound in (("event_time >= ?", start), ("event_time < ?", end)):
        if bound is not None:
            where.append(clause)
            args.append(bound)
    for column, value in (("actor", actor), ("target", target)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if action is not None:
        if action.endswith(("*", ".")):
            where.append("action LIKE ? ESCAPE '\\'")
            prefix = action.rstrip("*").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(prefix + "%")
        else:
            where.append("action = ?")
            args.append(action)
    sql = "SELECT id, event_time, actor, action, target, details FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = store.execute(sql + " ORDER BY id DESC LIMIT ? OFFSET ?", (*args, limit, offset))
    return [{"id": i, "event_time": t, "actor": a, "action": act, "target": tg,
             "details": json.loads(d) if d else None} for i, t, a, act, tg, d in rows]
