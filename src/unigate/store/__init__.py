"""Persistent state behind a narrow interface (SQLite is the embedded default)."""
