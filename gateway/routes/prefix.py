"""The API's version prefix, written into each router so a route's path is its full path
(FastAPI 0.163 keeps an included router's prefix out of `route.path`, which metrics use)."""

API_PREFIX = "/api/v1"
