"""Alembic migrations, shipped inside the distribution so that an installed `releve db upgrade` finds them."""
