"""MED v2's `POST /api/accounts/token`: a short-lived token standing for one API client's secret.

The token is the secret's hash, signed with the app's SECRET_KEY and stamped (itsdangerous); it is
checked like the secret itself (`pipeline.api.authenticate_hash`: one indexed lookup, revoked clients
and disabled accounts refused at once), so revoking the secret ends its tokens too. It expires after
TOKEN_SECONDS, far sooner than MED's 30-day JWT: a client asks for another with its secret.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from models.api_clients import hash_secret

TOKEN_SECONDS = 3600
SALT = "releve-med-v2-token"
MAX_TOKEN_LENGTH = 512


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def issue(secret_key: str, secret: str) -> str:
    """A token for the API secret `secret` (already checked by the caller)."""
    return _serializer(secret_key).dumps({"h": hash_secret(secret)})


def secret_hash_of(secret_key: str, token: str) -> str | None:
    """The secret hash a token stands for; None when it is not one of ours, altered or expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH or "." not in token:
        return None
    try:
        payload = _serializer(secret_key).loads(token, max_age=TOKEN_SECONDS)
    except (BadSignature, ValueError, TypeError):
        return None
    value = payload.get("h") if isinstance(payload, dict) else None
    return value if isinstance(value, str) and len(value) == 64 else None
