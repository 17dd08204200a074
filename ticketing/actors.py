"""Who performs a change: a signed-in user or a system component (ivr, asr, api token)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    name: str  # written to the audit trail
    role: str  # agent, supervisor, admin, or system
    user_id: int | None = None
    provinces: tuple[str, ...] = field(default_factory=tuple)  # empty = every province
    agency_code: str | None = None  # role agency: the one agency whose tickets it works

    @classmethod
    def system(cls, component: str) -> Actor:
        return cls(name=f"system:{component}", role="system")

    @property
    def is_system(self) -> bool:
        return self.role == "system"

    def may_see_province(self, province_code: str | None) -> bool:
        if self.role == "agency":
            return False  # an agency sees its own queue only (ticketing/agency_work.py)
        if not self.provinces or self.role in ("supervisor", "admin", "system"):
            return True
        return province_code is None or province_code in self.provinces

    @property
    def sees_personal_data(self) -> bool:
        """Call-takers call citizens back and check IDs; supervisors and admins watch the work and
        manage accounts, so they see masked IDs and phone numbers (PDPA: need to know)."""
        return self.role in ("agent", "system")
