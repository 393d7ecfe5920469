"""The tickets service: tickets with their conversation, and messages sent to customers."""
