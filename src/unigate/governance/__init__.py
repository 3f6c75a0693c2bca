"""Governance: who may query what, how much, and what it cost (permissions, rate limits,
usage and payload tables, audit)."""
