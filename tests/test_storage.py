"""AudioStorage and ClipStore at their edges: what their messages may say (never a credential)."""

from __future__ import annotations

import pytest
from backends import free_port

from speechrec.config import load_settings
from speechrec.errors import StoreError
from speechrec.storage import AudioStorage
from speechrec.store import ClipStore

PASSWORD = "hunter22-Secret"


def storage_failure(url: str) -> str:
    with pytest.raises(StoreError) as raised:
        AudioStorage(url).check()
    return str(raised.value)


@pytest.mark.parametrize("scheme", ["https", "http", "ftp"])
def test_an_unreachable_storage_url_is_named_without_its_credentials(scheme):
    message = storage_failure(f"{scheme}://organizer:{PASSWORD}@127.0.0.1:{free_port()}/audio")
    assert PASSWORD not in message
    assert f"{scheme}://***@127.0.0.1" in message


def test_s3_credentials_in_the_url_are_never_quoted(s3_environment):
    message = storage_failure(f"s3://AKIAEXAMPLE:{PASSWORD}@{s3_environment.create_bucket()}/audio")
    assert PASSWORD not in message and "AKIAEXAMPLE:" not in message
    assert "s3://***@" in message


def test_an_unreachable_database_is_named_without_its_password(tmp_path):
    url = f"postgresql+psycopg://speechrec:{PASSWORD}@127.0.0.1:{free_port()}/speech"
    with pytest.raises(StoreError, match="cannot open the database") as raised:
        ClipStore(load_settings(tmp_path, database_url=url, environ={}))
    assert PASSWORD not in str(raised.value)
