"""The result-call outbox and its attempts (issue 12).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "result_calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_result_calls_ticket_id", "result_calls", ["ticket_id"])
    op.create_index("ix_result_calls_due", "result_calls", ["state", "next_attempt_at"])
    op.create_table(
        "result_call_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("result_call_id", sa.Integer(), sa.ForeignKey("result_calls.id"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("sip_status", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.UniqueConstraint("result_call_id", "number", name="uq_result_call_attempt"),
    )
    op.create_index("ix_result_call_attempts_ticket_id", "result_call_attempts", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_result_call_attempts_ticket_id", "result_call_attempts")
    op.drop_table("result_call_attempts")
    op.drop_index("ix_result_calls_due", "result_calls")
    op.drop_index("ix_result_calls_ticket_id", "result_calls")
    op.drop_table("result_calls")
