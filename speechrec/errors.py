"""The one family of errors speechrec raises for bad input and failed operations, and the redaction
of credentials from any message before it is shown or logged."""

import errno
import getpass
import os
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Self
from urllib.parse import quote, unquote


class SpeechrecError(Exception):
    """Base of every error speechrec raises on purpose; its message is meant for the user.

    An error made with ``worded`` keeps its message's template and values, so a page can say it
    in the reader's language (``in_words``); ``str(error)`` is always the English message.
    """

    template: str | None = None
    values: Mapping[str, object] = MappingProxyType({})

    @classmethod
    def worded(cls, template: str, **values: object) -> Self:
        """The error whose message is ``template`` (a ``str.format`` string marked for
        translation) filled with ``values``."""
        error = cls(template.format(**values))
        error.template, error.values = template, values
        return error

    def in_words(self, translate: Callable[[str], str]) -> str:
        """The message in the language of ``translate`` (a gettext ``gettext``); the English
        message where the error kept no template."""
        if self.template is None:
            return str(self)
        return translate(self.template).format(**self.values)


class CampaignError(SpeechrecError, ValueError):
    """A campaign file or campaign value is invalid."""


class SettingsError(SpeechrecError, ValueError):
    """Where to keep the data is given wrongly (e.g. a database URL SQLAlchemy cannot parse)."""


class AudioError(SpeechrecError, ValueError):
    """Audio could not be decoded or has no usable samples."""


class StoreError(SpeechrecError):
    """The clip store cannot do what was asked (unknown clip, bad status, storage failure)."""


class ConflictError(StoreError):
    """A write clashed with stored data (a duplicate import, an id taken by another process)."""


class WithdrawnError(ConflictError):
    """The speaker withdrew from the campaign: nothing of theirs is stored any more (a take, an import)."""


class StaleReviewError(ConflictError):
    """A review decision or undo was made on a clip that someone else changed meanwhile; ``current``
    is the clip's review state now (a ``records.ReviewState``)."""

    def __init__(self, message: str, current: object) -> None:
        super().__init__(message)
        self.current = current


class StorageError(StoreError, OSError):
    """Audio could not be written, read, listed or deleted: on a local disk or on object storage
    alike (also an OSError, as the failure of a file operation is)."""


def cannot_write(error: OSError) -> str:
    """A local file system error in plain words with what to do: the path, the reason, the fix.

    Permission problems name the user running speechrec, as the fix is theirs to make.
    """
    where = f"{str(error.filename)!r}" if error.filename else "a file of the store"
    reason = (error.strerror or type(error).__name__).lower()
    fix = "make it writable for the user running speechrec"
    if error.errno in (errno.EEXIST, errno.ENOTDIR):
        reason, fix = "a file is where a folder should be", "move the file away"
    elif error.errno == errno.ENOSPC:
        fix = "free some space"
    elif isinstance(error, PermissionError) or error.errno == errno.EROFS:
        fix += f" ({_user_name()})"
    return f"{where} cannot be written ({reason}); {fix}, or choose another data folder (--store DIR or SPEECHREC_DATA)"


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this user id (a container)
        return f"user id {os.getuid()}" if hasattr(os, "getuid") else "this user"


# The user-info part of a URL ("scheme://user:password@"): everything after "://" up to the last "@"
# before any white space or quote (a secret key may hold "/" or "+", a careless password "@").
_URL_USER_INFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^\s'\"<>]*@")
# Query parameters that carry a secret (psycopg's ?password=, signed URLs, API keys).
_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&;](?:password|passwd|pwd|secret|secret_key|access_key|token|key|sig|signature)=)[^&\s'\"<>]*",
    re.IGNORECASE,
)
# A secret in a key=value connection string (libpq's "host=db password=pw", ODBC's "PWD=pw;"):
# the key at the start or after white space, a quote or ";", the value plain or in single quotes.
_KEY_VALUE_SECRET = re.compile(
    r"(?P<name>(?<![^\s'\";])(?:password|passwd|pwd|sslpassword|secret|secret_key|access_key|token)\s*=\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|[^\s'\";]+)",
    re.IGNORECASE,
)
# Where a back-end may cut a secret that holds them (an S3 secret key holds "/" and "+"; s3fs takes
# "KEY:SECRET" before the first "/" for a bucket name): each piece is redacted on its own too.
_SECRET_CUTS = re.compile(r"[/?#@:]")
REDACTED = "***"
# Secrets shorter than this are only removed where they appear in URL form: replacing every "pw"
# in a message would garble it, and the URL form is where they appear.
MIN_LOOSE_SECRET_LENGTH = 4


def redact(text: str, *urls: str | None) -> str:
    """``text`` without credentials, for every message and log line that may quote a URL.

    Removes the ``user:password@`` part of any URL in ``text``, secret query parameters
    (``?password=...``), and, for each of ``urls`` (the configured database and storage URLs),
    its user info and password wherever they appear in ``text`` (a back-end may quote them
    outside the URL, e.g. boto's "Invalid bucket name "KEY:SECRET@bucket""). None is skipped.
    """
    for url in urls:
        for secret in _url_secrets(url):
            if len(secret) >= MIN_LOOSE_SECRET_LENGTH:
                # As a token of its own: a password "postgres" must not turn "postgresql" into "***ql".
                text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", REDACTED, text)
    text = _URL_USER_INFO.sub(lambda match: f"{match['scheme']}{REDACTED}@", text)
    text = _KEY_VALUE_SECRET.sub(lambda match: f"{match['name']}{REDACTED}", text)
    return _SECRET_PARAMETER.sub(lambda match: f"{match['name']}{REDACTED}", text)


def redact_url(url: str) -> str:
    """``url`` as it may be shown or logged: ``s3://***@bucket/prefix`` instead of ``s3://KEY:SECRET@...``."""
    return redact(url, url)


def _url_secrets(url: str | None) -> list[str]:
    """The secrets of a configured ``url``, longest first: its user info and password (as written,
    URL-decoded, URL-encoded, and with "+" read as a space), each piece of the password between "/", "?", "#",
    "@" or ":" (where a back-end may cut it) alone and after the user name, and the password values of a key=value connection
    string (``host=db password=pw``), which is no URL but may be configured as one.

    The user info is everything before the "@" after "://": an unescaped "@" in a password makes
    its end ambiguous, so both the first and the last "@" count. The user name alone is no secret
    (and often a common word).
    """
    if not url:
        return []
    found: set[str] = set()
    for match in _KEY_VALUE_SECRET.finditer(url):
        found.add(match["value"].strip("'"))
    if "://" in url and "@" in url.split("://", 1)[1]:
        rest = url.split("://", 1)[1]
        for user_info in (rest.split("@", 1)[0], rest.rsplit("@", 1)[0]):
            user, colon, password = user_info.partition(":")
            found |= {user_info, password, *_SECRET_CUTS.split(password)}
            # "KEY:ab" of "KEY:ab/cdef...": a piece too short to redact alone, quoted with the user name.
            found |= {f"{user}{colon}{password[: cut.start()]}" for cut in _SECRET_CUTS.finditer(password)}
    found |= {form for secret in found for form in (unquote(secret), quote(secret, safe=""), secret.replace("+", " "))}
    return sorted((secret for secret in found if secret), key=len, reverse=True)
