"""Ordered, named schema migrations. Append only: never edit one that has shipped."""

MIGRATIONS: list[tuple[str, str]] = [
    ("0001_tokens", """
        CREATE TABLE tokens (
            token_id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            principal TEXT NOT NULL,
            principal_type TEXT NOT NULL,
            comment TEXT,
            created_at REAL NOT NULL,
            expires_at REAL,
            revoked_at REAL,
            last_used_at REAL
        );
    """),
    ("0002_usage", """
        CREATE TABLE usage (
            request_id TEXT PRIMARY KEY,
            event_time REAL NOT NULL,
            endpoint_name TEXT,
            api_type TEXT,
            url TEXT,
            requester TEXT,
            requester_type TEXT,
            user_agent TEXT,
            destination_provider TEXT,
            destination_model TEXT,
            status_code INTEGER,
            error_code TEXT,
            streaming INTEGER,
            latency_ms REAL,
            time_to_first_byte_ms REAL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            total_tokens INTEGER,
            cache_read_input_tokens INTEGER,
            cache_creation_input_tokens INTEGER,
            reasoning_tokens INTEGER,
            usage_estimated INTEGER,
            request_tags TEXT,
            routing_information TEXT
        );
        CREATE INDEX usage_time ON usage(event_time);
        CREATE INDEX usage_endpoint_time ON usage(endpoint_name, event_time);
    """),
]
