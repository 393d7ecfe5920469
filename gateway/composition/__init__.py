"""The API's answers composed from the four services: one module per area, calling them through
`gateway.downstream` and checking what only the gateway can check."""
