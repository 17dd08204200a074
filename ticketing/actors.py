"""Who performs a change: a signed-in user or a system component (ivr, asr, api token)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Actor:
    name: str  # written to the audit trail
    role: str  # agent, supervisor, admin, or system
    user_id: int | None = None
    provinces: tuple[str, ...] = field(default_factory=tuple)  # empty = every province
    # Set only for one logged "reveal" request of an admin (see TicketService.reveal).
    revealing: bool = False
    agency_code: str | None = None  # role agency: the one agency whose tickets it works

    @classmethod
    def system(cls, component: str) -> Actor:
        return cls(name=f"system:{component}", role="system")

    @property
    def is_system(self) -> bool:
        return self.role == "system"

    @property
    def scoped(self) -> bool:
        """Held to a list of provinces (every role may be: agents and supervisors alike)."""
        return bool(self.provinces) and not self.is_system

    def may_see_province(self, province_code: str | None) -> bool:
        """The one visibility rule (its SQL twin is ``ticketing.queries.visible_condition``):
        a scoped user sees their provinces and tickets with no province yet (fresh drafts); an
        agency user reads its own queue only, through ``ticketing.agency_work``."""
        if self.role == "agency":
            return False
        if not self.scoped:
            return True
        return province_code is None or province_code in self.provinces

    def may_place_in(self, province_code: str | None) -> bool:
        """Writes: a scoped user may create in, or move a ticket to, their provinces only."""
        return self.may_see_province(province_code)

    @property
    def sees_personal_data(self) -> bool:
        """Call-takers call citizens back and check IDs; supervisors and admins watch the work and
        manage accounts, so they see masked IDs and phone numbers (PDPA: need to know)."""
        return self.role in ("agent", "system") or self.revealing

    def for_reveal(self) -> Actor:
        return replace(self, revealing=True)
