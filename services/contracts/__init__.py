"""Versioned pydantic models of every message on every topic: the one place the contracts live."""
