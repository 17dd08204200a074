"""Live call-takers (issue 13): the queue and the agent on the call record, the channel of a
two-channel recording, and callback requests.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CALL_COLUMNS = (
    ("queue_entered_at", sa.DateTime(timezone=True)),
    ("ringing_at", sa.DateTime(timezone=True)),
    ("agent_answered_at", sa.DateTime(timezone=True)),
    ("agent_username", sa.String(64)),
    ("wait_seconds", sa.Float()),
    ("talk_seconds", sa.Float()),
    ("hold_seconds", sa.Float()),
    ("wrapup_seconds", sa.Float()),
    ("priority", sa.String(8)),
    ("outcome", sa.String(24)),
    ("transfer_target", sa.String(100)),
)


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        for name, kind in _CALL_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_index("ix_calls_queue_entered_at", "calls", ["queue_entered_at"])
    op.create_index("ix_calls_agent_started", "calls", ["agent_username", "started_at"])
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("channel", sa.String(8), nullable=True))
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_id", sa.String(64), sa.ForeignKey("calls.id"), nullable=True),
        sa.Column("ticket_reference", sa.String(20), nullable=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue_position_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_outcome", sa.String(24), nullable=True),
        sa.Column("agent_username", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_callback_requests_state", "callback_requests", ["state", "queue_position_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_callback_requests_state", "callback_requests")
    op.drop_table("callback_requests")
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("channel")
    op.drop_index("ix_calls_agent_started", "calls")
    op.drop_index("ix_calls_queue_entered_at", "calls")
    with op.batch_alter_table("calls") as batch:
        for name, _kind in reversed(_CALL_COLUMNS):
            batch.drop_column(name)
