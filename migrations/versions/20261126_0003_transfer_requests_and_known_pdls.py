"""Transfer requests and known PDLs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 01:33:49.659871+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('known_pdls',
    sa.Column('pdl', sa.String(length=14), nullable=False),
    sa.Column('last_holder_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("pdl ~ '^[0-9]{14}$'", name=op.f('ck_known_pdls_pdl_14_digits')),
    sa.ForeignKeyConstraint(['last_holder_id'], ['users.id'], name=op.f('fk_known_pdls_last_holder_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('pdl', name=op.f('pk_known_pdls'))
    )
    op.create_index(op.f('ix_known_pdls_last_holder_id'), 'known_pdls', ['last_holder_id'], unique=False)
    op.create_table('transfer_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pdl', sa.String(length=14), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=True),
    sa.Column('consent_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('resolution', sa.String(length=32), server_default='', nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name=op.f('ck_transfer_requests_decided_when_closed')),
    sa.CheckConstraint("pdl ~ '^[0-9]{14}$'", name=op.f('ck_transfer_requests_pdl_14_digits')),
    sa.CheckConstraint("resolution = '' OR resolution IN ('refused_by_holder', 'refused_by_admin', 'cancelled_by_requester', 'superseded', 'requester_consent_expired', 'accepted_by_holder', 'approved_by_admin', 'holder_consent_gone')", name=op.f('ck_transfer_requests_resolution_known')),
    sa.CheckConstraint("status IN ('pending', 'refused', 'cancelled', 'completed')", name=op.f('ck_transfer_requests_status_known')),
    sa.ForeignKeyConstraint(['consent_id'], ['enedis_consents.id'], name=op.f('fk_transfer_requests_consent_id_enedis_consents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_transfer_requests_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['holder_id'], ['users.id'], name=op.f('fk_transfer_requests_holder_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_transfer_requests_requester_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_requests'))
    )
    op.create_index(op.f('ix_transfer_requests_holder_id'), 'transfer_requests', ['holder_id'], unique=False)
    op.create_index(op.f('ix_transfer_requests_pdl'), 'transfer_requests', ['pdl'], unique=False)
    op.create_index(op.f('ix_transfer_requests_requester_id'), 'transfer_requests', ['requester_id'], unique=False)
    op.create_index('uq_transfer_requests_pending', 'transfer_requests', ['pdl', 'requester_id'], unique=True, postgresql_where=sa.text("status = 'pending'"))
    # Every PDL held today, with its holder; then those the audit log saw held by accounts
    # deleted since (no point left): their consent may still be live at Enedis.
    op.execute("INSERT INTO known_pdls (pdl, last_holder_id) SELECT pdl, user_id FROM usage_points")
    op.execute(
        "INSERT INTO known_pdls (pdl, last_holder_id) "
        "SELECT DISTINCT target, NULL::integer FROM audit_log "
        "WHERE action IN ('usage_point.added', 'usage_point.renewed', 'usage_point.transferred') "
        "AND target ~ '^[0-9]{14}$' "
        "ON CONFLICT (pdl) DO NOTHING")


def downgrade() -> None:
    op.drop_index('uq_transfer_requests_pending', table_name='transfer_requests', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index(op.f('ix_transfer_requests_requester_id'), table_name='transfer_requests')
    op.drop_index(op.f('ix_transfer_requests_pdl'), table_name='transfer_requests')
    op.drop_index(op.f('ix_transfer_requests_holder_id'), table_name='transfer_requests')
    op.drop_table('transfer_requests')
    op.drop_index(op.f('ix_known_pdls_last_holder_id'), table_name='known_pdls')
    op.drop_table('known_pdls')
