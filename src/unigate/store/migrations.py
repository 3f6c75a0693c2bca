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
    ("0003_governance", """
        CREATE TABLE users (
            email TEXT PRIMARY KEY,
            display_name TEXT,
            created_at REAL NOT NULL
        );
        CREATE TABLE service_principals (
            application_id TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE groups (
            name TEXT PRIMARY KEY,
            created_at REAL NOT NULL
        );
        CREATE TABLE group_members (
            group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
            member_type TEXT NOT NULL,
            member TEXT NOT NULL,
            PRIMARY KEY (group_name, member_type, member)
        );
        CREATE TABLE providers (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE endpoints (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE grants (
            endpoint TEXT NOT NULL,
            principal_type TEXT NOT NULL,
            principal TEXT NOT NULL,
            level TEXT NOT NULL,
            PRIMARY KEY (endpoint, principal_type, principal)
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event_time REAL NOT NULL,
            actor TEXT,
            action TEXT NOT NULL,
            target TEXT,
            details TEXT
        );
        CREATE TABLE payloads (
            request_id TEXT PRIMARY KEY,
            event_time REAL NOT NULL,
            endpoint_name TEXT,
            requester TEXT,
            status_code INTEGER,
            latency_ms REAL,
            request_body TEXT,
            response_body TEXT,
            not_stored_reason TEXT
        );
        CREATE INDEX payloads_endpoint_time ON payloads(endpoint_name, event_time);
        CREATE TABLE config_version (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL
        );
        INSERT INTO config_version VALUES (1, 1);
        INSERT INTO groups VALUES ('admins', 0);
    """),
    ("0004_usage_attribution", """
        ALTER TABLE usage ADD COLUMN client_name TEXT;
        ALTER TABLE usage ADD COLUMN client_version TEXT;
        ALTER TABLE usage ADD COLUMN session_id TEXT;
        ALTER TABLE usage ADD COLUMN dropped_parameters TEXT;
        ALTER TABLE usage ADD COLUMN emulated_parameters TEXT;
        CREATE INDEX usage_session ON usage(session_id) WHERE session_id IS NOT NULL;
    """),
    ("0005_responses", """
        CREATE TABLE responses (
            response_id TEXT PRIMARY KEY,
            endpoint_name TEXT NOT NULL,
            principal TEXT NOT NULL,
            principal_type TEXT NOT NULL,
            status TEXT NOT NULL,
            background INTEGER NOT NULL,
            owner TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            items TEXT NOT NULL,
            response TEXT NOT NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX responses_created ON responses(created_at);
    """),
    ("0006_mcp_services", """
        CREATE TABLE mcp_services (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE mcp_grants (
            service TEXT NOT NULL,
            principal_type TEXT NOT NULL,
            principal TEXT NOT NULL,
            level TEXT NOT NULL,
            tools TEXT,
            PRIMARY KEY (service, principal_type, principal)
        );
    """),
    ("0007_mcp_usage", """
        ALTER TABLE usage ADD COLUMN mcp_service TEXT;
        ALTER TABLE usage ADD COLUMN mcp_tool TEXT;
        CREATE INDEX usage_mcp_service ON usage(mcp_service, event_time) WHERE mcp_service IS NOT NULL;
    """),
    ("0008_usage_guardrails_cost", """
        ALTER TABLE usage ADD COLUMN guardrails TEXT;
        ALTER TABLE usage ADD COLUMN cost_usd REAL;
    """),
    # The operator's prices (accounting.prices): one per (scope, owner, model), scope "provider"
    # (owner: a provider's name) or "type" (owner: a provider type); spec in the file's shape.
    ("0009_prices", """
        CREATE TABLE prices (
            scope TEXT NOT NULL,
            owner TEXT NOT NULL,
            model TEXT NOT NULL,
            spec TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (scope, owner, model)
        );
    """),
    # Spend budgets (governance.budgets): specs in the file's entry shape; the alerts each
    # period has had (the primary key lets one worker of one instance send each).
    ("0010_budgets", """
        CREATE TABLE budgets (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE budget_alerts (
            budget TEXT NOT NULL,
            period_start INTEGER NOT NULL,
            threshold REAL NOT NULL,
            limit_usd REAL NOT NULL,
            spent_usd REAL NOT NULL,
            claimed_at REAL NOT NULL,
            delivered_at REAL,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            PRIMARY KEY (budget, period_start, threshold, limit_usd)
        );
    """),
    # OAuth M2M client secrets of service principals (server.databricks.oauth): only the hash
    # is kept, like tokens; the access tokens they buy live in `tokens`.
    ("0011_service_principal_secrets", """
        CREATE TABLE service_principal_secrets (
            secret_id TEXT PRIMARY KEY,
            application_id TEXT NOT NULL,
            secret_hash TEXT NOT NULL UNIQUE,
            create_time REAL NOT NULL,
            expire_time REAL,
            last_used_time REAL
        );
        CREATE INDEX service_principal_secrets_sp ON service_principal_secrets(application_id);
    """),
]
