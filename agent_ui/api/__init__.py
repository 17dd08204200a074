"""The JSON API under /api/v1 (bearer tokens or a signed-in console session)."""
