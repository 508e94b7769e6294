"""Wrong organizer passwords are throttled in the store, on SQLite + folder and PostgreSQL + S3: a
new browser session per guess waits as long as the previous one, replicas (stores on one database)
share the waits, checks claimed at once get one slot, and a right password clears its network.

Time is the tests' own (``now=``, and the sign-in page's ``utc_now`` and ``sleep`` moved by a
fake clock): every wait is asserted as a number or a message, never by timing."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
from conftest import LOCAL
from test_app import clean_app, organizer_app, shown, sign_in  # noqa: F401 (clean_app: autouse fixture)

import speechrec.ui.auth
from speechrec.auth import (
    FAILURE_MEMORY_S,
    GLOBAL_BUCKET,
    GLOBAL_MAX_DELAY_S,
    MAX_DELAY_S,
    session_key,
    sign_in_buckets,
    sign_in_delay_s,
)
from speechrec.config import Settings, load_settings
from speechrec.store import ClipStore
from speechrec.ui import state

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ADDRESS = sign_in_buckets("203.0.113.7", b"key")  # (everyone, one network)
OTHER_ADDRESS = sign_in_buckets("198.51.100.20", b"key")


@pytest.fixture
def store_settings(backend_settings) -> Settings:
    return backend_settings


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fail_until_waiting(store: ClipStore, buckets, failures: int, start: float = 0.0) -> float:
    """``failures`` wrong passwords from ``buckets``, each as soon as allowed; return the time after the last."""
    now = start
    for _ in range(failures):
        now += store.sign_in_wait_s(buckets, now=at(now))
        assert store.claim_sign_in(buckets, now=at(now)) == 0.0
    return now


# ---- the store ----------------------------------------------------------------------------------------


def test_each_wrong_password_doubles_the_wait_up_to_the_caps(store):
    assert store.sign_in_wait_s(ADDRESS, now=at(0)) == 0.0
    now = 0.0
    for failures in range(1, 10):
        now = fail_until_waiting(store, ADDRESS, 1, start=now)
        expected = max(sign_in_delay_s(GLOBAL_BUCKET, failures), sign_in_delay_s(ADDRESS[1], failures))
        assert store.sign_in_wait_s(ADDRESS, now=at(now)) == expected == min(MAX_DELAY_S, 0.5 * 2 ** (failures - 1))
        # Asked too early, a check is refused with the time left, and nothing more is counted.
        assert store.claim_sign_in(ADDRESS, now=at(now + expected - 0.25)) == 0.25
        assert store.sign_in_wait_s(ADDRESS, now=at(now)) == expected
    # Another network meets only the floor for everyone, which is capped lower.
    assert store.sign_in_wait_s(OTHER_ADDRESS, now=at(now)) == GLOBAL_MAX_DELAY_S == 10.0


def test_two_replicas_on_one_database_share_the_waits(store, store_settings):
    replica = ClipStore(store_settings)  # another app process on the same database
    try:
        assert store.claim_sign_in(ADDRESS, now=at(0)) == 0.0
        assert replica.sign_in_wait_s(ADDRESS, now=at(0)) == 0.5
        assert replica.claim_sign_in(ADDRESS, now=at(0.1)) == pytest.approx(0.4)
        assert replica.claim_sign_in(ADDRESS, now=at(0.5)) == 0.0  # its failure counts on the first one
        assert store.sign_in_wait_s(ADDRESS, now=at(0.5)) == 1.0
        replica.sign_in_succeeded(ADDRESS, now=at(0.6))
        assert store.sign_in_wait_s(ADDRESS[1:], now=at(0.6)) == 0.0
    finally:
        replica.close()


def claim_at_once(settings: Settings, barrier, results) -> None:
    """In another process (a replica): wait for the others, then claim a check at the same instant."""
    store = ClipStore(settings)
    try:
        barrier.wait(60)
        results.put(store.claim_sign_in(ADDRESS, now=at(0)))
    finally:
        store.close()


def test_checks_claimed_at_once_by_several_replicas_get_one_slot(store, store_settings):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [context.Process(target=claim_at_once, args=(store_settings, barrier, results)) for _ in range(4)]
    for process in processes:
        process.start()
    waits = sorted(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(60)
    assert waits == [0.0, 0.5, 0.5, 0.5]  # one password checked; the others told to wait
    assert store.sign_in_wait_s(ADDRESS, now=at(0)) == 0.5  # and one failure counted, not four


def test_a_right_password_clears_its_network_but_not_the_guesses_of_others(store):
    now = fail_until_waiting(store, OTHER_ADDRESS, 3)  # someone else guessed 3 times
    now = fail_until_waiting(store, ADDRESS, 2, start=now)  # the organizer mistyped twice
    assert store.sign_in_wait_s(ADDRESS, now=at(now)) == sign_in_delay_s(GLOBAL_BUCKET, 5) == 8.0  # the floor
    now += 8.0
    assert store.claim_sign_in(ADDRESS, now=at(now)) == 0.0  # the third try ...
    store.sign_in_succeeded(ADDRESS, now=at(now))  # ... was right
    assert store.sign_in_wait_s(ADDRESS, now=at(now)) == 0.0
    assert stored_rows(store) == {GLOBAL_BUCKET: 5, OTHER_ADDRESS[1]: 3}
    # The organizer's next typo starts their network from the start; everyone's count goes on.
    assert store.claim_sign_in(ADDRESS, now=at(now)) == 0.0
    assert stored_rows(store) == {GLOBAL_BUCKET: 6, OTHER_ADDRESS[1]: 3, ADDRESS[1]: 1}
    assert store.sign_in_wait_s(ADDRESS, now=at(now)) == GLOBAL_MAX_DELAY_S


def stored_rows(store: ClipStore) -> dict[str, int]:
    engine = sqlalchemy.create_engine(store.settings.database_url)
    with engine.connect() as connection:
        rows = dict(connection.execute(sqlalchemy.text("SELECT bucket, failures FROM sign_in_failures")).all())
    engine.dispose()
    return rows


def test_failures_are_forgotten_after_a_quiet_while_and_their_rows_go(store):
    now = fail_until_waiting(store, OTHER_ADDRESS, 6)
    later = now + FAILURE_MEMORY_S
    assert store.sign_in_wait_s(OTHER_ADDRESS, now=at(later)) == 0.0
    assert store.claim_sign_in(ADDRESS, now=at(later)) == 0.0  # counts from 1 again, and cleans up
    assert stored_rows(store) == {GLOBAL_BUCKET: 1, ADDRESS[1]: 1}


@pytest.mark.parametrize(
    ("buckets", "now", "message"),
    [
        ([], at(0), "non-empty list"),
        ("all", at(0), "non-empty list"),
        (["x" * 65], at(0), "1 to 64 characters"),
        ([None], at(0), "1 to 64 characters"),
        (["all"], datetime(2025, 3, 1, 12, 0), "time zone"),
    ],
)
def test_bad_sign_in_arguments_are_refused(store, buckets, now, message):
    with pytest.raises(ValueError, match=message):
        store.claim_sign_in(buckets, now=now)


# ---- the sign-in page (AppTest): one new browser session per guess ------------------------------------


class Clock:
    """The sign-in page's time: stands still unless a test (or the page's ``sleep``) moves it."""

    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(speechrec.ui.auth, "utc_now", lambda: clock.now)
    monkeypatch.setattr(speechrec.ui.auth, "sleep", clock.sleep)
    return clock


@pytest.fixture
def app_store(request, backend, monkeypatch) -> ClipStore:
    """The store the app opens: the data folder of ``clean_app``, or a PostgreSQL + S3 store named in SPEECHREC_*."""
    if backend != LOCAL:
        remote = request.getfixturevalue("remote_settings")()
        monkeypatch.setenv("SPEECHREC_DATABASE_URL", remote.database_url)
        monkeypatch.setenv("SPEECHREC_STORAGE_URL", remote.storage_url)
    store = ClipStore(load_settings())
    yield store
    store.close()


def guess(password: str) -> str:
    """One sign-in in a new browser session (nothing of the last one kept); the message it shows."""
    at = sign_in(organizer_app(), password)
    assert not at.exception
    if at.session_state[state.ORGANIZER]:
        return "signed in"
    return shown(at.error[0].value)


def test_a_new_session_per_wrong_guess_waits_as_long_as_the_last_one(app_store, clock):
    # The first waits are short: the page waits them out before checking, so every guess is checked.
    assert [guess("guess") for _ in range(4)] == ["Wrong password."] * 3 + [
        "Wrong password. The next one can be checked in 4 seconds."
    ]
    assert clock.slept == [0.5, 1.0, 2.0]
    # A new session right away is not checked at all, whatever it types: the wait is told, not slept.
    for password in ("guess", "tum-organizers"):
        assert guess(password) == (
            "Too many wrong passwords were tried. The password was not checked: wait 4 seconds, then sign in again."
        )
    clock.advance(1)
    assert guess("guess").endswith("wait 3 seconds, then sign in again.")
    clock.advance(3)
    assert guess("guess") == "Wrong password. The next one can be checked in 8 seconds."
    assert clock.slept == [0.5, 1.0, 2.0]  # nothing slept for the long waits
    clock.advance(7)
    # 1 s waited out; without a client address only the floor for everyone counts, capped at 10 s.
    assert guess("guess") == "Wrong password. The next one can be checked in 10 seconds."
    assert clock.slept == [0.5, 1.0, 2.0, 1.0]
    clock.advance(10)
    assert guess("tum-organizers") == "signed in"
    assert app_store.sign_in_wait_s([GLOBAL_BUCKET], now=clock.now) == 0.0


def test_the_page_counts_by_the_client_network_and_a_right_password_clears_it(app_store, clock, monkeypatch):
    monkeypatch.setattr(speechrec.ui.auth, "client_address", lambda: "2001:db8:7:1::10")
    assert [guess("guess") for _ in range(3)] == ["Wrong password."] * 3
    organizer, neighbour = (sign_in_buckets(address, session_key("tum-organizers"))[1] for address in
                            ("2001:db8:7:1::99", "2001:db8:7:2::10"))  # fmt: skip
    assert stored_rows(app_store) == {GLOBAL_BUCKET: 3, organizer: 3}  # the /64 counted, no address stored
    assert not any("2001" in bucket for bucket in stored_rows(app_store))
    assert guess("tum-organizers") == "signed in"  # after waiting the last 2 s out
    assert stored_rows(app_store) == {GLOBAL_BUCKET: 3}
    monkeypatch.setattr(speechrec.ui.auth, "client_address", lambda: "2001:db8:7:2::10")  # another /64
    assert guess("guess") == "Wrong password. The next one can be checked in 4 seconds."  # the floor's 4th
    assert stored_rows(app_store) == {GLOBAL_BUCKET: 4, neighbour: 1}


def test_an_empty_password_is_not_a_guess(app_store, clock):
    assert guess("") == "Type the organizer password, then press Sign in."
    assert stored_rows(app_store) == {}
