"""HTTP layer: dependencies, problem responses, middleware and routes. Routes only parse, call a
service and return a ``shared.protocol`` model."""
