"""What every service needs alike: settings, database, outbox, inbox, dead letters, errors."""
