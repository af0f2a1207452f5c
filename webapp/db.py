"""The request's database session."""

from flask import current_app
from sqlalchemy.orm import Session


def db() -> Session:
    return current_app.extensions["releve_db"]()
