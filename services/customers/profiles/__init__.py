"""Viewer profiles of an account: the table, the rules and the HTTP routes."""
