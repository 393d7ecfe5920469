"""The gateway's public request and response shapes (its own contract, apart from the services')."""
