"""The gateway: the operators' REST API over the four services, with sign-in, roles and audit."""
