"""Job runs as Celery tasks: the ``partition`` of the job a run handled (``None``: the
whole job), the ``task_key`` a worker claims a task with (unique, so a task delivered
twice runs once; ``None``: a run in the scheduler's own process or a manual run), the
``tick`` (the scheduled time the task was enqueued for, shared by the partitions of one
run) and how many ``attempts`` claimed the key (more than 1: a worker took over the run
of one that died). See :mod:`hub.core.tasks`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("partition", sa.String(), nullable=True))
        batch.add_column(sa.Column("task_key", sa.String(), nullable=True))
        batch.add_column(sa.Column("tick", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="1", nullable=False))
        batch.create_unique_constraint(batch.f("uq_job_runs_task_key"), ["task_key"])
        batch.create_index("ix_job_runs_job_id_tick", ["job_id", "tick"])


def downgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_index("ix_job_runs_job_id_tick")
        batch.drop_constraint(batch.f("uq_job_runs_task_key"), type_="unique")
        batch.drop_column("attempts")
        batch.drop_column("tick")
        batch.drop_column("task_key")
        batch.drop_column("partition")
