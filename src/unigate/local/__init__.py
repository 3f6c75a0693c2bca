"""The `local` provider's model server: a small chat model (and embeddings from it) run on the
CPU from GGUF weights, in pure numpy, behind its own OpenAI-compatible HTTP surface. The
gateway starts it as a managed subprocess (unigate.local.process) so that all its workers share
one copy of the model. Needs the `local` extra: `pip install 'unigate[local]'`."""
