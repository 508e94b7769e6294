"""Organizer sign-in without streamlit: password hashes, a generated first password, the delays
after wrong passwords (per client network and for everyone, kept in the store by
``ClipStore.claim_sign_in``), and the signed session token that keeps an organizer signed in
across reloads.

The organizer password comes from ``.streamlit/secrets.toml`` (``[organizer] password``), either
as is or as a salted hash made by ``hash_password`` (``scrypt$...``). Without one, a strong
password is generated at first start and kept, readable by the owner only, in the data folder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from speechrec.errors import SettingsError
from speechrec.private import make_private_folder, open_private_file

PASSWORD_FILE_NAME = "organizer-password.txt"
HASH_PREFIX = "scrypt$"
# scrypt cost: 16 MiB (128 * n * r bytes) and, measured on the development machine, 29 ms per check.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
GENERATED_PASSWORD_BYTES = 18  # 144 bits, 24 URL-safe characters
# Wrong passwords make the next check wait, counted in buckets kept in the store (so that a new
# browser session, another tab or another replica waits as long as the old one):
# - one per client network (ADDRESS_BUCKET_PREFIX): FIRST_DELAY_S after the first failure,
#   doubling with each, up to MAX_DELAY_S: at most 2 guesses a minute from one address once the
#   cap is reached (the exponential delay of the OWASP Authentication Cheat Sheet, "Account
#   Lockout"; NIST SP 800-63B 5.2.2 lists a wait that grows with each failed attempt among its
#   rate-limiting techniques).
# - one for everyone (GLOBAL_BUCKET): the same doubling but capped at GLOBAL_MAX_DELAY_S, the
#   floor against a guesser spread over many addresses (OWASP: count failures per account, not
#   only per source address; the organizer password is one account). At most 6 guesses a minute
#   in all (143 a minute were measured without it, one new session per guess), while the real
#   organizer waits at most 10 s because of someone else's failures (a kept sign-in, the cookie,
#   and OIDC login are not slowed at all).
FIRST_DELAY_S, MAX_DELAY_S = 0.5, 30.0
GLOBAL_MAX_DELAY_S = 10.0
# A bucket forgets its failures this long after its last one (the OWASP "observation window");
# longer than either cap, so a guesser at the capped pace never gets back to short delays.
FAILURE_MEMORY_S = 15 * 60
GLOBAL_BUCKET = "all"
ADDRESS_BUCKET_PREFIX = "address:"
# IPv6 clients are throttled by their /64 network: every end site gets at least a /64 (RFC 6177),
# a phone its own /64 (RFC 6459), so a guesser could otherwise take a new address for every guess.
IPV6_NETWORK_PREFIX = 64
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


def failure_delay_s(failures: int, *, max_delay_s: float = MAX_DELAY_S) -> float:
    """Seconds to wait before the next password check after ``failures`` wrong ones in a row:
    FIRST_DELAY_S, doubling with each failure, at most ``max_delay_s``; 0.0 for none."""
    if failures <= 0:
        return 0.0
    return min(max_delay_s, FIRST_DELAY_S * 2 ** min(failures - 1, 64))


def sign_in_delay_s(bucket: str, failures: int) -> float:
    """The wait after ``failures`` wrong passwords counted in ``bucket``: GLOBAL_BUCKET is capped at
    GLOBAL_MAX_DELAY_S, a client network's bucket at MAX_DELAY_S (sources above)."""
    return failure_delay_s(failures, max_delay_s=GLOBAL_MAX_DELAY_S if bucket == GLOBAL_BUCKET else MAX_DELAY_S)


def client_network(address: object) -> str | None:
    """The network a sign-in from ``address`` is throttled by, as text: an IPv4 address itself, an
    IPv6 address's /64 (an IPv4-mapped one as IPv4). None for anything that is not an IP address
    (no address known: local development, AppTest, a proxy that gives none)."""
    if not isinstance(address, str):
        return None
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])  # without an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    return str(ipaddress.IPv6Network((ip, IPV6_NETWORK_PREFIX), strict=False))


def sign_in_buckets(address: object, key: bytes) -> tuple[str, ...]:
    """The throttle buckets a password check from ``address`` counts in: GLOBAL_BUCKET always, and
    the client network's (``client_network``) when there is one.

    The network is kept as a keyed digest (HMAC-SHA256 with ``key``, e.g. ``session_key``), never
    as the address: the store holds no client's address, and a digest cannot be reversed by
    trying all 2**32 IPv4 addresses without the key.
    """
    network = client_network(address)
    if network is None:
        return (GLOBAL_BUCKET,)
    digest = hmac.new(key, network.encode(), hashlib.sha256).hexdigest()[:32]
    return (GLOBAL_BUCKET, ADDRESS_BUCKET_PREFIX + digest)


def check_buckets(buckets: Sequence[str]) -> list[str]:
    """``buckets`` (from ``sign_in_buckets``) sorted, without repeats. Raises ValueError unless they
    are a non-empty list of names of 1 to 64 characters (the store's column)."""
    if isinstance(buckets, str) or not isinstance(buckets, Sequence) or not buckets:
        raise ValueError(f"buckets must be a non-empty list of bucket names, got {buckets!r:.80}")
    for bucket in buckets:
        if not isinstance(bucket, str) or not 0 < len(bucket) <= 64:
            raise ValueError(f"a sign-in bucket is a name of 1 to 64 characters, got {bucket!r:.80}")
    return sorted(set(buckets))


def sign_in_time(now: datetime | None) -> datetime:
    """``now`` in UTC, the clock's time if None. Raises ValueError for a time without a time zone
    (it could be any zone's)."""
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValueError(f"now must be a datetime with a time zone, got {now!r:.80}")
    return now.astimezone(UTC)


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
