"""Budgets (issue 13): daily or monthly spend limits in USD for the whole gateway, an endpoint, a
principal, a group or a request tag, with alert thresholds (a webhook) and an optional block.

    spec           the `budgets:` entries (file, admin API, apply) and which requests they cover
    period         UTC days and months
    ledger         the counters' semantics (committed and spent, in nano-dollars); LocalLedger
    shared_ledger  the counters of one host's workers (shared memory)
    redis_ledger   the counters of several instances (Redis)
    alerts         thresholds reached, claimed once in the store, told by webhook
    engine         what the request path calls: reserve after the rate limits, settle at the end

docs/budgets.md describes the behaviour and the tolerance. Only `spec` is imported here: the
configuration parser needs it, the rest is loaded by the server."""
