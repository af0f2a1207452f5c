"""Initial schema: accounts, usage points, consents, offers, RTE data, audit

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 23:48:11.983101+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ecowatt_signals',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dvalue', sa.SmallInteger(), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('hvalues', postgresql.ARRAY(sa.SmallInteger()), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('cardinality(hvalues) BETWEEN 23 AND 25', name=op.f('ck_ecowatt_signals_hourly_values')),
    sa.CheckConstraint('dvalue BETWEEN 1 AND 3', name=op.f('ck_ecowatt_signals_dvalue_range')),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_ecowatt_signals'))
    )
    op.create_table('national_consumption',
    sa.Column('series', sa.String(length=8), nullable=False),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value_mw', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("series IN ('REALISED', 'ID', 'D-1', 'D-2')", name=op.f('ck_national_consumption_series_known')),
    sa.CheckConstraint('end_at > start_at', name=op.f('ck_national_consumption_interval_order')),
    sa.PrimaryKeyConstraint('series', 'start_at', name=op.f('pk_national_consumption'))
    )
    op.create_table('permissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_permissions')),
    sa.UniqueConstraint('name', name=op.f('uq_permissions_name'))
    )
    op.create_table('providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('website', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_providers')),
    sa.UniqueConstraint('name', name=op.f('uq_providers_name'))
    )
    op.create_table('roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roles')),
    sa.UniqueConstraint('name', name=op.f('uq_roles_name'))
    )
    op.create_table('tempo_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('colour', sa.String(length=5), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("colour IN ('BLUE', 'WHITE', 'RED')", name=op.f('ck_tempo_days_colour_known')),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_tempo_days'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("email = lower(email) AND position('@' in email) > 1", name=op.f('ck_users_email_normalised')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('api_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_clients_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_clients')),
    sa.UniqueConstraint('client_id', name=op.f('uq_api_clients_client_id'))
    )
    op.create_index(op.f('ix_api_clients_user_id'), 'api_clients', ['user_id'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_log_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_action'), 'audit_log', ['action'], unique=False)
    op.create_index(op.f('ix_audit_log_actor_id'), 'audit_log', ['actor_id'], unique=False)
    op.create_table('contributions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'pending') = (reviewed_at IS NULL)", name=op.f('ck_contributions_reviewed_when_decided')),
    sa.CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name=op.f('ck_contributions_status_known')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_contributions_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_contributions_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contributions'))
    )
    op.create_index(op.f('ix_contributions_user_id'), 'contributions', ['user_id'], unique=False)
    op.create_table('enedis_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('prms', postgresql.ARRAY(sa.String(length=14)), server_default='{}', nullable=False),
    sa.Column('duration', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status <> 'active' OR cardinality(prms) > 0", name=op.f('ck_enedis_consents_active_has_prms')),
    sa.CheckConstraint("status IN ('pending', 'active', 'refused', 'expired', 'revoked')", name=op.f('ck_enedis_consents_status_known')),
    sa.CheckConstraint('expires_at IS NULL OR started_at IS NULL OR expires_at > started_at', name=op.f('ck_enedis_consents_expiry_after_start')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_enedis_consents_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enedis_consents')),
    sa.UniqueConstraint('state_hash', name=op.f('uq_enedis_consents_state_hash'))
    )
    op.create_index(op.f('ix_enedis_consents_user_id'), 'enedis_consents', ['user_id'], unique=False)
    op.create_table('offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subscribed_kva', sa.Integer(), nullable=False),
    sa.Column('subscription_eur_month', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('prices_eur_kwh', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('base', 'hphc', 'tempo', 'ejp', 'other')", name=op.f('ck_offers_kind_known')),
    sa.CheckConstraint('subscribed_kva BETWEEN 3 AND 36', name=op.f('ck_offers_kva_range')),
    sa.CheckConstraint('subscription_eur_month >= 0', name=op.f('ck_offers_subscription_non_negative')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to > valid_from', name=op.f('ck_offers_validity_order')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_offers_provider_id_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers')),
    sa.UniqueConstraint('provider_id', 'name', 'subscribed_kva', 'valid_from', name=op.f('uq_offers_provider_id_name_subscribed_kva_valid_from'))
    )
    op.create_table('role_permissions',
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('permission_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['permission_id'], ['permissions.id'], name=op.f('fk_role_permissions_permission_id_permissions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('fk_role_permissions_role_id_roles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('role_id', 'permission_id', name=op.f('pk_role_permissions'))
    )
    op.create_table('usage_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pdl', sa.String(length=14), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), server_default='unknown', nullable=False),
    sa.Column('load_curve_enabled', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('activation_date', sa.Date(), nullable=True),
    sa.Column('last_refreshed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('consumption', 'production', 'unknown')", name=op.f('ck_usage_points_kind_known')),
    sa.CheckConstraint("pdl ~ '^[0-9]{14}$'", name=op.f('ck_usage_points_pdl_14_digits')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_usage_points_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_points')),
    sa.UniqueConstraint('pdl', name=op.f('uq_usage_points_pdl'))
    )
    op.create_index(op.f('ix_usage_points_user_id'), 'usage_points', ['user_id'], unique=False)
    op.create_table('user_roles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('fk_user_roles_role_id_roles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_roles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role_id', name=op.f('pk_user_roles'))
    )


def downgrade() -> None:
    op.drop_table('user_roles')
    op.drop_index(op.f('ix_usage_points_user_id'), table_name='usage_points')
    op.drop_table('usage_points')
    op.drop_table('role_permissions')
    op.drop_table('offers')
    op.drop_index(op.f('ix_enedis_consents_user_id'), table_name='enedis_consents')
    op.drop_table('enedis_consents')
    op.drop_index(op.f('ix_contributions_user_id'), table_name='contributions')
    op.drop_table('contributions')
    op.drop_index(op.f('ix_audit_log_actor_id'), table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_action'), table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index(op.f('ix_api_clients_user_id'), table_name='api_clients')
    op.drop_table('api_clients')
    op.drop_table('users')
    op.drop_table('tempo_days')
    op.drop_table('roles')
    op.drop_table('providers')
    op.drop_table('permissions')
    op.drop_table('national_consumption')
    op.drop_table('ecowatt_signals')
