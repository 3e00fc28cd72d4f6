"""Single-use credentials: a signed entry code's jti is accepted once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "single_use_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.String(), nullable=False),
        sa.Column("code_id", sa.String(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_single_use_codes_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_single_use_codes")),
        sa.UniqueConstraint("connection_id", "code_id", name=op.f("uq_single_use_codes_connection_id_code_id")),
    )
    op.create_index(op.f("ix_single_use_codes_expires_at"), "single_use_codes", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_single_use_codes_expires_at"), table_name="single_use_codes")
    op.drop_table("single_use_codes")
