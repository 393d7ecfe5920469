"""The customer's account: login, password, enabled or disabled."""
