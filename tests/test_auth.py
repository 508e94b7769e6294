"""Organizer passwords: hashes, constant-time checks, the generated first password, attempt delays."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from speechrec.auth import (
    ADDRESS_BUCKET_PREFIX,
    GLOBAL_BUCKET,
    GLOBAL_MAX_DELAY_S,
    MAX_DELAY_S,
    ORGANIZER_SESSION_S,
    PASSWORD_FILE_NAME,
    check_buckets,
    check_password,
    client_network,
    failure_delay_s,
    generated_password,
    hash_password,
    is_organizer_email,
    organizer_emails,
    organizer_session_token,
    organizer_session_valid,
    session_key,
    sign_in_buckets,
    sign_in_delay_s,
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


@pytest.mark.parametrize(
    ("failures", "address_s", "global_s"), [(1, 0.5, 0.5), (5, 8.0, 8.0), (6, 16.0, 10.0), (10**6, 30.0, 10.0)]
)
def test_the_floor_for_everyone_is_capped_lower_than_one_network(failures, address_s, global_s):
    assert sign_in_delay_s(ADDRESS_BUCKET_PREFIX + "0" * 32, failures) == address_s
    assert sign_in_delay_s(GLOBAL_BUCKET, failures) == global_s
    assert GLOBAL_MAX_DELAY_S < MAX_DELAY_S


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4 as an IPv6 server sees it
        ("2001:db8:7:1::10", "2001:db8:7:1::/64"),
        ("2001:0db8:0007:0001:ffff:ffff:ffff:ffff", "2001:db8:7:1::/64"),  # one /64, however written
        ("fe80::1%eth0", "fe80::/64"),
        (None, None),
        ("", None),
        ("unknown", None),
        ("203.0.113.7, 10.0.0.1", None),  # a header's list is not one address
        (object(), None),  # AppTest's st.context gives a mock
    ],
)
def test_sign_ins_are_counted_per_client_network(address, network):
    assert client_network(address) == network


def test_sign_in_buckets_hold_a_keyed_digest_never_the_address():
    key = session_key("tum-organizers")
    everyone, network = sign_in_buckets("2001:db8:7:1::10", key)
    assert everyone == GLOBAL_BUCKET and network.startswith(ADDRESS_BUCKET_PREFIX) and len(network) <= 64
    assert "2001" not in network and "db8" not in network
    assert sign_in_buckets("2001:db8:7:1::99", key) == (everyone, network)  # the same /64
    assert sign_in_buckets("2001:db8:7:2::10", key)[1] != network
    assert sign_in_buckets("2001:db8:7:1::10", session_key("another password"))[1] != network
    assert sign_in_buckets(None, key) == (GLOBAL_BUCKET,)  # no address known: the floor alone


@pytest.mark.parametrize("buckets", [[], "all", ["all", ""], ["x" * 65], [3], None])
def test_bucket_lists_are_checked(buckets):
    with pytest.raises(ValueError, match="bucket"):
        check_buckets(buckets)
    assert check_buckets(["b", "a", "b"]) == ["a", "b"]


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
