"""Browser sessions: a signed, HttpOnly cookie naming the user, and CSRF tokens derived from it.

The cookie never holds the API key: it holds the user's id and name, when it was issued, the
session's id and the user's key generation at sign-in, signed with HMAC-SHA256 under a secret
kept in the data directory (mode 0600), so that sessions survive a restart and every API process
on the same data directory accepts them. A valid signature is not enough: the user's record in
the event log must still accept the session (not signed out, key neither replaced nor revoked),
see `Qorch.session_user`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

COOKIE = "qorch_session"
MAX_AGE_SECONDS = 7 * 24 * 3600
SECRET_FILE = "dashboard-secret"


@dataclass(frozen=True)
class Session:
    user_id: str
    name: str
    issued: int
    token: str
    session_id: str = ""
    key_generation: int = 0


def load_secret(data_dir: Path) -> bytes:
    """The data directory's signing secret, created (0600) on first use."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it right now
            secret = path.read_bytes()
            if len(secret) == 32:
                return secret
            time.sleep(0.01)
        raise RuntimeError(f"{path} does not hold a 32-byte secret") from None
    with os.fdopen(fd, "wb") as file:
        secret = secrets.token_bytes(32)
        file.write(secret)
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    def __init__(self, secret: bytes, max_age: int = MAX_AGE_SECONDS) -> None:
        self._secret = secret
        self.max_age = max_age

    def _sign(self, purpose: str, payload: str) -> str:
        mac = hmac.new(self._secret, f"{purpose}:{payload}".encode(), hashlib.sha256)
        return _b64(mac.digest())

    def issue(
        self, user_id: str, name: str, now: float | None = None, key_generation: int = 0
    ) -> str:
        issued = int(time.time() if now is None else now)
        body = {
            "u": user_id,
            "n": name,
            "t": issued,
            "r": secrets.token_hex(16),
            "g": key_generation,
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign('session', payload)}"

    def read(self, token: str | None, now: float | None = None) -> Session | None:
        if not token or token.count(".") != 1:
            return None
        payload, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign("session", payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
            user_id, name, issued = str(body["u"]), str(body["n"]), int(body["t"])
            session_id, generation = str(body.get("r", "")), int(body.get("g", 0))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if (time.time() if now is None else now) - issued > self.max_age:
            return None
        return Session(user_id, name, issued, token, session_id, generation)

    def csrf_token(self, session: Session) -> str:
        return self._sign("csrf", session.token)

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))
