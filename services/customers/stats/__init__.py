"""The service's dashboard figures (GET /stats)."""
