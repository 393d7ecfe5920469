"""Unit tests of the gateway, with the services replaced by fakes."""
