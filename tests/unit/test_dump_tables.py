"""An export holds every table the migrations create (a new table left out of TABLES would be
silently dropped by `unigate export`/`import`)."""
from __future__ import annotations

from pathlib import Path

from unigate.store.dump import TABLES
from unigate.store.open import open_store


def test_every_migrated_table_is_exported(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'u.db'}")
    store.migrate()
    names = {r[0] for r in store.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    assert names - {"schema_migrations"} == set(TABLES)
    assert len(TABLES) == len(set(TABLES))
