"""Participant codes: what a volunteer keeps to come back or to withdraw. Only their SHA-256
digest is stored, so the database alone never tells who holds which code."""

from __future__ import annotations

import hashlib
import secrets

# 12 characters from an alphabet without look-alikes (no 0/O, 1/I/L): 31**12, about 2**59.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12


def new_participant_code() -> str:
    """A fresh random code (``secrets``), normalized: 12 characters of ``CODE_ALPHABET``."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_participant_code(code: object) -> str:
    """Upper-case a typed participant code and drop spaces and dashes; ValueError if malformed,
    TypeError if not a string."""
    if not isinstance(code, str):
        raise TypeError(f"participant code must be a string, got {code!r}")
    cleaned = code.upper().replace("-", "").replace(" ", "")
    if len(cleaned) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in cleaned):
        raise ValueError(
            f"participant code {code!r} is not valid: it has {CODE_LENGTH} letters and digits, "
            "like 'K7QM-2XPA-9DHT'; check it for typos"
        )
    return cleaned


def format_participant_code(code: str) -> str:
    """Group a normalized code in fours for display: 'K7QM-2XPA-9DHT'."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def code_digest(code: str) -> str:
    """The SHA-256 hex digest stored for a code, however it was typed (see ``normalize_participant_code``)."""
    return hashlib.sha256(normalize_participant_code(code).encode()).hexdigest()
