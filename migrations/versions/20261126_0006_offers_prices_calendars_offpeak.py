"""Offers with price periods, household offers, day calendars, off-peak history

The early `offers` table (one row per offer × kVA, prices in JSON) is replaced by `offers`
(the product and its rules) → `offer_prices` (periods per kVA, no overlap) → `offer_energy_prices`.
No release ever wrote the early table; should a deployment hold rows in it anyway, they are kept
as `offers_legacy` instead of being dropped.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-26 05:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# tests/test_migrations.py: why the release before keeps working during a rolling update or after a rollback.
PREVIOUS_RELEASE_SAFE = ("The previous release mapped the early `offers` table in models/offers.py but no "
                         "code of it read or wrote that table (no view, task or command); it never sees the "
                         "new one either.")

OPTIONS = ("'BASE', 'HC_HP', 'TEMPO', 'EJP', 'BASE_WEEKEND', 'HC_WEEKEND', 'HC_NUIT_WEEKEND', 'SEASONAL', "
           "'ZEN_FLEX'")
STATUSES = ("'three_sources_agree', 'two_sources_agree', 'two_sources_agree_not_cre_checked', 'single_source', "
            "'conflict_subscription', 'unconfirmed_price', 'household'")
BUCKETS = ("'base', 'hp', 'hc', 'tempo_blue_hc', 'tempo_blue_hp', 'tempo_white_hc', 'tempo_white_hp', "
           "'tempo_red_hc', 'tempo_red_hp', 'ejp_normal', 'ejp_peak', 'base_weekday', 'base_weekend', "
           "'hp_weekday', 'hc_weekday', 'weekend_all_day', 'hp_winter', 'hc_winter', 'hp_summer', 'hc_summer', "
           "'eco_hp', 'eco_hc', 'sobriete_hp', 'sobriete_hc'")

# The early table's constraints, renamed with it when it is kept (the new table takes their names).
LEGACY_CONSTRAINTS = ('pk_offers', 'uq_offers_provider_id_name_subscribed_kva_valid_from',
                      'fk_offers_provider_id_providers', 'ck_offers_kind_known', 'ck_offers_kva_range',
                      'ck_offers_subscription_non_negative', 'ck_offers_validity_order')


def legacy(name: str) -> str:
    return name.replace("offers", "offers_legacy", 1)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM offers")).scalar():
        op.rename_table('offers', 'offers_legacy')
        for name in LEGACY_CONSTRAINTS:
            op.execute(f'ALTER TABLE offers_legacy RENAME CONSTRAINT {name} TO {legacy(name)}')
    else:
        op.drop_table('offers')

    op.add_column('providers', sa.Column('code', sa.String(length=32), nullable=True))
    op.execute("UPDATE providers SET code = 'PROVIDER_' || id")
    op.alter_column('providers', 'code', nullable=False)
    op.create_unique_constraint(op.f('uq_providers_code'), 'providers', ['code'])
    op.create_check_constraint(op.f('ck_providers_code_format'), 'providers', "code ~ '^[A-Z0-9_]{2,32}$'")

    op.create_table('offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=48), nullable=True),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('supplier_name', sa.String(length=100), server_default='', nullable=False),
    sa.Column('option', sa.String(length=16), nullable=False),
    sa.Column('offpeak_source', sa.String(length=8), nullable=False),
    sa.Column('offpeak_hours', sa.String(length=100), nullable=True),
    sa.Column('day_calendar', sa.String(length=8), server_default='none', nullable=False),
    sa.Column('holidays_as_weekend', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('open_to_new_customers', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('notes', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint(f"option IN ({OPTIONS})", name=op.f('ck_offers_option_known')),
    sa.CheckConstraint("offpeak_source IN ('none', 'contract', 'offer')", name=op.f('ck_offers_offpeak_source_known')),
    sa.CheckConstraint("day_calendar IN ('none', 'tempo', 'ejp', 'sobriete')", name=op.f('ck_offers_day_calendar_known')),
    sa.CheckConstraint("code IS NULL OR code ~ '^[A-Z0-9_]{2,48}$'", name=op.f('ck_offers_code_format')),
    sa.CheckConstraint('(owner_id IS NULL) = (code IS NOT NULL)', name=op.f('ck_offers_public_has_code')),
    sa.CheckConstraint('owner_id IS NOT NULL OR provider_id IS NOT NULL', name=op.f('ck_offers_public_has_provider')),
    sa.CheckConstraint("(offpeak_source = 'offer') = (offpeak_hours IS NOT NULL)",
                       name=op.f('ck_offers_fixed_hours_when_fixed')),
    sa.CheckConstraint("(option IN ('BASE', 'EJP', 'BASE_WEEKEND')) = (offpeak_source = 'none')",
                       name=op.f('ck_offers_offpeak_fits_option')),
    sa.CheckConstraint("(option = 'TEMPO') = (day_calendar = 'tempo') AND (option = 'EJP') = (day_calendar = 'ejp') "
                       "AND (option = 'ZEN_FLEX') = (day_calendar = 'sobriete')", name=op.f('ck_offers_calendar_fits_option')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_offers_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_offers_provider_id_providers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers')),
    sa.UniqueConstraint('code', name=op.f('uq_offers_code'))
    )
    op.create_index(op.f('ix_offers_owner_id'), 'offers', ['owner_id'], unique=False)
    op.create_index(op.f('ix_offers_provider_id'), 'offers', ['provider_id'], unique=False)

    op.create_table('offer_prices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('kva', sa.SmallInteger(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('fixed_eur_month', sa.Numeric(precision=8, scale=4), nullable=False),
    sa.Column('fixed_eur_year_cre', sa.Numeric(precision=9, scale=4), nullable=True),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('sources', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('notes', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('kva IN (3, 6, 9, 12, 15, 18, 24, 30, 36)', name=op.f('ck_offer_prices_kva_standard')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to > valid_from', name=op.f('ck_offer_prices_validity_order')),
    sa.CheckConstraint("valid_from >= '2000-01-01' AND (valid_to IS NULL OR valid_to <= '2100-01-01')",
                       name=op.f('ck_offer_prices_validity_range')),
    sa.CheckConstraint('fixed_eur_month >= 0 AND fixed_eur_month < 1000', name=op.f('ck_offer_prices_fixed_range')),
    sa.CheckConstraint('fixed_eur_year_cre IS NULL OR (fixed_eur_year_cre >= 0 AND fixed_eur_year_cre < 12000)',
                       name=op.f('ck_offer_prices_fixed_year_range')),
    sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f('ck_offer_prices_status_known')),
    sa.CheckConstraint("status = 'household' OR cardinality(sources) > 0", name=op.f('ck_offer_prices_sourced')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_offer_prices_offer_id_offers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offer_prices'))
    )
    op.create_index(op.f('ix_offer_prices_offer_id'), 'offer_prices', ['offer_id'], unique=False)
    # No two periods of one offer and kVA overlap. Single-value integer ranges stand for equality, so
    # plain GiST does it: no btree_gist, which the embedded PostgreSQL of `make run` does not ship.
    op.execute(
        "ALTER TABLE offer_prices ADD CONSTRAINT ex_offer_prices_no_overlap EXCLUDE USING gist ("
        "int4range(offer_id, offer_id, '[]') WITH &&, int4range(kva, kva, '[]') WITH &&, "
        "daterange(valid_from, valid_to, '[)') WITH &&) DEFERRABLE INITIALLY IMMEDIATE")

    op.create_table('offer_energy_prices',
    sa.Column('price_id', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.String(length=24), nullable=False),
    sa.Column('eur_kwh', sa.Numeric(precision=9, scale=6), nullable=False),
    sa.CheckConstraint(f"bucket IN ({BUCKETS})", name=op.f('ck_offer_energy_prices_bucket_known')),
    sa.CheckConstraint('eur_kwh > 0 AND eur_kwh < 10', name=op.f('ck_offer_energy_prices_price_range')),
    sa.ForeignKeyConstraint(['price_id'], ['offer_prices.id'], name=op.f('fk_offer_energy_prices_price_id_offer_prices'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('price_id', 'bucket', name=op.f('pk_offer_energy_prices'))
    )

    op.add_column('usage_points', sa.Column('offer_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_usage_points_offer_id'), 'usage_points', ['offer_id'], unique=False)
    op.create_foreign_key(op.f('fk_usage_points_offer_id_offers'), 'usage_points', 'offers', ['offer_id'], ['id'],
                          ondelete='SET NULL')

    op.create_table('offpeak_schedules',
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('ranges', postgresql.ARRAY(sa.SmallInteger()), nullable=False),
    sa.Column('source_text', sa.String(length=200), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('cardinality(ranges) % 2 = 0 AND 0 <= ALL (ranges) AND 1439 >= ALL (ranges)',
                       name=op.f('ck_offpeak_schedules_ranges_in_minutes')),
    sa.ForeignKeyConstraint(['point_id'], ['usage_points.id'], name=op.f('fk_offpeak_schedules_point_id_usage_points'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('point_id', 'valid_from', name=op.f('pk_offpeak_schedules'))
    )

    op.create_table('special_days',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=300), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('ejp', 'sobriete')", name=op.f('ck_special_days_kind_known')),
    sa.CheckConstraint("kind <> 'ejp' OR extract(month FROM day) IN (11, 12, 1, 2, 3)",
                       name=op.f('ck_special_days_ejp_in_winter')),
    sa.PrimaryKeyConstraint('kind', 'day', name=op.f('pk_special_days'))
    )
    op.create_table('calendar_coverage',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('known_from', sa.Date(), nullable=False),
    sa.Column('known_through', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=300), server_default='', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('ejp', 'sobriete')", name=op.f('ck_calendar_coverage_kind_known')),
    sa.CheckConstraint('known_through >= known_from', name=op.f('ck_calendar_coverage_range_order')),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_calendar_coverage'))
    )


def downgrade() -> None:
    op.drop_table('calendar_coverage')
    op.drop_table('special_days')
    op.drop_table('offpeak_schedules')
    op.drop_constraint(op.f('fk_usage_points_offer_id_offers'), 'usage_points', type_='foreignkey')
    op.drop_index(op.f('ix_usage_points_offer_id'), table_name='usage_points')
    op.drop_column('usage_points', 'offer_id')
    op.drop_table('offer_energy_prices')
    op.drop_index(op.f('ix_offer_prices_offer_id'), table_name='offer_prices')
    op.drop_table('offer_prices')
    op.drop_index(op.f('ix_offers_provider_id'), table_name='offers')
    op.drop_index(op.f('ix_offers_owner_id'), table_name='offers')
    op.drop_table('offers')
    op.drop_constraint(op.f('ck_providers_code_format'), 'providers', type_='check')
    op.drop_constraint(op.f('uq_providers_code'), 'providers', type_='unique')
    op.drop_column('providers', 'code')
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT to_regclass('offers_legacy')")).scalar():
        op.rename_table('offers_legacy', 'offers')
        for name in LEGACY_CONSTRAINTS:
            op.execute(f'ALTER TABLE offers RENAME CONSTRAINT {legacy(name)} TO {name}')
        return
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
