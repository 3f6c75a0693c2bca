"""Wire-format codecs: one package per format, each translating in both directions.

A format is spoken by clients (as a *dialect*) and by upstreams (as a *provider* wire
format), so one package holds both directions. See `unigate.codecs.base` for the contract.
"""
