"""Credentials never reach a message or a log line: ``redact`` on the URL forms that leaked."""

from __future__ import annotations

import pytest

from speechrec.errors import REDACTED, redact, redact_url

SECRET = "Sup3r/Secret+Key"


@pytest.mark.parametrize(
    "url",
    [
        f"s3://AKIAEXAMPLE:{SECRET}@bucket/prefix",
        f"https://user:{SECRET}@storage.example.org/audio",
        f"postgresql+psycopg://speechrec:{SECRET}@db.example.org:5432/speech",
        f"postgresql://speechrec:{SECRET.replace('/', '%2F').replace('+', '%2B')}@db/speech",
        f"postgresql://speechrec@db/speech?password={SECRET}",
        f"ftp://user:{SECRET}@host/x",
        f"https://user:p@{SECRET}@host/x",  # an unescaped "@" in the password
    ],
)
def test_a_url_quoted_in_a_message_loses_its_credentials(url):
    message = f"audio storage {url!r} cannot be written: connection refused ({url})"
    for cleaned in (redact(message), redact(message, url)):
        assert "Secret" not in cleaned and "%2F" not in cleaned
        assert REDACTED in cleaned
        assert "cannot be written: connection refused" in cleaned


def test_the_configured_urls_secrets_go_wherever_they_are_quoted():
    url = f"s3://AKIAEXAMPLE:{SECRET}@bucket/prefix"
    message = f'Invalid bucket name "AKIAEXAMPLE:{SECRET}@bucket": must match ...; the key {SECRET} was refused'
    cleaned = redact(message, url)
    assert SECRET not in cleaned
    assert cleaned.startswith(f'Invalid bucket name "{REDACTED}@bucket"')


@pytest.mark.parametrize("secret", ["S3CRET/sk", "S3CRET+ab/cd/ef", "ab/S3CRETxyz", "S3CRET?x#y", "S3+CRET/x@y"])
def test_every_piece_of_a_secret_a_back_end_may_cut_at_a_slash_is_removed(secret):
    """s3fs takes what is before the first "/" of ``KEY:SECRET/REST@bucket`` for the bucket name,
    and boto quotes it: 'Invalid bucket name "KEY:SECRET"'."""
    url = f"s3://AKIAKEY:{secret}@bucket/prefix"
    bucket = url.removeprefix("s3://").split("/", 1)[0]
    messages = [
        f'Parameter validation failed: Invalid bucket name "{bucket}": Bucket name must match',
        f"no such key {url.removeprefix('s3://').split('/', 1)[1]!r} in {bucket}",
        f"{secret.replace('+', ' ')} {secret.replace('/', '%2F')}",
    ]
    for message in messages:
        cleaned = redact(message, url)
        assert "S3CRET" not in cleaned and "S3+CRET" not in cleaned and "S3 CRET" not in cleaned, cleaned
        assert "AKIAKEY:ab" not in cleaned
    assert redact(f"cannot open {url}") == "cannot open s3://***@bucket/prefix"


@pytest.mark.parametrize(
    ("connection", "secret"),
    [
        ("host=127.0.0.1 port=1 password=S3CRETpw", "S3CRETpw"),
        ("host=db user=u password='S3CRET pw' dbname=speech", "S3CRET pw"),
        ("host=db PASSWORD = S3CRETpw", "S3CRETpw"),
        ("Server=db;Uid=u;Pwd=S3CRETpw;", "S3CRETpw"),
        ("dbname=x sslpassword=S3CRETpw", "S3CRETpw"),
    ],
)
def test_a_key_value_connection_string_loses_its_password(connection, secret):
    message = f"invalid connection string {connection!r}: missing '=' after 'x'; the server refused {secret}"
    for cleaned in (redact(message), redact(message, connection)):
        assert "S3CRET" not in cleaned.split("refused")[0], cleaned
        assert "host" in cleaned or "Server" in cleaned or "dbname" in cleaned
    assert "S3CRET" not in redact(message, connection)  # the configured one's value wherever it is quoted


def test_words_that_merely_contain_password_are_left_alone():
    message = "the password authentication failed; mypassword=x and passwords=y stay"
    assert redact(message) == message


def test_messages_without_credentials_stay_as_they_are():
    message = "no clip 'abc'; write to admin@example.org or see https://example.org/help?page=2"
    assert redact(message, "sqlite:///data/speechrec.sqlite3", "/data/audio", None) == message


def test_a_short_password_is_removed_from_urls_without_garbling_the_text():
    url = "postgresql://user:pw@host/db"
    cleaned = redact(f"password authentication failed for user 'user' at {url}", url)
    assert cleaned == f"password authentication failed for user 'user' at postgresql://{REDACTED}@host/db"


def test_redact_url():
    assert redact_url(f"s3://AKIAEXAMPLE:{SECRET}@bucket/prefix") == f"s3://{REDACTED}@bucket/prefix"
    assert redact_url("s3://bucket/prefix") == "s3://bucket/prefix"


def test_a_password_that_is_part_of_a_word_leaves_the_word_alone():
    url = "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/speech"
    cleaned = redact(f"no speechrec store in postgresql+psycopg://postgres:***@127.0.0.1:5432/speech; {url}", url)
    assert cleaned.startswith("no speechrec store in postgresql+psycopg://***@127.0.0.1")
    assert "postgres:postgres" not in cleaned


# ---- messages kept as a template, to be said in the reader's language ----------------------------


def test_a_worded_error_is_english_as_str_and_in_the_language_of_a_translate():
    import pickle

    from speechrec.errors import AudioError

    error = AudioError.worded("{name}: has {count} problems", name="take.ogg", count=2)
    assert str(error) == "take.ogg: has 2 problems" and isinstance(error, ValueError)
    german = {"{name}: has {count} problems": "{name}: hat {count} Probleme"}
    assert error.in_words(lambda text: german.get(text, text)) == "take.ogg: hat 2 Probleme"
    # Errors cross process boundaries (import and export workers): the template goes with them.
    copied = pickle.loads(pickle.dumps(error))
    assert copied.in_words(lambda text: german.get(text, text)) == "take.ogg: hat 2 Probleme"


def test_an_error_without_a_template_is_said_as_it_is():
    from speechrec.errors import StoreError

    assert StoreError("no clip 'x'").in_words(lambda text: "übersetzt") == "no clip 'x'"
