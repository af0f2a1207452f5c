"""Durable backfills (windows planned and done, with the point) and tasks the broker could not take

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 10:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # New tables only: the previous release's code runs unchanged against this schema (it keeps its
    # backfill progress in Valkey; backfills it started have no row here and are not resumed by the check).
    op.create_table('backfills',
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('planned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('moved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resumes', sa.Integer(), server_default='0', nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['point_id'], ['usage_points.id'], name=op.f('fk_backfills_point_id_usage_points'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('point_id', name=op.f('pk_backfills'))
    )
    op.create_table('backfill_windows',
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('series', sa.String(length=32), nullable=False),
    sa.Column('start_day', sa.Date(), nullable=False),
    sa.Column('end_day', sa.Date(), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fetching_by', sa.String(length=200), nullable=True),
    sa.Column('fetching_since', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['point_id'], ['backfills.point_id'], name=op.f('fk_backfill_windows_point_id_backfills'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('point_id', 'series', 'start_day', 'end_day', name=op.f('pk_backfill_windows'))
    )
    op.create_table('unsent_tasks',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kwargs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('queue', sa.String(length=32), nullable=True),
    sa.Column('error', sa.String(length=200), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unsent_tasks'))
    )


def downgrade() -> None:
    op.drop_table('unsent_tasks')
    op.drop_table('backfill_windows')
    op.drop_table('backfills')
