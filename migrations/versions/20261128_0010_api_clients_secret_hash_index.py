"""API clients: a unique index on the secret's hash, so a request finds its client in one lookup

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-28 08:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0010'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The hashes are unchanged (SHA-256 of the secret): every secret issued before keeps working.
    # Two rows can only share a hash if they share a secret (never issued twice): no dedupe step.
    op.create_index(op.f('ix_api_clients_secret_hash'), 'api_clients', ['secret_hash'], unique=True)


def downgrade() -> None:
    op.drop_index(op.f('ix_api_clients_secret_hash'), table_name='api_clients')
