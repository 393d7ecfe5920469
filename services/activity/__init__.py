"""The activity service: devices, favorites, watchlist, recordings; the device-limit read-model.

The rules live in one module per feature instead of one `service.py`: `devices.py`,
`saved_items.py` (favorites and watchlist), `recordings.py`, with `access.py` (the device limit
they share) and `customer_events.py` (other services' news, turned into calls to those modules).
Each is a few hundred lines at most over one `models.py`, so the split is by feature, not by
package; `handlers.py` (Kafka) and `router.py` (HTTP) only parse and call them.
"""
