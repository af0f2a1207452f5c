"""Contributions: kinds, states pending/needs_info/approved/rejected/withdrawn, target offer, price sheet, messages

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 10:00:00.000000+00:00

The first `contributions` table (states pending/accepted/rejected, a free JSON payload) gets the
kind of change it proposes, the offer it is about, the first day of its prices, the price sheet's
link and a thread of messages; `accepted` becomes `approved`. Rows from before get the kind
`legacy` (they can only be rejected). Downgrade: `approved` goes back to `accepted`; needs_info
goes back to pending and withdrawn to rejected (the states the first table knew).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# tests/test_migrations.py: why the release before keeps working during a rolling update or after a rollback.
PREVIOUS_RELEASE_SAFE = ("The previous release mapped `contributions` in models/contributions.py but no code of it "
                         "(view, task or command) read or wrote a row; the constraints replaced here are only "
                         "checked on writes it never makes, and every column added has a default.")

STATUSES = "('pending', 'needs_info', 'approved', 'rejected', 'withdrawn')"
KINDS = "('new_provider', 'new_offer', 'price_change', 'rename_offer', 'legacy')"


def upgrade() -> None:
    op.add_column('contributions', sa.Column('kind', sa.String(length=16), server_default='legacy', nullable=False))
    op.add_column('contributions', sa.Column('offer_id', sa.Integer(), nullable=True))
    op.add_column('contributions', sa.Column('valid_from', sa.Date(), nullable=True))
    op.add_column('contributions', sa.Column('price_sheet_url', sa.String(length=500), server_default='',
                                             nullable=False))
    op.add_column('contributions', sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                                             nullable=False))
    op.alter_column('contributions', 'comment', server_default='')
    op.create_foreign_key(op.f('fk_contributions_offer_id_offers'), 'contributions', 'offers', ['offer_id'], ['id'],
                          ondelete='SET NULL')
    op.create_index('ix_contributions_status', 'contributions', ['status'], unique=False)

    op.drop_constraint(op.f('ck_contributions_status_known'), 'contributions', type_='check')
    op.drop_constraint(op.f('ck_contributions_reviewed_when_decided'), 'contributions', type_='check')
    op.execute("UPDATE contributions SET status = 'approved' WHERE status = 'accepted'")
    op.create_check_constraint(op.f('ck_contributions_status_known'), 'contributions', f"status IN {STATUSES}")
    op.create_check_constraint(op.f('ck_contributions_kind_known'), 'contributions', f"kind IN {KINDS}")
    op.create_check_constraint(op.f('ck_contributions_decided_when_reviewed'), 'contributions',
                               "(status IN ('approved', 'rejected')) = (reviewed_at IS NOT NULL)")

    op.create_table('contribution_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contribution_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('from_moderator', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_contribution_messages_author_id_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'],
                            name=op.f('fk_contribution_messages_contribution_id_contributions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contribution_messages'))
    )
    op.create_index(op.f('ix_contribution_messages_contribution_id'), 'contribution_messages', ['contribution_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_contribution_messages_contribution_id'), table_name='contribution_messages')
    op.drop_table('contribution_messages')
    op.drop_constraint(op.f('ck_contributions_decided_when_reviewed'), 'contributions', type_='check')
    op.drop_constraint(op.f('ck_contributions_kind_known'), 'contributions', type_='check')
    op.drop_constraint(op.f('ck_contributions_status_known'), 'contributions', type_='check')
    op.execute("UPDATE contributions SET status = 'accepted' WHERE status = 'approved'")
    op.execute("UPDATE contributions SET status = 'pending' WHERE status = 'needs_info'")
    op.execute("UPDATE contributions SET status = 'rejected', reviewed_at = coalesce(reviewed_at, now()) "
               "WHERE status = 'withdrawn'")
    op.create_check_constraint(op.f('ck_contributions_status_known'), 'contributions',
                               "status IN ('pending', 'accepted', 'rejected')")
    op.create_check_constraint(op.f('ck_contributions_reviewed_when_decided'), 'contributions',
                               "(status = 'pending') = (reviewed_at IS NULL)")
    op.drop_index('ix_contributions_status', table_name='contributions')
    op.drop_constraint(op.f('fk_contributions_offer_id_offers'), 'contributions', type_='foreignkey')
    op.alter_column('contributions', 'comment', server_default=None)
    op.drop_column('contributions', 'updated_at')
    op.drop_column('contributions', 'price_sheet_url')
    op.drop_column('contributions', 'valid_from')
    op.drop_column('contributions', 'offer_id')
    op.drop_column('contributions', 'kind')
