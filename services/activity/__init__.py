"""The activity service: devices, favorites, watchlist, recordings; the device-limit read-model."""
