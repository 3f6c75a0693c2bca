"""Routing: which destinations a request tries, in what order, and which failures move on to
the next one (see docs/routing.md)."""
