"""The billing service: catalog, subscriptions and the transaction ledger."""
