"""What keeps a browser from the microphone: the secure-context rule by address, and the messages."""

from __future__ import annotations

import pytest

from speechrec.microphone import (
    INSECURE_ADDRESS,
    MICROPHONE_BLOCKED,
    NO_MICROPHONE_ACCESS,
    BrowserReport,
    is_raw,
    microphone_problem,
    secure_address,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://tum-words.streamlit.app/",
        "HTTPS://example.org:8443/record?code=K7QM-2XPA-9DHT",
        "http://localhost:8501",
        "http://LOCALHOST:8501/record",
        "http://speechrec.localhost:8501",
        "http://127.0.0.1:8501",
        "http://127.3.2.1/",
        "http://[::1]:8501/",
    ],
)
def test_secure_addresses(url):
    assert secure_address(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://192.168.1.20:8501",
        "http://10.0.0.5/record",
        "http://laptop.local:8501",
        "http://localhost.example.org:8501",
        "http://[fe80::1]:8501/",
        "http://0.0.0.0:8501",
        "file:///home/ada/index.html",
        "",
    ],
)
def test_insecure_addresses(url):
    assert not secure_address(url)


def test_a_non_string_address_is_a_type_error():
    with pytest.raises(TypeError, match="url must be a string"):
        secure_address(None)


def test_plain_http_on_a_lan_is_caught_before_the_browser_reports():
    assert microphone_problem("http://192.168.1.20:8501", None) == INSECURE_ADDRESS
    assert "https://" in INSECURE_ADDRESS


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (None, None),
        (BrowserReport(secure=True, microphone_api=True, permission="prompt"), None),
        (BrowserReport(secure=True, microphone_api=True, permission=None), None),
        (BrowserReport(secure=False, microphone_api=False), INSECURE_ADDRESS),  # e.g. behind a proxy that hides http
        (BrowserReport(secure=True, microphone_api=False), NO_MICROPHONE_ACCESS),  # an in-app browser
        (BrowserReport(secure=True, microphone_api=True, permission="denied"), MICROPHONE_BLOCKED),
    ],
)
def test_what_the_browser_reports_decides_on_a_secure_address(report, expected):
    assert microphone_problem("https://tum-words.streamlit.app/", report) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"secure": True, "microphone_api": True, "permission": "granted"}, BrowserReport(True, True, "granted")),
        ({"secure": "yes", "microphone_api": None}, BrowserReport(None, None, None)),
        ({}, BrowserReport()),
        (None, None),
        ("secure", None),
    ],
)
def test_a_report_is_read_from_the_components_value(value, expected):
    assert BrowserReport.from_value(value) == expected


@pytest.mark.parametrize(
    ("settings", "raw"),
    [
        ({"echoCancellation": False, "noiseSuppression": False, "autoGainControl": False, "sampleRate": 48000}, True),
        ({}, True),  # e.g. a stream from Web Audio: no processing to report
        ({"echoCancellation": False, "noiseSuppression": False, "autoGainControl": True}, False),
        ({"noiseSuppression": True}, False),
    ],
)
def test_a_track_is_raw_when_it_reports_no_processing_on(settings, raw):
    assert is_raw(settings) is raw
