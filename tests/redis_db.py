"""Numbered databases of the suite's own redis-server (the session fixture ``redis_server``)."""

from __future__ import annotations

import redis

from ticketing.embedded_redis import EmbeddedRedis


def private_redis_db(server: EmbeddedRedis, db: int) -> str:
    """One numbered database of the suite's own redis-server, emptied: the suite needs no Redis
    on the machine (a fresh install has none running)."""
    if not server.running():
        server.start()
    url = f"{server.url}?db={db}"
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url
