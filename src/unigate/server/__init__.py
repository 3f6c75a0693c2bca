"""The HTTP service: app factory, routes per API surface, the request pipeline, workers."""
