"""Usage (and later payload) accounting, written off the request path."""
