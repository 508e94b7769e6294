"""Organizer passwords: hashes, constant-time checks, the generated first password, attempt delays."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from speechrec.auth import (
    MAX_DELAY_S,
    ORGANIZER_SESSION_S,
    PASSWORD_FILE_NAME,
    check_password,
    failure_delay_s,
    generated_password,
    hash_password,
    is_organizer_email,
    organizer_emails,
    organizer_session_token,
    organizer_session_valid,
    session_key,
)

REPO = Path(__file__).resolve().parent.parent


def test_a_hash_checks_only_its_password():
    hashed = hash_password("correct horse")
    assert hashed.startswith("scrypt$")
    assert check_password("correct horse", hashed)
    assert not check_password("correct hors", hashed)
    assert not check_password("", hashed)


def test_hashes_are_salted():
    assert hash_password("same") != hash_password("same")


def test_a_plain_configured_password():
    assert check_password("s3cret", "s3cret")
    assert not check_password("s3cret ", "s3cret")


@pytest.mark.parametrize("configured", ["scrypt$", "scrypt$16384$8$1$!!!$???", "scrypt$x$8$1$AAAA$AAAA"])
def test_a_malformed_hash_is_a_configuration_error(configured):
    with pytest.raises(ValueError, match=r"organizer password hash in secrets\.toml is malformed"):
        check_password("anything", configured)


@pytest.mark.parametrize("password", ["", None])
def test_hash_refuses_an_empty_password(password):
    with pytest.raises(ValueError, match="non-empty string"):
        hash_password(password)


def test_generated_password_is_made_once_and_kept_private(tmp_path):
    password, created = generated_password(tmp_path / "data")
    assert created and len(password) >= 24
    assert generated_password(tmp_path / "data") == (password, False)
    mode = os.stat(tmp_path / "data" / PASSWORD_FILE_NAME).st_mode
    assert stat.S_IMODE(mode) == 0o600


@pytest.mark.parametrize(("failures", "delay"), [(0, 0.0), (1, 0.5), (2, 1.0), (3, 2.0), (20, MAX_DELAY_S)])
def test_delays_grow_with_failures(failures, delay):
    assert failure_delay_s(failures) == delay


def test_cli_hashes_a_password_from_standard_input():
    result = subprocess.run(
        [sys.executable, "-m", "speechrec", "hash-password"],
        input="tum-organizer\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    hashed = result.stdout.strip()
    assert check_password("tum-organizer", hashed)
    assert "tum-organizer" not in result.stdout.replace(hashed, "")


def test_organizer_emails_are_case_folded_and_checked():
    allowed = organizer_emails([" Ada@Example.org ", ""])
    assert allowed == frozenset({"ada@example.org"})
    assert is_organizer_email("ADA@example.org", allowed)
    assert not is_organizer_email("eve@example.org", allowed) and not is_organizer_email(None, allowed)
    assert organizer_emails(None) == frozenset()


@pytest.mark.parametrize("configured", ["ada@example.org", [1, 2], {"ada": True}])
def test_organizer_emails_must_be_a_list_of_addresses(configured):
    with pytest.raises(TypeError, match=r"\[organizer\] emails must be a list of e-mail addresses"):
        organizer_emails(configured)


def test_an_organizer_session_token_is_accepted_with_its_key_only():
    key = session_key("tum-organizers")
    token = organizer_session_token(key)
    assert organizer_session_valid(token, key)
    assert "tum-organizers" not in token  # no password in the cookie
    assert not organizer_session_valid(token, session_key("another password"))  # a new password ends it
    assert session_key("tum-organizers") == key  # every process derives the same key


def test_an_expired_organizer_session_token_is_refused():
    key = session_key("tum-organizers")
    token = organizer_session_token(key)
    assert ORGANIZER_SESSION_S == 12 * 3600
    assert not organizer_session_valid(token, key, max_age_s=-1)


@pytest.mark.parametrize("token", [None, "", "organizer", 42, "eyJyb2xlIjoib3JnYW5pemVyIn0.ZZZZZZ.forged"])
def test_a_forged_or_malformed_organizer_session_token_is_refused(token):
    assert not organizer_session_valid(token, session_key("tum-organizers"))


def test_a_tampered_organizer_session_token_is_refused():
    key = session_key("tum-organizers")
    token = organizer_session_token(key)
    payload, timestamp, signature = token.split(".")
    assert not organizer_session_valid(f"{payload}.{timestamp}.{signature[:-2]}AA", key)


@pytest.mark.parametrize("password", ["", None])
def test_a_session_key_needs_a_password(password):
    with pytest.raises(ValueError, match="non-empty string"):
        session_key(password)


@pytest.mark.parametrize(
    "claims, verified",
    [
        ({"email_verified": True}, True),
        ({"email_verified": "true"}, True),
        ({"email_verified": " TRUE "}, True),
        ({"email_verified": False}, False),
        ({"email_verified": "false"}, False),
        ({"email_verified": 1}, False),
        ({"email_verified": "yes"}, False),
        ({}, False),
    ],
)
def test_only_an_email_the_provider_verified_counts(claims, verified):
    from speechrec.auth import is_verified_email

    assert is_verified_email({"email": "ada@example.org", **claims}) is verified
