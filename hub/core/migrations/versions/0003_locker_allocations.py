"""Locker allocations: the compartment an entry was sent to instead of going in.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "locker_allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(), nullable=False),
        sa.Column("connection_id", sa.String(), nullable=False),
        sa.Column("bank_id", sa.String(), nullable=False),
        sa.Column("allocation_id", sa.String(), nullable=False),
        sa.Column("locker_no", sa.String(), nullable=False),
        sa.Column("pin", sa.String(), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_locker_allocations_connection_id_connections")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name=op.f("fk_locker_allocations_entry_id_entries"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locker_allocations")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_locker_allocations_entry_id")),
        sa.UniqueConstraint(
            "connection_id", "allocation_id", name=op.f("uq_locker_allocations_connection_id_allocation_id")
        ),
    )
    op.create_index(op.f("ix_locker_allocations_valid_until"), "locker_allocations", ["valid_until"])


def downgrade() -> None:
    op.drop_index(op.f("ix_locker_allocations_valid_until"), table_name="locker_allocations")
    op.drop_table("locker_allocations")
