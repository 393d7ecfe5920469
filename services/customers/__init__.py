"""The customers service: customers, their accounts and login, and a read-model of their subscription."""
