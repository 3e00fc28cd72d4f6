"""Feedback: reports from riders, residents, platforms, the property company and guards,
with a status and answers (``feedback_responses``).

Replaces the initial migration's ``feedback`` table (an entry, a rating and a text, which
the hub never wrote). Rows it may hold are kept as open reports from riders in the
category ``other``, their rating written before the text; the link to an entry is not
kept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Where the old table's rows wait while the table is replaced.
_HOLD = "feedback_0005"


def upgrade() -> None:
    op.execute(f"CREATE TABLE {_HOLD} AS SELECT id, community_id, rating, text, created_at FROM feedback")
    op.drop_index(op.f("ix_feedback_community_id"), table_name="feedback")
    op.drop_table("feedback")

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.String(), nullable=False),
        sa.Column("gate_id", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("connection_id", sa.String(), nullable=True),
        sa.Column("external_ref", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('rider', 'resident', 'platform', 'property', 'guard')", name=op.f("ck_feedback_source")
        ),
        sa.CheckConstraint(
            "category IN ('access', 'route', 'parking', 'safety', 'conduct', 'other')",
            name=op.f("ck_feedback_category"),
        ),
        sa.CheckConstraint("status IN ('open', 'in_progress', 'resolved', 'closed')", name=op.f("ck_feedback_status")),
        sa.CheckConstraint("external_ref IS NULL OR connection_id IS NOT NULL", name=op.f("ck_feedback_external_ref")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_feedback_community_id_communities")
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_feedback_connection_id_connections")
        ),
        sa.ForeignKeyConstraint(["gate_id"], ["gates.id"], name=op.f("fk_feedback_gate_id_gates"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("connection_id", "external_ref", name=op.f("uq_feedback_connection_id_external_ref")),
    )
    op.create_index("ix_feedback_community_id_created_at", "feedback", ["community_id", "created_at"])
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])
    op.create_table(
        "feedback_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shared_with_reporter", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
            name=op.f("fk_feedback_responses_feedback_id_feedback"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_responses")),
    )
    op.create_index(op.f("ix_feedback_responses_feedback_id"), "feedback_responses", ["feedback_id"])

    op.execute(
        "INSERT INTO feedback (id, community_id, gate_id, source, category, body, contact, connection_id, "
        "external_ref, status, created_at, updated_at) "
        "SELECT id, community_id, NULL, 'rider', 'other', "
        "CASE WHEN rating IS NULL THEN text ELSE '(' || CAST(rating AS VARCHAR) || ') ' || text END, "
        f"'', NULL, NULL, 'open', created_at, created_at FROM {_HOLD}"
    )
    op.drop_table(_HOLD)
    _continue_ids("feedback")


def downgrade() -> None:
    op.execute(f"CREATE TABLE {_HOLD} AS SELECT id, community_id, body, created_at FROM feedback")
    op.drop_index(op.f("ix_feedback_responses_feedback_id"), table_name="feedback_responses")
    op.drop_table("feedback_responses")
    op.drop_index("ix_feedback_created_at", table_name="feedback")
    op.drop_index("ix_feedback_community_id_created_at", table_name="feedback")
    op.drop_table("feedback")

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(), nullable=True),
        sa.Column("community_id", sa.String(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name=op.f("fk_feedback_community_id_communities")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["entries.id"], name=op.f("fk_feedback_entry_id_entries"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_community_id"), "feedback", ["community_id"])
    op.execute(
        "INSERT INTO feedback (id, entry_id, community_id, rating, text, created_at) "
        f"SELECT id, NULL, community_id, NULL, body, created_at FROM {_HOLD}"
    )
    op.drop_table(_HOLD)
    _continue_ids("feedback")


def _continue_ids(table: str) -> None:
    """After rows were copied with their ids, PostgreSQL's sequence must continue after
    the largest (SQLite's rowid does so by itself)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}")
