"""MED v2's `POST /api/accounts/token`: a short-lived token standing for one API client's secret.

The token is the secret's hash, signed with the app's SECRET_KEY and stamped (itsdangerous); it is
checked like the secret itself (`pipeline.api.ReadApi.authenticate_hash`: revoked clients and disabled
accounts refused at the next request), so revoking the secret ends its tokens too. It expires after
TOKEN_SECONDS, far sooner than MED's 30-day JWT: a client asks for another with its secret.
"""

from __future__ import annotations

import base64
import binascii

from itsdangerous import BadSignature, TimestampSigner

from models.api_clients import hash_secret

TOKEN_SECONDS = 3600
SALT = "releve-med-v2-token"
# `<hash, 43 base64url characters>.<time>.<signature>`: about 80 characters, within what
# `pipeline.api.secret_of` accepts as a credential (MAX_SECRET_LENGTH).
MAX_TOKEN_LENGTH = 128


def _signer(secret_key: str) -> TimestampSigner:
    return TimestampSigner(secret_key, salt=SALT)


def issue(secret_key: str, secret: str) -> str:
    """A token for the API secret `secret` (already checked by the caller)."""
    digest = base64.urlsafe_b64encode(bytes.fromhex(hash_secret(secret))).rstrip(b"=")
    return _signer(secret_key).sign(digest).decode()


def secret_hash_of(secret_key: str, token: str) -> str | None:
    """The secret hash a token stands for; None when it is not one of ours, altered or expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH or "." not in token:
        return None
    try:
        digest = _signer(secret_key).unsign(token, max_age=TOKEN_SECONDS)
        raw = base64.urlsafe_b64decode(digest + b"=")
    except (BadSignature, ValueError, binascii.Error):
        return None
    return raw.hex() if len(raw) == 32 else None
