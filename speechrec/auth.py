"""Organizer sign-in without streamlit: password hashes, a generated first password, attempt delays,
and the signed session token that keeps an organizer signed in across reloads.

The organizer password comes from ``.streamlit/secrets.toml`` (``[organizer] password``), either
as is or as a salted hash made by ``hash_password`` (``scrypt$...``). Without one, a strong
password is generated at first start and kept, readable by the owner only, in the data folder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from speechrec.errors import SettingsError
from speechrec.private import make_private_folder, open_private_file

PASSWORD_FILE_NAME = "organizer-password.txt"
HASH_PREFIX = "scrypt$"
# scrypt cost: 16 MiB (128 * n * r bytes) and, measured on the development machine, 29 ms per check.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
GENERATED_PASSWORD_BYTES = 18  # 144 bits, 24 URL-safe characters
# After a wrong password the next check waits this long, doubling with each failure, up to the cap.
FIRST_DELAY_S, MAX_DELAY_S = 0.5, 30.0
# An organizer stays signed in this long after signing in, reloads and bookmarks included: one
# working day of reviewing, after which the password is asked again.
ORGANIZER_SESSION_S = 12 * 3600
# Keeps session keys apart from anything else derived from the password.
SESSION_KEY_SALT = b"speechrec organizer session"


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash of ``password`` to paste into secrets.toml instead of the password."""
    if not isinstance(password, str) or not password:
        raise ValueError("the password must be a non-empty string")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    encode = base64.urlsafe_b64encode
    return f"{HASH_PREFIX}{SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def check_password(candidate: str, configured: str) -> bool:
    """True if ``candidate`` matches ``configured`` (a plain password or a ``hash_password`` hash).

    Compares in constant time. Raises ValueError for a malformed hash (a configuration error).
    """
    if not configured.startswith(HASH_PREFIX):
        return hmac.compare_digest(candidate.encode(), configured.encode())
    try:
        n, r, p, salt, expected = configured.removeprefix(HASH_PREFIX).split("$")
        salt_bytes, expected_bytes = (
            base64.b64decode(part, altchars=b"-_", validate=True) for part in (salt, expected)
        )
        digest = hashlib.scrypt(candidate.encode(), salt=salt_bytes, n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError) as error:
        raise SettingsError(
            f"the organizer password hash in secrets.toml is malformed ({error}); "
            "make a new one with: python -m speechrec hash-password"
        ) from error
    return hmac.compare_digest(digest, expected_bytes)


def generated_password(data_dir: Path) -> tuple[str, bool]:
    """The organizer password kept in ``data_dir`` (created at first use, owner-only permissions).

    Returns ``(password, created)``: ``created`` is True when it was made just now, so that the
    caller can show it once.
    """
    path = Path(data_dir) / PASSWORD_FILE_NAME
    try:
        return path.read_text(encoding="utf-8").strip(), False
    except FileNotFoundError:
        pass
    make_private_folder(path.parent)
    password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    try:
        descriptor = open_private_file(path, exclusive=True)
    except FileExistsError:  # another process made it a moment ago
        return path.read_text(encoding="utf-8").strip(), False
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(password + "\n")
    return password, True


def failure_delay_s(failures: int) -> float:
    """How long to wait before checking a password after ``failures`` wrong ones in a row."""
    if failures <= 0:
        return 0.0
    return min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (failures - 1))


def organizer_emails(configured: object) -> frozenset[str]:
    """The organizer e-mail addresses from ``[organizer] emails`` (a list), case-folded.

    Raises TypeError for anything but a list of strings (a configuration error).
    """
    if configured is None:
        return frozenset()
    if not isinstance(configured, list | tuple) or not all(isinstance(email, str) for email in configured):
        raise TypeError(f"[organizer] emails must be a list of e-mail addresses, got {configured!r}")
    return frozenset(email.strip().casefold() for email in configured if email.strip())


def is_verified_email(claims: Mapping[str, object]) -> bool:
    """True if an OIDC login's claims mark its e-mail as verified: ``email_verified`` is true
    (OpenID Connect Core 1.0, 5.1 Standard Claims; some providers send the string "true").

    An address the provider has not verified may belong to anyone who typed it at sign-up, so
    it never makes someone an organizer; a missing claim counts as not verified.
    """
    verified = claims.get("email_verified")
    return verified is True or (isinstance(verified, str) and verified.strip().lower() == "true")


def is_organizer_email(email: object, allowed: frozenset[str]) -> bool:
    """True if a signed-in (OIDC) user's e-mail is one of the ``allowed`` organizer addresses."""
    return isinstance(email, str) and email.strip().casefold() in allowed


def session_key(configured_password: str) -> bytes:
    """The key that signs organizer session tokens: scrypt of the configured password (or its hash).

    Deriving it from the password means every app process and replica shares it with no extra
    setting, a token cannot be forged without the password (guessing costs one scrypt per try,
    as guessing the password does), and a new password ends every session. Raises ValueError for
    an empty password.
    """
    if not isinstance(configured_password, str) or not configured_password:
        raise ValueError("the organizer password must be a non-empty string")
    return hashlib.scrypt(configured_password.encode(), salt=SESSION_KEY_SALT, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)


def _session_serializer(key: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="organizer-session")


def organizer_session_token(key: bytes) -> str:
    """A signed, timestamped token (URL- and cookie-safe text) saying "an organizer signed in now".

    It holds no password and no personal data; ``organizer_session_valid`` accepts it for
    ``ORGANIZER_SESSION_S`` seconds. Signed with itsdangerous (HMAC-SHA1 over the payload and time).
    """
    return _session_serializer(key).dumps({"role": "organizer"})


def organizer_session_valid(token: object, key: bytes, max_age_s: int = ORGANIZER_SESSION_S) -> bool:
    """True if ``token`` was made by ``organizer_session_token`` with ``key`` at most ``max_age_s`` ago.

    Anything else (tampered, expired, from another key, not a string) is False, never an error.
    """
    if not isinstance(token, str) or not token:
        return False
    try:
        payload = _session_serializer(key).loads(token, max_age=max_age_s)
    except BadSignature:  # also an expired or malformed token
        return False
    return payload == {"role": "organizer"}
