"""The customers service: customers, their accounts and login, their subscription read-model."""
