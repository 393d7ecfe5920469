"""The API's answers composed from the four services: one module per area, calling them through
their typed clients (`gateway.clients`) and checking what only the gateway can check."""
