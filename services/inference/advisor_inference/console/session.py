"""The console's sign-in: an API key typed into the login form becomes a session cookie.

The cookie holds the key sealed with Fernet (AES-128-CBC + HMAC-SHA256, timestamped, from the
`cryptography` package), so the console can call the job services *with the user's own key*:
every scope and owner check of those APIs applies unchanged. The sealing key is derived from
every configured API key together, so no new secret has to be deployed, only someone who holds
all the keys could forge a cookie, and changing the keys ends every session. A cookie is
accepted only while its key is still configured and for `console_session_ttl_s` after sign-in.

The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends
it) and scoped to `/ui`; state-changing requests also carry a CSRF token derived from the
cookie. A key never appears in a URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

COOKIE = "advisor_console"
COOKIE_PATH = "/ui"


@dataclass(frozen=True)
class Session:
    """A signed-in user: their key (sent on to the job services), its scope, and the CSRF
    token of this session."""

    key: str
    admin: bool
    csrf: str


def _raw(keys: Sequence[SecretStr | str]) -> list[bytes]:
    return [(k.get_secret_value() if isinstance(k, SecretStr) else k).encode() for k in keys]


class SessionCodec:
    """Seal and open session cookies for one set of configured keys."""

    def __init__(
        self,
        keys: Sequence[SecretStr | str],
        admin_keys: Sequence[SecretStr | str],
        ttl_s: int,
    ):
        self._keys, self._admin_keys, self.ttl_s = _raw(keys), _raw(admin_keys), ttl_s
        material = b"\0".join(sorted(set(self._keys) | set(self._admin_keys)))
        secret = hashlib.sha256(b"advisor-console-session\0" + material).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(secret))
        self._csrf_secret = hashlib.sha256(b"advisor-console-csrf\0" + secret).digest()

    def scope_of(self, key: str) -> str | None:
        """ "admin", "app" or None for a key that is not configured (constant time per key)."""
        presented = key.strip().encode()
        if not presented:
            return None
        admin = sum(hmac.compare_digest(presented, k) for k in self._admin_keys) > 0
        app = sum(hmac.compare_digest(presented, k) for k in self._keys) > 0
        return "admin" if admin else "app" if app else None

    def seal(self, key: str) -> str:
        """The cookie value for a key (the caller checked it with `scope_of`)."""
        payload = json.dumps({"k": key.strip()}).encode()
        return self._fernet.encrypt(payload).decode()

    def open(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, or None (missing, forged, expired, key revoked)."""
        if not cookie or len(cookie) > 4096:
            return None
        try:
            payload = json.loads(self._fernet.decrypt(cookie.encode(), ttl=self.ttl_s))
        except (InvalidToken, ValueError):
            return None
        key = payload.get("k") if isinstance(payload, dict) else None
        scope = self.scope_of(key) if isinstance(key, str) else None
        if scope is None:
            return None
        return Session(key=key, admin=scope == "admin", csrf=self.csrf_token(cookie))  # type: ignore[arg-type]

    def csrf_token(self, cookie: str) -> str:
        return hmac.new(self._csrf_secret, cookie.encode(), hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, session: Session, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(session.csrf, presented)
