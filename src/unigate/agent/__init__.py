"""Agent loops the gateway runs itself: hosted tools (MCP servers) on the Responses API."""
