"""Covering indexes for the supervisor's backlog figures.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_tickets_status_urgent_due": ["status", "urgent", "resolve_due_at"],
    "ix_tickets_status_category": ["status", "category"],
    "ix_tickets_status_province": ["status", "province_code"],
    "ix_tickets_status_agency": ["status", "agency_code"],
    "ix_tickets_confirmed_at": ["confirmed_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "tickets", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="tickets")
