"""Roles and what each may do: one table, each role a superset of the one below it."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    SUPPORT = "support"
    VIEWER = "viewer"


class Permission(StrEnum):
    CUSTOMERS_READ = "customers:read"
    CATALOG_READ = "catalog:read"
    # Tickets and the messages sent to customers.
    TICKETS_WRITE = "tickets:write"
    # Selling: adding customers, renewing and changing subscriptions, editing customers.
    CUSTOMERS_WRITE = "customers:write"
    CATALOG_WRITE = "catalog:write"
    OPERATORS_MANAGE = "operators:manage"
    API_KEYS_MANAGE = "api_keys:manage"
    AUDIT_READ = "audit:read"
    # Selling a trial product to a customer who already had it (once per customer otherwise).
    TRIALS_REPEAT = "subscriptions:repeat_trial"
    # The dead-letter topics: reading them (they hold customers' data) and replaying.
    DEAD_LETTERS_MANAGE = "dead_letters:manage"


_VIEWER = frozenset({Permission.CUSTOMERS_READ, Permission.CATALOG_READ})
_SUPPORT = _VIEWER | {Permission.TICKETS_WRITE}
_OPERATOR = _SUPPORT | {Permission.CUSTOMERS_WRITE}
_ADMIN = _OPERATOR | {
    Permission.CATALOG_WRITE,
    Permission.OPERATORS_MANAGE,
    Permission.API_KEYS_MANAGE,
    Permission.AUDIT_READ,
    Permission.TRIALS_REPEAT,
    Permission.DEAD_LETTERS_MANAGE,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.SUPPORT: _SUPPORT,
    Role.OPERATOR: _OPERATOR,
    Role.ADMIN: _ADMIN,
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
