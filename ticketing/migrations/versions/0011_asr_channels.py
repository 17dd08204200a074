"""One transcript per side of a call-taker's conversation (issues 10 and 13).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_transcripts",
        sa.Column("recording_id", sa.Integer(), sa.ForeignKey("recordings.id"), primary_key=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_channel_transcripts_ticket", "channel_transcripts", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_channel_transcripts_ticket", "channel_transcripts")
    op.drop_table("channel_transcripts")
