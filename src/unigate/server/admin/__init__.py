"""The admin REST API under /api/v1 (providers, endpoints, identities, tokens, grants, usage)."""
