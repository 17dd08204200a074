"""What a province-scoped supervisor sees of the live queue (issue 13; the scope of issue 9).

The choice, as a regional supervisor of a national contact centre expects it:

* **agents**: those who work one of the supervisor's provinces, and those with no province
  scope (the centre-wide pool answers every province's callers, so a regional supervisor
  watches them too) — the rule ``GET /api/v1/agents`` already follows
  (:meth:`ticketing.agents.AgentPresenceService.list_agents`). A name that is not an active
  call-taker is out of scope;
* **calls** (``GET /api/v1/calls``, the wallboard's "today" figures, "calls with agents"): the
  calls answered by those agents, or whose draft is in one of the provinces. A caller who hung
  up in the queue before saying where they are has a draft with no province yet: such a call
  counts only centre-wide (it cannot be placed in a province);
* **centre-wide, labelled so**: the one national queue — callers waiting, the oldest wait,
  callbacks waiting, the hold-time estimate — and the calls in the IVR and the IVR nodes alive.
  A regional supervisor needs the pressure their agents face; none of it names a caller;
* **live events** (SSE): an event about an agent (``agent.state``, a call event carrying
  ``agent``) reaches a scoped supervisor only for agents in scope; events about a ticket follow
  the ticket's province as before (``agent_ui.console.live.visible_to``).

Unscoped supervisors and admins see everything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ticketing.models import Role, User

SCOPES_SECONDS = 30.0  # agents' province scopes change rarely: read again this often


def agent_in_scope(agent_provinces: Collection[str] | None, provinces: Collection[str]) -> bool:
    """Whether an agent (their own scope; None: not an active call-taker) is seen by a viewer
    scoped to ``provinces`` (empty: unscoped, sees everyone)."""
    if not provinces:
        return True
    if agent_provinces is None:
        return False
    return not agent_provinces or bool(set(agent_provinces) & set(provinces))


class AgentScopes:
    """The active call-takers' province scopes, read at most every :data:`SCOPES_SECONDS`."""

    def __init__(self, sessions: sessionmaker[Session], ttl_seconds: float = SCOPES_SECONDS):
        self._sessions = sessions
        self.ttl_seconds = ttl_seconds
        self._cached: tuple[float, dict[str, tuple[str, ...]]] | None = None
        self._lock = threading.Lock()

    def all(self) -> dict[str, tuple[str, ...]]:
        with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() - cached[0] < self.ttl_seconds:
                return cached[1]
            with self._sessions() as session:
                rows = session.execute(
                    select(User.username, User.provinces).where(
                        User.role == Role.AGENT, User.active.is_(True)
                    )
                ).all()
            scopes = {name: tuple(own or ()) for name, own in rows}
            self._cached = (time.monotonic(), scopes)
            return scopes

    def visible(self, provinces: Collection[str]) -> set[str] | None:
        """The agents a viewer scoped to ``provinces`` sees; None: everyone (unscoped)."""
        if not provinces:
            return None
        return {name for name, own in self.all().items() if agent_in_scope(own, provinces)}
