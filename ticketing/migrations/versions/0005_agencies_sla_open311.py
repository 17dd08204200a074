"""Agency users, SLA marks and escalation, notifications, the mail outbox, Open311 keys and
outbound requests, the scheduler's fence.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("agency_code", sa.String(64), nullable=True))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("resolution_type", sa.String(32), nullable=True))
        batch.add_column(sa.Column("returned_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("returned_at", TZ, nullable=True))
        batch.add_column(sa.Column("sla_state", sa.String(16), nullable=False, server_default="ok"))
        batch.add_column(sa.Column("sla_next_at", TZ, nullable=True))
        batch.add_column(sa.Column("sla_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sla_levels", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch.create_index("ix_tickets_sla_next", ["sla_next_at"])
        batch.create_index("ix_tickets_sla_state", ["sla_state"])
        batch.create_index("ix_tickets_sla_version", ["sla_version"])
        batch.create_index("ix_tickets_updated_at", ["updated_at"])
    op.create_table(
        "sla_marks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("clock", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.UniqueConstraint("ticket_id", "clock", "level", name="uq_sla_marks"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("read_at", TZ, nullable=True),
    )
    op.create_index("ix_notifications_user_read", "notifications", ["user_id", "read_at"])
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["sent_at", "next_attempt_at"])
    op.create_table(
        "open311_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
    )
    op.create_table(
        "open311_outbound",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("agency_code", sa.String(64), nullable=False),
        sa.Column("remote_id", sa.String(100), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("remote_status", sa.String(16), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_open311_outbound_due", "open311_outbound", ["state", "next_attempt_at"])
    op.create_table(
        "scheduler_fences",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("fence", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in ("scheduler_fences", "open311_outbound", "open311_keys"):
        op.drop_table(table)
    op.drop_index("ix_mail_outbox_due", "mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_index("ix_notifications_user_read", "notifications")
    op.drop_table("notifications")
    op.drop_table("sla_marks")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_updated_at")
        batch.drop_index("ix_tickets_sla_version")
        batch.drop_index("ix_tickets_sla_state")
        batch.drop_index("ix_tickets_sla_next")
        for column in (
            "longitude",
            "latitude",
            "sla_levels",
            "sla_version",
            "sla_next_at",
            "sla_state",
            "returned_at",
            "returned_by",
            "resolution_type",
            "escalation_level",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("agency_code")
