"""Usage point status: active or consent needed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 23:59:33.016439+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('usage_points', sa.Column('status', sa.String(length=16), server_default='active', nullable=False))
    op.add_column('usage_points', sa.Column('status_reason', sa.String(length=200), server_default='', nullable=False))
    # Autogenerate does not compare CHECK constraints: written by hand.
    op.create_check_constraint(op.f('ck_usage_points_status_known'), 'usage_points',
                               "status IN ('active', 'consent_needed')")


def downgrade() -> None:
    op.drop_constraint(op.f('ck_usage_points_status_known'), 'usage_points', type_='check')
    op.drop_column('usage_points', 'status_reason')
    op.drop_column('usage_points', 'status')
