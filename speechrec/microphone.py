"""What keeps a browser from the microphone, said in plain words before a volunteer consents.

Browsers give web pages the microphone (``navigator.mediaDevices.getUserMedia``) only in a
secure context: a page loaded over https, or over http from the machine itself. The rule is the
W3C Secure Contexts specification's "potentially trustworthy origin" (section 3.1): https and
wss, the loopback addresses 127.0.0.0/8 and ::1, and the host ``localhost`` and names under
``.localhost``. A plain-http address on a LAN (``http://192.168.1.20:8501``) is none of these,
so both recorders fail there, whatever the volunteer does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from speechrec.i18n import N_

# getUserMedia's audio constraints for the signal as the microphone gives it: the browser's own
# processing changes level and waveform from take to take and suppresses the room's noise
# (measured in the issue: quiet parts at -86 dBFS with it, -65 dBFS without, same microphone).
RAW_AUDIO = {"echoCancellation": False, "noiseSuppression": False, "autoGainControl": False}

INSECURE_ADDRESS = N_(
    "This page was opened with a plain **http://** address, and browsers only let pages that "
    "come over **https://** use the microphone. Please open the campaign's https:// link instead "
    "(ask the organizers for it if you only have this one)."
)
NO_MICROPHONE_ACCESS = N_(
    "This browser does not let web pages use a microphone. Please open the link in an up-to-date "
    "Chrome, Firefox, Safari or Edge; if you opened it from inside another app, open it in your "
    "phone's browser instead."
)
MICROPHONE_BLOCKED = N_(
    "Your browser blocks the microphone for this site. Allow it in the site settings (tap the icon "
    "to the left of the address), then reload this page."
)


@dataclass(frozen=True)
class BrowserReport:
    """What the volunteer's browser said about itself (None where it has not said yet).

    ``secure``: ``window.isSecureContext``. ``microphone_api``: whether
    ``navigator.mediaDevices.getUserMedia`` exists. ``permission``: the Permissions API's state
    for "microphone" ("granted", "denied" or "prompt"), None where the browser cannot tell.
    """

    secure: bool | None = None
    microphone_api: bool | None = None
    permission: str | None = None

    @classmethod
    def from_value(cls, value: object) -> BrowserReport | None:
        """A report from the browser component's JSON value, or None for anything else."""
        if not isinstance(value, dict):
            return None
        secure, api, permission = value.get("secure"), value.get("microphone_api"), value.get("permission")
        return cls(
            secure=secure if isinstance(secure, bool) else None,
            microphone_api=api if isinstance(api, bool) else None,
            permission=permission if isinstance(permission, str) else None,
        )


def secure_address(url: str) -> bool:
    """True if a page at ``url`` is a secure context by its address alone (see the module's rule).

    Raises TypeError for a non-string.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a string, got {url!r}")
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower().rstrip(".")
    if scheme in {"https", "wss"}:
        return True
    if scheme not in {"http", "ws"}:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def microphone_problem(url: str | None, report: BrowserReport | None) -> str | None:
    """What keeps this page from the microphone, in plain words (Markdown; English, marked for the
    volunteer pages' catalogs: the page translates it), or None if nothing is known to.

    ``url``: the page's address as the browser shows it (``st.context.url``), None if unknown.
    ``report``: what the browser said, None before it has. The address is checked on the server,
    so a plain-http page is caught on the very first run, before the browser has reported.
    """
    if (url is not None and not secure_address(url)) or (report is not None and report.secure is False):
        return INSECURE_ADDRESS
    if report is None:
        return None
    if report.microphone_api is False:
        return NO_MICROPHONE_ACCESS
    if report.permission == "denied":
        return MICROPHONE_BLOCKED
    return None


def is_raw(settings: Mapping[str, object]) -> bool:
    """True if a microphone track's ``getSettings()`` reports none of RAW_AUDIO's processing on.

    A browser that ignores a constraint reports it as true (Safari keeps auto gain on, for one);
    a setting it does not report at all is taken as off, since it has no such processing to apply.
    """
    return not any(settings.get(name) is True for name in RAW_AUDIO)
