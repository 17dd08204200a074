"""Failures of the ticketing side during a live call: logged against the call, never raised into
it (a caller must not be cut off because Redis or the database hiccupped)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any


class CallGuard:
    """Mixin for the objects that drive one call (the queue's dispatcher, a conversation);
    logs on the subclass's own module logger, with the call id."""

    call_id: str

    def _guard(self, fn: Callable[[], Any], default: Any = None) -> Any:
        try:
            return fn()
        except Exception as exc:
            self._log_failure(exc)
            return default

    def _attempt(self, fn: Callable[[], object]) -> bool:
        try:
            fn()
        except Exception as exc:
            self._log_failure(exc)
            return False
        return True

    def _log_failure(self, exc: Exception) -> None:
        logging.getLogger(type(self).__module__).error(
            "call %s: %s: %s", self.call_id, type(exc).__name__, exc
        )
