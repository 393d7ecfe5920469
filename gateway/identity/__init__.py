"""Who may call the gateway: operators and API keys, sign-in and its tokens, roles, the admin."""
