"""What operators watch: Prometheus metrics, OpenTelemetry traces, request logs, health probes."""
