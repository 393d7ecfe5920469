"""Tests of the gateway, in front of the four real services in-process (see services.py)."""
