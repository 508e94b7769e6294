"""The volunteer pages under AppTest: consent, participant codes, the fallback recorder, bad setup."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import streamlit as st
import streamlit.testing.v1.app_test
import streamlit_webrtc.component
from signals import QUIRKS_DIR, load_word, scale_to_dbfs, steady_noise, wav_with_header_rate
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

import speechrec.ui.browser
from speechrec.auth import (
    GLOBAL_BUCKET,
    ORGANIZER_SESSION_S,
    organizer_session_token,
    organizer_session_valid,
    session_key,
)
from speechrec.campaign import NOISE_KEYWORD, load_campaign
from speechrec.config import load_settings
from speechrec.microphone import INSECURE_ADDRESS, NO_MICROPHONE_ACCESS
from speechrec.prompts import Prompt, build_schedule
from speechrec.quality import assess_take
from speechrec.schema import clips_table
from speechrec.store import ClipStore
from speechrec.ui import state
from speechrec.ui.auth import SESSION_COOKIE
from speechrec.ui.volunteer import CODE_COOKIE, LINK_CODE_MALFORMED, LINK_CODE_UNKNOWN, RECORDER_COOKIE

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "streamlit_app.py"
CAMPAIGN = load_campaign(REPO / "campaign.toml")
RATE = 48000
SPEECHREC_VARIABLES = ("SPEECHREC_DATA", "SPEECHREC_DATABASE_URL", "SPEECHREC_STORAGE_URL", "SPEECHREC_CAMPAIGN")


class NavigationPagesManager(PagesManager):
    """AppTest (Streamlit 1.67) starts every run by looking for a pages/ folder beside the script and,
    finding ours, runs reruns in the legacy folder mode: the page script alone, without
    streamlit_app.py. The server runs streamlit_app.py on every rerun (st.navigation turns the
    folder mode off), and so must the tests: its session restore and cookies run there."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


@pytest.fixture(autouse=True)
def clean_app(monkeypatch, tmp_path):
    """Each test: no SPEECHREC_* from outside, the data folder in tmp_path, cwd the repo, empty caches."""
    for name in SPEECHREC_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPEECHREC_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(REPO)
    # AppTest cannot run the WebRTC component; without a browser session it must think none exists.
    monkeypatch.setattr(streamlit_webrtc.component, "get_this_session_info", lambda: None)
    monkeypatch.setattr(streamlit.testing.v1.app_test, "PagesManager", NavigationPagesManager)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def run_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60).run()


def shown(markdown: str) -> str:
    """What the browser shows for a message's Markdown: escapes, invisible word joiners and
    directional isolates (around a keyword in a sentence) gone."""
    return re.sub(r"\\(.)", r"\1", markdown).translate(dict.fromkeys(map(ord, "\u2060\u2068\u2069")))


def button(at: AppTest, label: str):
    return next(item for item in at.button if item.label == label)


def open_store() -> ClipStore:
    return ClipStore(load_settings())


def wav(samples: np.ndarray, rate: int = RATE) -> tuple[str, bytes, str]:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return "take.wav", buffer.getvalue(), "audio/wav"


def spoken_take() -> np.ndarray:
    samples, _ = load_word("yes", RATE, trim=True)
    room = steady_noise(1.0, RATE, -60.0)
    return np.concatenate([room, scale_to_dbfs(samples, -25.0), room]).astype(np.float32)


def agree(at: AppTest) -> AppTest:
    at.checkbox[0].check().run()
    return button(at, "Start").click().run()


def simple_recorder(at: AppTest) -> AppTest:
    """Switch the record page to the simple recorder (st.audio_input)."""
    return next(item for item in at.toggle if "simple recorder" in item.label).set_value(True).run()


def prompted_word(at: AppTest) -> str:
    return next(item.value for item in at.markdown if "font-size:4rem" in item.value).split(">")[1].split("<")[0]


def test_welcome_shows_the_campaign_and_its_consent():
    at = run_app()
    assert not at.exception
    assert shown(at.title[0].value) == CAMPAIGN.title
    assert any(CAMPAIGN.consent_text.strip()[:40] in item.value for item in at.markdown)
    assert button(at, "Start").disabled  # nothing happens before the volunteer agrees
    assert open_store().speakers().empty


def test_agreeing_creates_a_speaker_and_shows_the_code_with_a_copy_button_and_a_resume_link():
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.context["url"] = "https://tum-words.example.org/"
    agree(at.run())
    assert not at.exception
    speakers = open_store().speakers()
    assert len(speakers) == 1 and speakers["consent_version"].tolist() == [CAMPAIGN.consent_version]
    assert at.session_state[state.SPEAKER_ID] == speakers["speaker_id"][0]
    code = at.session_state[state.PARTICIPANT_CODE]
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", code)
    # st.code blocks: each has Streamlit's copy button.
    assert [block.value for block in at.code] == [code, f"https://tum-words.example.org/?code={code}"]
    assert open_store().find_speaker(code) == speakers["speaker_id"][0]
    # The code is the one secret the address carries; the browser keeps it in a cookie too.
    assert at.query_params["code"] == code
    assert at.session_state[state.COOKIES][CODE_COOKIE]["value"] == code


def test_live_recorder_starts_with_a_microphone_check():
    at = agree(run_app()).switch_page("pages/record.py").run()
    assert not at.exception
    assert at.subheader[0].value == "First, a microphone check"
    assert not at.get("audio_input")  # the live recorder is the default


def test_a_live_recorder_that_got_no_audio_offers_the_simple_one_in_plain_words(monkeypatch):
    at = agree(run_app()).switch_page("pages/record.py").run()
    at.session_state[state.LIVE_FAILED] = True  # what speechrec.ui.live does when no audio came in time
    at.run()
    assert not at.exception
    assert "cannot reach the app from your network" in at.warning[0].value
    assert not at.subheader  # the live recorder (and its developer messages) is gone
    button(at, "Use the simple recorder").click().run()
    assert not at.exception
    assert at.get("audio_input")
    assert at.session_state[state.COOKIES][RECORDER_COOKIE]["value"] == "simple"  # kept across reloads
    # A reload (a new session from the same browser) keeps the choice.
    reloaded = app_with_cookie(monkeypatch, RECORDER_COOKIE, "simple")
    reloaded.session_state[state.SPEAKER_ID] = at.session_state[state.SPEAKER_ID]
    reloaded.run().switch_page("pages/record.py").run()
    assert reloaded.get("audio_input")


@pytest.mark.parametrize("url", ["http://192.168.1.20:8501/", "http://laptop.local:8501/record"])
def test_a_plain_http_address_is_explained_before_consent(url):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.context["url"] = url
    at.run()
    assert not at.exception
    assert at.error[0].value == INSECURE_ADDRESS
    assert not at.checkbox and not [item for item in at.button if item.label == "Start"]  # no consent asked
    assert open_store().speakers().empty


def test_a_browser_without_microphone_access_is_explained_before_consent(monkeypatch):
    report = {"secure": True, "microphone_api": False, "permission": None}
    monkeypatch.setattr("speechrec.ui.browser._component", lambda **kwargs: SimpleNamespace(report=report))
    at = run_app()
    assert not at.exception
    assert at.error[0].value == NO_MICROPHONE_ACCESS
    assert not at.checkbox


def test_a_returning_volunteer_on_a_plain_http_address_is_told_and_not_recorded():
    speaker = open_store().create_speaker(CAMPAIGN.consent_version)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.context["url"] = "http://192.168.1.20:8501/"
    at.query_params["code"] = speaker.participant_code
    at.run()
    assert not at.exception
    assert at.error[0].value == INSECURE_ADDRESS
    assert not at.get("audio_input") and not at.get("progress")


def test_record_page_asks_for_consent_first():
    at = run_app().switch_page("pages/record.py").run()
    assert not at.exception
    assert "agree to it first" in shown(at.warning[0].value)
    assert not at.get("audio_input")


def test_a_good_recording_is_stored_under_the_prompted_word():
    at = simple_recorder(agree(run_app()).switch_page("pages/record.py").run())
    word = prompted_word(at)
    total = len(CAMPAIGN.keywords) * CAMPAIGN.takes_per_keyword + len(CAMPAIGN.filler_words)
    assert f"0 / {total}" in at.get("progress")[0].proto.text
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    assert not at.exception
    clips = open_store().clips()
    assert clips["keyword"].tolist() == [word]
    assert clips["source"].tolist() == ["audio_input"]
    assert clips["session_id"].tolist() == [at.session_state[state.SESSION_ID]]
    assert "Got it" in shown(at.success[0].value)
    assert f"1 / {total}" in at.get("progress")[0].proto.text
    assert not at.get("audio_input")[0].value  # the recorder is empty for the next word


def test_a_silent_recording_is_refused_and_the_word_stays():
    at = simple_recorder(agree(run_app()).switch_page("pages/record.py").run())
    word = prompted_word(at)
    at.get("audio_input")[0].set_value(wav(steady_noise(2.0, RATE, -60.0))).run()
    assert not at.exception
    assert "no word was heard" in shown(at.error[0].value)
    assert open_store().clips().empty
    assert prompted_word(at) == word


@pytest.mark.parametrize("name", ["take.wav", "take-with-click.wav"])
def test_case_17_a_take_with_a_mouse_click_is_kept(name):
    at = simple_recorder(agree(run_app()).switch_page("pages/record.py").run())
    word = prompted_word(at)
    at.get("audio_input")[0].set_value((name, (QUIRKS_DIR / "17-click" / name).read_bytes(), "audio/wav")).run()
    assert not at.exception
    assert shown(at.success[0].value) == "Got it, thank you!"
    clips = open_store().clips()
    assert clips["keyword"].tolist() == [word] and clips["flags"].tolist() == [""]


def broken_upload(kind: str) -> tuple[str, bytes, str]:
    if kind.startswith("rate-"):
        return "take.wav", wav_with_header_rate(spoken_take(), int(kind.removeprefix("rate-"))), "audio/wav"
    return "take.wav", wav(spoken_take())[1][:30], "audio/wav"  # the upload stopped inside the header


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("rate-1", "sample rate of 1 Hz"),
        ("rate-999", "sample rate of 999 Hz"),
        ("rate-500000", "sample rate of 500000 Hz"),
        ("rate-4000000", "sample rate of 4000000 Hz"),
        ("cut-short", "cannot be decoded"),
    ],
)
def test_a_broken_recording_gets_one_plain_sentence_and_the_word_stays(kind, reason):
    at = simple_recorder(agree(run_app()).switch_page("pages/record.py").run())
    word = prompted_word(at)
    at.get("audio_input")[0].set_value(broken_upload(kind)).run()
    assert not at.exception
    message = shown(at.error[0].value)
    assert reason in message and message.endswith("please record again. Please try again.")
    assert not re.search(r"Errno|<none>|Traceback|longer than", message)
    assert open_store().clips().empty
    assert prompted_word(at) == word
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()  # and the next good take is kept
    assert not at.exception and len(open_store().clips()) == 1


def takes_toggle(at: AppTest):
    return next(item for item in at.toggle if "Replay or delete" in item.label)


def test_own_takes_can_be_replayed_and_deleted_and_the_list_stays_open():
    at = simple_recorder(agree(run_app()).switch_page("pages/record.py").run())
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    assert not at.get("audio")  # the players are built only on request
    takes_toggle(at).set_value(True).run()
    assert len(at.get("audio")) == 2
    at.button(key=f"delete-{open_store().clips()['clip_id'].iloc[0]}").click().run()
    assert not at.exception
    assert len(open_store().clips()) == 1
    assert takes_toggle(at).value and len(at.get("audio")) == 1  # still open after the delete


def recording_page() -> AppTest:
    return simple_recorder(agree(run_app()).switch_page("pages/record.py").run())


def test_the_last_take_is_replayed_with_one_tap():
    at = recording_page()
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    assert "Your last take" in at.caption[0].value and not at.get("audio")
    button(at, "Replay").click().run()
    assert not at.exception
    player = at.get("audio")[0].proto
    assert player.autoplay and player.url  # plays the stored take at once


def test_redo_deletes_the_last_take_and_asks_for_the_same_word_again():
    at = recording_page()
    word = prompted_word(at)
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    assert prompted_word(at) != word or len(CAMPAIGN.words) == 1
    button(at, "Redo").click().run()
    assert not at.exception
    assert open_store().clips().empty
    assert prompted_word(at) == word
    assert f"say “{word}” again" in shown(at.info[0].value)
    assert "0 / " in at.get("progress")[0].proto.text


def test_a_skipped_word_is_counted_not_stored_and_the_next_word_comes(monkeypatch):
    at = recording_page()
    speaker_id = at.session_state[state.SPEAKER_ID]
    schedule = [prompt.word for prompt in build_schedule(CAMPAIGN, speaker_id)]
    assert prompted_word(at) == schedule[0]
    button(at, "Skip this word").click().run()
    assert not at.exception
    assert open_store().clips().empty
    assert prompted_word(at) == schedule[1]
    assert open_store().skips(speaker_id) == {schedule[0]: 1}
    assert f"1 / {len(schedule)} · 1 skipped" in at.get("progress")[0].proto.text
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    assert open_store().clips()["keyword"].tolist() == [schedule[1]]  # the take went to the word shown
    assert open_store().clips()["raw"].tolist() == [False]  # st.audio_input leaves the browser's processing on
    # A reload (a new session of the same browser): the skipped word stays skipped.
    reloaded = app_with_cookie(monkeypatch, RECORDER_COOKIE, "simple")
    reloaded.session_state[state.SPEAKER_ID] = speaker_id
    reloaded.run().switch_page("pages/record.py").run()
    assert not reloaded.exception
    assert prompted_word(reloaded) == schedule[2]
    assert f"2 / {len(schedule)} · 1 skipped" in reloaded.get("progress")[0].proto.text


def prefill(store: ClipStore, speaker_id: str, prompts: list[str | Prompt]) -> None:
    """Store a take of each word (or schedule Prompt, in its variation) as an earlier session."""
    samples = spoken_take()
    quality = assess_take(samples, RATE)
    for prompt in prompts:
        word, variation = (prompt, None) if isinstance(prompt, str) else prompt
        store.add_clip(
            samples, RATE, quality, keyword=word, speaker_id=speaker_id, session_id="earlier", source="webrtc",
            variation=variation,
        )  # fmt: skip


def test_coming_back_with_the_code_resumes_the_schedule():
    store = open_store()
    speaker = store.create_speaker(CAMPAIGN.consent_version)
    schedule = build_schedule(CAMPAIGN, speaker.speaker_id)
    prefill(store, speaker.speaker_id, schedule[:4])
    at = run_app()
    at.text_input[0].input(speaker.participant_code.lower()).run()
    button(at, "Continue with this code").click().run()
    assert not at.exception
    assert "Welcome back" in shown(at.success[0].value)  # straight on the Record page
    simple_recorder(at)
    assert prompted_word(at) == schedule[4].word
    assert f"4 / {len(schedule)}" in at.get("progress")[0].proto.text
    assert at.query_params["code"] == speaker.participant_code


def link_app(code: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["code"] = code
    return at.run()


def test_a_resume_link_goes_straight_to_recording_as_the_same_speaker():
    store = open_store()
    speaker = store.create_speaker(CAMPAIGN.consent_version)
    schedule = build_schedule(CAMPAIGN, speaker.speaker_id)
    prefill(store, speaker.speaker_id, schedule[:2])
    at = link_app(speaker.participant_code.lower().replace("-", " "))
    assert not at.exception
    assert "Welcome back" in at.success[0].value
    assert not at.checkbox  # no consent form, no new code
    assert at.session_state[state.SPEAKER_ID] == speaker.speaker_id
    assert at.query_params["code"] == speaker.participant_code  # tidied to the shown form
    simple_recorder(at)
    assert f"2 / {len(schedule)}" in at.get("progress")[0].proto.text
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    assert len(store.speakers()) == 1
    assert store.clips()["speaker_id"].tolist() == [speaker.speaker_id] * 3


@pytest.mark.parametrize(
    ("code", "message"), [("K7QM-2XPA-9DHT", LINK_CODE_UNKNOWN), ("[x](https://example.org)", LINK_CODE_MALFORMED)]
)
def test_a_resume_link_with_a_code_nobody_has_says_so_and_makes_no_speaker(code, message):
    at = link_app(code)
    assert not at.exception
    assert at.error[0].value == message
    assert "example.org" not in at.error[0].value  # the link's text is never shown as a link
    assert open_store().speakers().empty
    assert at.session_state[state.SPEAKER_ID] is None
    agree(at)  # someone new after all: their own code replaces the link's
    assert at.query_params["code"] == at.session_state[state.PARTICIPANT_CODE] != code


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("K7QM-2XPA-9DHT", "No participant has this code"),
        ("hello", "The participant code “hello” is not valid: it has 12 letters and digits, like “K7QM-2XPA-9DHT”"),
        ("", "The participant code “” is not valid"),
    ],
)
def test_unknown_or_malformed_codes_get_a_clear_message(code, message):
    at = run_app()
    at.text_input[0].input(code).run()
    button(at, "Continue with this code").click().run()
    assert not at.exception
    assert message in shown(at.error[0].value)
    assert at.session_state[state.SPEAKER_ID] is None


def test_withdrawing_deletes_everything_after_a_confirmation():
    store = open_store()
    speaker = store.create_speaker(CAMPAIGN.consent_version)
    prefill(store, speaker.speaker_id, ["yes", "no"])
    at = run_app()
    at.text_input[0].input(speaker.participant_code).run()
    button(at, "Withdraw: delete all my recordings").click().run()
    assert len(store.clips()) == 2  # not before the confirmation
    button(at, "Yes, delete my recordings").click().run()
    assert not at.exception
    assert store.clips().empty and store.speakers().empty
    assert "2 recordings" in shown(at.success[0].value)


class FakeRoomRecorder:
    """Stands in for the room recorder's JavaScript: hands over one recording, like the browser does."""

    def __init__(self, samples: np.ndarray, settings: dict[str, object]) -> None:
        self.value = {"wav": base64.b64encode(wav(samples)[1]).decode(), "settings": settings}
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        value, self.value = self.value, None  # a trigger: in the run right after recording only
        return SimpleNamespace(recording=value)


RAW_SETTINGS = {"echoCancellation": False, "noiseSuppression": False, "autoGainControl": False}


def at_the_room_step(
    monkeypatch, recording: np.ndarray, settings: dict[str, object]
) -> tuple[AppTest, FakeRoomRecorder]:
    store = open_store()
    at = agree(run_app())
    speaker_id = at.session_state[state.SPEAKER_ID]
    prefill(store, speaker_id, build_schedule(CAMPAIGN, speaker_id))
    at.switch_page("pages/record.py").run()
    assert "sound of your room" in at.subheader[0].value
    assert f"record {CAMPAIGN.background_noise_s:g} seconds" in at.markdown[0].value  # not "about", not "at least"
    assert not at.get("audio_input")  # st.audio_input cannot turn the browser's processing off
    fake = FakeRoomRecorder(recording, settings)
    monkeypatch.setattr("speechrec.ui.room._component", fake)
    return at.run(), fake


def test_after_the_words_comes_the_raw_room_noise_then_done(monkeypatch):
    at, fake = at_the_room_step(monkeypatch, steady_noise(CAMPAIGN.background_noise_s, RATE, -55.0), RAW_SETTINGS)
    assert not at.exception
    assert fake.calls[0]["data"]["duration_s"] == CAMPAIGN.background_noise_s  # the length asked for is recorded
    noise = open_store().clips(keyword=NOISE_KEYWORD)
    assert len(noise) == 1 and noise["flags"].tolist() == [""]
    assert noise["duration_s"].iloc[0] == pytest.approx(CAMPAIGN.background_noise_s)
    assert "All done" in at.subheader[0].value
    assert at.session_state[state.PARTICIPANT_CODE] == at.code[0].value


def test_a_finished_volunteer_sees_the_code_and_may_record_another_round(monkeypatch):
    at, _ = at_the_room_step(monkeypatch, steady_noise(CAMPAIGN.background_noise_s, RATE, -55.0), RAW_SETTINGS)
    assert CAMPAIGN.rounds == 2
    total = len(build_schedule(CAMPAIGN, at.session_state[state.SPEAKER_ID]))
    button(at, "Record another round").click().run()
    assert not at.exception
    simple_recorder(at)
    assert f"{total} / {2 * total} · round 2 of 2" in at.get("progress")[0].proto.text
    assert prompted_word(at) in CAMPAIGN.words
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    assert len(open_store().clips()) == total + 2  # the first round, the room noise and one more take
    assert len(open_store().speakers()) == 1


def test_room_noise_with_speech_in_it_is_refused_with_a_plain_message(monkeypatch):
    talking = np.concatenate([spoken_take() for _ in range(8)])[: int(CAMPAIGN.background_noise_s * RATE)]
    at, _ = at_the_room_step(monkeypatch, talking, RAW_SETTINGS)
    assert not at.exception
    assert "we heard talking" in at.error[0].value
    assert open_store().clips(keyword=NOISE_KEYWORD).empty  # nothing stored, flagged or not
    assert "sound of your room" in at.subheader[0].value  # asked again


def test_room_noise_the_browser_processed_is_kept_flagged(monkeypatch):
    settings = {**RAW_SETTINGS, "noiseSuppression": True}  # a browser that ignored the request
    at, _ = at_the_room_step(monkeypatch, steady_noise(CAMPAIGN.background_noise_s, RATE, -55.0), settings)
    assert open_store().clips(keyword=NOISE_KEYWORD)["flags"].tolist() == ["browser_processing"]
    assert "All done" in at.subheader[0].value


def test_the_room_step_can_be_skipped_and_nothing_is_stored(monkeypatch):
    at, _ = at_the_room_step(monkeypatch, steady_noise(1.0, RATE, -55.0), RAW_SETTINGS)
    assert "too short" in at.error[0].value  # 1 s of the 20 asked for
    skip = button(at, "Skip this step")
    assert skip.help == "If you cannot record your room now: nothing is recorded, and the words you recorded are kept."
    skip.click().run()
    assert not at.exception
    assert "All done" in at.subheader[0].value
    assert open_store().clips(keyword=NOISE_KEYWORD).empty


def test_a_changed_consent_text_asks_again(tmp_path, monkeypatch):
    store = open_store()
    speaker = store.create_speaker(CAMPAIGN.consent_version)
    bumped = (
        (REPO / "campaign.toml")
        .read_text()
        .replace(f"consent_version = {CAMPAIGN.consent_version}", f"consent_version = {CAMPAIGN.consent_version + 1}")
    )
    (tmp_path / "campaign.toml").write_text(bumped)
    monkeypatch.setenv("SPEECHREC_CAMPAIGN", str(tmp_path / "campaign.toml"))
    at = run_app()
    at.text_input[0].input(speaker.participant_code).run()
    button(at, "Continue with this code").click().run()
    assert "consent text has changed" in shown(at.info[0].value)
    agree(at)
    assert store.consent_version(speaker.speaker_id) == CAMPAIGN.consent_version + 1


BROKEN_CAMPAIGNS = {
    "not_toml": 'title = "broken\nkeywords = ["yes"]\n',
    "no_keywords": 'title = "t"\nkeywords = []\nconsent_text = "ok"\n',
    "unknown_key": 'title = "t"\nkeywords = ["yes"]\nconsent_text = "ok"\ncolour = "red"\n',
    "nan_clip_length": 'title = "t"\nkeywords = ["yes"]\nconsent_text = "ok"\nclip_duration_s = nan\n',
}


def test_a_campaign_file_with_a_byte_order_mark_works(monkeypatch, tmp_path):
    (tmp_path / "campaign.toml").write_bytes(b"\xef\xbb\xbf" + (REPO / "campaign.toml").read_bytes())
    monkeypatch.setenv("SPEECHREC_CAMPAIGN", str(tmp_path / "campaign.toml"))
    at = run_app()
    assert not at.exception and not at.error
    assert shown(at.title[0].value) == CAMPAIGN.title


@pytest.mark.parametrize("content", list(BROKEN_CAMPAIGNS.values()), ids=list(BROKEN_CAMPAIGNS))
def test_broken_campaign_file_shows_an_error(monkeypatch, tmp_path, content):
    # The app reads ./campaign.toml (or $SPEECHREC_CAMPAIGN): point both at the broken file.
    (tmp_path / "campaign.toml").write_text(content)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEECHREC_CAMPAIGN", str(tmp_path / "campaign.toml"))
    at = run_app()
    assert not at.exception
    assert len(at.error) == 1
    assert "speechrec cannot start" in shown(at.error[0].value)
    assert "campaign.toml" in shown(at.error[0].value)
    if "nan" in content:
        assert "clip_duration_s must be a finite number, got nan" in shown(at.error[0].value)
    assert not at.title


def test_missing_campaign_file_shows_an_error(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    at = run_app()
    assert not at.exception
    assert "does not exist" in shown(at.error[0].value)


def test_unusable_database_url_shows_an_error(monkeypatch):
    monkeypatch.setenv("SPEECHREC_DATABASE_URL", "nosuchdb://user:hunter2@host/speech")
    at = run_app()
    assert not at.exception
    assert "speechrec cannot start" in shown(at.error[0].value)
    assert "hunter2" not in shown(at.error[0].value)


ICE_SCRIPT = """
import streamlit as st
from speechrec.ui.live import ice_servers
st.session_state["servers"] = ice_servers()
"""


def test_no_ice_servers_without_configuration(monkeypatch):
    for name in ("TWILIO_ACCOUNT_SID", "CLOUDFLARE_TURN_KEY_ID", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_string(ICE_SCRIPT).run()
    assert not at.exception
    assert at.session_state["servers"] == []


def test_ice_servers_from_secrets():
    at = AppTest.from_string(ICE_SCRIPT)
    turn = {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c"}
    at.secrets["webrtc"] = {"ice_servers": [turn]}
    at.run()
    assert not at.exception
    assert at.session_state["servers"] == [turn]


def organizer_app(password: str | None = "tum-organizers") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if password:
        at.secrets["organizer"] = {"password": password}
    at.query_params["organizer"] = ""
    return at.run()


def sign_in(at: AppTest, password: str) -> AppTest:
    at.text_input[0].input(password)
    return at.button[0].click().run()


def assert_asks_to_sign_in(at: AppTest, page_name: str) -> None:
    """An organizer page opened without sign-in: where to sign in, and nothing of the store."""
    assert not at.exception
    assert "sign in at ?organizer" in at.warning[0].value
    link = at.get("page_link")[0].proto
    assert link.label == "Sign in" and link.query_string == f"organizer=&next={page_name}"
    assert not at.dataframe and not at.metric and not at.title and not at.text_area
    assert not at.get("audio") and not at.get("download_button") and not at.button


@pytest.mark.parametrize("page_name", ["review", "stats", "campaign", "model_check"])
def test_an_organizer_page_opened_without_sign_in_says_where_to_sign_in(page_name):
    store = open_store()
    speaker = store.create_speaker(1)
    prefill(store, speaker.speaker_id, ["yes"])
    at = run_app()
    assert_asks_to_sign_in(at.switch_page(f"pages/{page_name}.py").run(), page_name)  # a bookmark, not "Page not found"


def test_a_wrong_password_is_refused_and_slows_the_next_try():
    at = sign_in(organizer_app(), "guess")
    assert not at.exception
    assert shown(at.error[0].value) == "Wrong password."
    assert at.session_state[state.ORGANIZER] is False
    # Counted in the store, for every session (tests/test_auth_throttle.py): the next check waits.
    assert open_store().sign_in_wait_s([GLOBAL_BUCKET]) > 0


def test_the_right_password_opens_stats_with_the_stores_numbers():
    store = open_store()
    speaker = store.create_speaker(1)
    prefill(store, speaker.speaker_id, ["yes", "yes", "no", "cat"])
    at = sign_in(organizer_app(), "tum-organizers")
    assert at.session_state[state.ORGANIZER] is True
    at.switch_page("pages/stats.py").run()
    assert not at.exception
    assert shown(at.title[0].value) == "Stats"
    words = at.dataframe[0].value.set_index("keyword")
    assert (words.loc["yes", "total"], words.loc["no", "pending"], words.loc["cat", "kind"]) == (2, 1, "filler")
    assert at.metric[0].value == "4" and at.metric[1].value == "1"
    speakers = at.dataframe[1].value
    assert speakers["speaker_id"].tolist() == [speaker.speaker_id] and speakers["clips"].tolist() == [4]


def test_signing_in_lands_on_review_and_keeps_a_signed_token_not_the_password():
    at = sign_in(organizer_app(), "tum-organizers")
    assert not at.exception
    assert at.title[0].value == "Review"  # not the volunteers' consent form
    token = at.session_state[state.COOKIES][SESSION_COOKIE]
    assert token["max_age_s"] == ORGANIZER_SESSION_S == 12 * 3600
    assert "tum-organizers" not in token["value"]
    assert organizer_session_valid(token["value"], session_key("tum-organizers"))


def test_signing_in_from_a_bookmarked_page_goes_back_to_it():
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["organizer"] = {"password": "tum-organizers"}
    at.query_params.update({"organizer": "", "next": "stats"})
    sign_in(at.run(), "tum-organizers")
    assert not at.exception
    assert at.title[0].value == "Stats"


def app_with_cookie(monkeypatch, name: str, value: str | None, password: str = "tum-organizers") -> AppTest:
    """A new browser session whose browser sent the cookie ``name`` (AppTest cannot send cookies)."""
    real_cookie = speechrec.ui.browser.cookie

    def sent(wanted: str) -> str | None:
        if wanted in st.session_state.get(state.COOKIES, {}):
            return real_cookie(wanted)  # what this session set or deleted since
        return value if wanted == name else None

    for module in ("speechrec.ui.auth", "speechrec.ui.volunteer"):
        monkeypatch.setattr(f"{module}.cookie", sent)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["organizer"] = {"password": password}
    return at


def test_a_reload_with_the_organizer_cookie_stays_signed_in_until_sign_out(monkeypatch):
    token = organizer_session_token(session_key("tum-organizers"))
    at = app_with_cookie(monkeypatch, SESSION_COOKIE, token).run()
    assert at.session_state[state.ORGANIZER] is True
    at.switch_page("pages/review.py").run()
    assert not at.exception and at.title[0].value == "Review"
    next(item for item in at.sidebar.button if item.label == "Sign out").click().run()
    assert not at.exception
    assert at.session_state[state.ORGANIZER] is False
    assert at.session_state[state.COOKIES][SESSION_COOKIE] is None  # the browser drops the token
    assert at.checkbox  # back on the volunteers' Welcome page
    assert_asks_to_sign_in(at.switch_page("pages/review.py").run(), "review")


def test_signing_out_in_one_tab_signs_out_every_tab_holding_the_same_token(monkeypatch):
    token = organizer_session_token(session_key("tum-organizers"))
    first, second = (app_with_cookie(monkeypatch, SESSION_COOKIE, token).run() for _ in range(2))
    assert first.session_state[state.ORGANIZER] and second.session_state[state.ORGANIZER]
    next(item for item in first.sidebar.button if item.label == "Sign out").click().run()
    second.switch_page("pages/review.py").run()
    assert second.session_state[state.ORGANIZER] is False
    assert_asks_to_sign_in(second, "review")
    assert app_with_cookie(monkeypatch, SESSION_COOKIE, token).run().session_state[state.ORGANIZER] is False


@pytest.mark.parametrize(
    "token",
    [
        organizer_session_token(session_key("an old password")),  # the password changed since
        "eyJyb2xlIjoib3JnYW5pemVyIn0.forged.signature",
    ],
)
def test_an_organizer_cookie_that_does_not_verify_signs_nobody_in(monkeypatch, token):
    at = app_with_cookie(monkeypatch, SESSION_COOKIE, token).run()
    assert at.session_state[state.ORGANIZER] is False
    assert_asks_to_sign_in(at.switch_page("pages/stats.py").run(), "stats")


def test_a_reopened_link_finds_the_volunteer_by_the_cookie_and_offers_not_me(monkeypatch):
    store = open_store()
    speaker = store.create_speaker(CAMPAIGN.consent_version)
    at = app_with_cookie(monkeypatch, CODE_COOKIE, speaker.participant_code).run()
    assert not at.exception
    assert "Welcome back" in at.success[0].value  # on the Record page, same speaker
    assert at.session_state[state.SPEAKER_ID] == speaker.speaker_id
    assert at.query_params["code"] == speaker.participant_code
    button(at, "Not you? Start anew").click().run()  # someone else on a shared device
    assert not at.exception
    assert at.session_state[state.SPEAKER_ID] is None
    assert at.session_state[state.COOKIES][CODE_COOKIE] is None and "code" not in at.query_params
    agree(at)
    assert len(store.speakers()) == 2


def test_the_cookie_of_a_withdrawn_volunteer_is_ignored(monkeypatch):
    store = open_store()
    speaker = store.create_speaker(CAMPAIGN.consent_version)
    store.delete_speaker(speaker.speaker_id)
    at = app_with_cookie(monkeypatch, CODE_COOKIE, speaker.participant_code).run()
    assert not at.exception
    assert at.session_state[state.SPEAKER_ID] is None and not at.error
    assert at.checkbox  # a fresh start, no message about a cookie the volunteer never saw


def test_without_a_configured_password_one_is_generated_and_works(tmp_path):
    at = organizer_app(password=None)
    generated = (tmp_path / "data" / "organizer-password.txt").read_text().strip()
    assert len(generated) >= 24
    sign_in(at, generated)
    assert at.session_state[state.ORGANIZER] is True


def review_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state[state.ORGANIZER] = True
    at.run()
    return at.switch_page("pages/review.py").run()


def reviewed_store(words: list[str]) -> tuple[ClipStore, list[str]]:
    store = open_store()
    speaker = store.create_speaker(1)
    prefill(store, speaker.speaker_id, words)
    return store, store.clips()["clip_id"].tolist()


def test_review_accepts_and_shows_the_next_clip():
    store, ids = reviewed_store(["yes", "no"])
    at = review_app()
    assert not at.exception
    assert shown(at.markdown[0].value) == "## no"  # newest first
    button(at, "Accept").click().run()
    assert not at.exception
    assert store.clip(ids[1]).status == "accepted" and store.clip(ids[1]).reviewer == "organizer"
    assert "Accepted." in shown(at.success[0].value)
    assert shown(at.markdown[0].value) == "## yes"


def test_review_reject_with_a_reason_then_undo():
    store, ids = reviewed_store(["yes"])
    at = review_app()
    next(item for item in at.selectbox if item.label == "Reason").set_value("too quiet").run()
    button(at, "Reject").click().run()
    assert (store.clip(ids[0]).status, store.clip(ids[0]).reason) == ("rejected", "too quiet")
    button(at, "Undo the last decision").click().run()
    assert not at.exception
    assert (store.clip(ids[0]).status, store.clip(ids[0]).reason) == ("pending", None)
    assert shown(at.markdown[0].value) == "## yes"  # back in the queue


def test_review_relabels_a_clip():
    store, ids = reviewed_store(["yes"])
    at = review_app()
    next(item for item in at.selectbox if item.label == "The volunteer actually said").set_value("tum").run()
    button(at, "Re-label").click().run()
    assert not at.exception
    assert store.clip(ids[0]).keyword == "tum"


def test_a_decision_on_a_clip_another_organizer_changed_meanwhile_is_refused():
    store, ids = reviewed_store(["yes"])
    at = review_app()
    store.set_status(ids[0], "rejected", reason="too quiet", reviewer="ben")  # meanwhile, in another browser
    button(at, "Accept").click().run()
    assert not at.exception
    assert shown(at.warning[0].value) == (
        "Not saved: ben changed this clip while you listened: it is now rejected (too quiet), as “yes”. "
        "Look at it again and decide."
    )
    assert (store.clip(ids[0]).status, store.clip(ids[0]).reviewer) == ("rejected", "ben")  # ben's stands
    assert shown(at.markdown[0].value) == "## yes"  # shown again, as it is now
    button(at, "Accept").click().run()  # decided again, on what the page now shows
    assert shown(at.success[0].value) == "Accepted." and store.clip(ids[0]).status == "accepted"


def test_undo_never_reverts_another_organizers_later_decision():
    store, ids = reviewed_store(["yes"])
    at = review_app()
    button(at, "Accept").click().run()
    store.set_status(ids[0], "rejected", reason="noise or other voices", reviewer="ben")  # ben, a moment later
    button(at, "Undo the last decision").click().run()
    assert not at.exception
    assert shown(at.warning[0].value).startswith("Not undone: ben changed this clip while you listened")
    assert (store.clip(ids[0]).status, store.clip(ids[0]).reviewer) == ("rejected", "ben")
    assert not [item for item in at.button if item.label == "Undo the last decision"]


def test_undo_after_the_volunteer_withdrew_is_a_plain_message():
    from speechrec.withdrawal import withdraw_speaker

    store, ids = reviewed_store(["yes", "no"])
    at = review_app()
    button(at, "Reject").click().run()
    withdraw_speaker(store, store.clip(ids[0]).speaker_id)
    button(at, "Undo the last decision").click().run()
    assert not at.exception
    assert shown(at.warning[0].value) == "Not undone: this clip no longer exists (its volunteer withdrew)."
    assert shown(at.info[0].value).startswith("Nothing to review")


def test_a_decision_on_a_clip_whose_volunteer_withdrew_meanwhile_is_a_plain_message():
    from speechrec.withdrawal import withdraw_speaker

    store, ids = reviewed_store(["yes"])
    at = review_app()
    withdraw_speaker(store, store.clip(ids[0]).speaker_id)
    button(at, "Accept").click().run()
    assert not at.exception
    assert shown(at.warning[0].value) == (
        "The clip shown before no longer exists (its volunteer withdrew); nothing was saved for it."
    )


def test_review_filters_and_empty_queue():
    reviewed_store(["yes", "no"])
    at = review_app()
    next(item for item in at.multiselect if item.label == "Words").set_value(["tum"]).run()
    assert not at.exception
    assert "Nothing to review" in shown(at.info[0].value)


def organizer_page(page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state[state.ORGANIZER] = True
    at.run()
    return at.switch_page(page).run()


def test_review_speaker_filter_shows_all_of_one_speaker():
    store, _ = reviewed_store(["yes"])
    other = store.create_speaker(1).speaker_id
    prefill(store, other, ["no", "up"])
    at = review_app()
    next(item for item in at.multiselect if item.label == "Speakers").set_value([other]).run()
    assert not at.exception
    assert shown(at.markdown[0].value) == "## up" and "2 to go" in shown(at.caption[0].value)


def test_review_withdraws_a_volunteer_by_code_after_a_confirmation():
    store = open_store()
    speaker = store.create_speaker(1)
    prefill(store, speaker.speaker_id, ["yes", "no"])
    at = review_app()
    at.sidebar.text_input[0].input("K7QM-2XPA-9DHT")
    next(item for item in at.sidebar.button if item.label == "Find this volunteer").click().run()
    assert "No participant has this code" in shown(at.sidebar.error[0].value)
    at.sidebar.text_input[0].input(speaker.participant_code.lower())
    next(item for item in at.sidebar.button if item.label == "Find this volunteer").click().run()
    assert f"Speaker {speaker.speaker_id}: 2 clips" in shown(at.sidebar.warning[0].value)
    assert len(store.clips()) == 2  # nothing deleted before the confirmation
    next(item for item in at.sidebar.button if "Delete this volunteer" in item.label).click().run()
    assert not at.exception
    assert store.clips().empty and store.speakers().empty
    assert f"Speaker {speaker.speaker_id} withdrawn: 2 clips deleted." in shown(at.success[0].value)


def test_stats_builds_the_dataset_zip_and_offers_it_and_the_metadata(tmp_path):
    store = open_store()
    speaker = store.create_speaker(1)
    prefill(store, speaker.speaker_id, ["yes", "no"])
    at = organizer_page("pages/stats.py")
    assert [item.proto.label for item in at.get("download_button")] == ["Download metadata.csv only"]
    next(item for item in at.radio if item.label == "Clips").set_value("all")
    button(at, "Build the dataset zip").click().run()
    assert not at.exception
    zip_path, zip_name, _, _ = at.session_state[state.PREPARED_EXPORT]
    assert zip_name == f"speechrec-demo-yes-no-up-down-tum-{datetime.now(UTC):%Y-%m-%d}.zip"
    assert Path(zip_path).parent == tmp_path / "data" / "exports"
    with zipfile.ZipFile(zip_path) as archive:
        folders = {name.split("/")[0] for name in archive.namelist() if name.endswith(".wav")}
        assert folders == {"yes", "no", "_background_noise_"}  # no room recordings: noise from the takes
    labels = [item.proto.label for item in at.get("download_button")]
    assert labels[0].startswith(f"Download {zip_name} (") and labels[1] == "Download metadata.csv only"
    # Other options: the zip built for the old ones is not offered as if it were theirs.
    next(item for item in at.radio if item.label == "Clips").set_value("accepted").run()
    assert [item.proto.label for item in at.get("download_button")] == ["Download metadata.csv only"]


def campaign_field(at: AppTest, start: str):
    return next(item for item in [*at.text_area, *at.text_input, *at.number_input] if item.label.startswith(start))


def test_campaign_edits_are_saved_and_a_new_consent_text_asks_volunteers_again():
    store = open_store()
    speaker = store.create_speaker(CAMPAIGN.consent_version)
    at = organizer_page("pages/campaign.py")
    campaign_field(at, "Keywords").input("hey robot, tum\nstop")
    campaign_field(at, "Takes per keyword").set_value(3)
    campaign_field(at, "Rounds per volunteer").set_value(4)
    campaign_field(at, "Consent text").input(CAMPAIGN.consent_text + "\nWe also keep the date of each take.")
    button(at, "Save").click().run()
    assert not at.exception
    assert "now version 2: volunteers will be asked again" in shown(at.success[0].value)
    saved = store.saved_campaign()
    assert (saved.keywords, saved.takes_per_keyword, saved.consent_version) == (("hey robot", "tum", "stop"), 3, 2)
    assert saved.rounds == 4
    assert saved.filler_words == CAMPAIGN.filler_words  # untouched fields stay
    # A volunteer who agreed to version 1 is asked again before recording more.
    volunteer = AppTest.from_file(str(APP), default_timeout=60)
    volunteer.session_state[state.SPEAKER_ID] = speaker.speaker_id
    volunteer.run()
    assert "The consent text has changed" in shown(volunteer.info[0].value)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ("yes\n../etc", "Not saved: keywords: keyword '../etc' contains '..'"),
        ("yes\ncon", "Not saved: keywords: keyword 'con' is a name Windows keeps for a device"),
        ("yes, LPT1.", "Not saved: keywords: keyword 'LPT1.' ends with a dot"),
        ("yes\nYES", "Not saved: keywords: keyword 'YES' is listed twice (also as 'yes')"),
        ("\u00fcber, u\u0308ber", "Not saved: keywords: keyword '\u00fcber' is listed twice (also as '\u00fcber')"),
    ],
)
def test_an_invalid_campaign_edit_is_refused_with_the_reason_and_nothing_saved(keywords, message):
    store = open_store()
    at = organizer_page("pages/campaign.py")
    campaign_field(at, "Keywords").input(keywords)
    button(at, "Save").click().run()
    assert not at.exception
    assert message in shown(at.error[0].value)
    assert store.saved_campaign() is None


def test_a_word_typed_in_decomposed_unicode_is_saved_in_nfc():
    at = organizer_page("pages/campaign.py")
    campaign_field(at, "Keywords").input("u\u0308ber\nyes")
    button(at, "Save").click().run()
    assert not at.exception
    assert open_store().saved_campaign().keywords == ("\u00fcber", "yes")


OIDC_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "test-cookie-secret",
        "client_id": "speechrec",
        "client_secret": "test-client-secret",
        "server_metadata_url": "https://accounts.example.org/.well-known/openid-configuration",
    },
    "organizer": {"password": "tum-organizers", "emails": ["ada@example.org"]},
}


def oidc_app(user: dict[str, object], secrets: dict[str, object] = OIDC_SECRETS) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for section, values in secrets.items():
        at.secrets[section] = values
    at.user = user
    at.query_params["organizer"] = ""
    return at.run()


def test_oidc_login_of_an_organizer_email_opens_the_organizer_pages():
    at = oidc_app({"is_logged_in": True, "email": "Ada@Example.org", "email_verified": True})
    assert not at.exception
    at.switch_page("pages/stats.py").run()
    assert not at.exception and shown(at.title[0].value) == "Stats"


def test_oidc_login_of_another_email_is_refused():
    at = oidc_app({"is_logged_in": True, "email": "eve@example.org", "email_verified": True})
    assert not at.exception
    assert "eve@example.org is not one of this campaign's organizers" in shown(at.error[0].value)
    assert_asks_to_sign_in(at.switch_page("pages/stats.py").run(), "stats")


@pytest.mark.parametrize("verified", [False, "false", None, "", 1, "yes"], ids=repr)
def test_oidc_login_with_an_unverified_email_is_refused(verified):
    user = {"is_logged_in": True, "email": "ada@example.org"}
    if verified is not None:
        user["email_verified"] = verified
    at = oidc_app(user)
    assert not at.exception
    assert "Your identity provider has not verified ada@example.org" in shown(at.error[0].value)
    assert "Log out" in [item.label for item in at.button]
    for page_name in ("review", "stats"):  # no organizer page lets them in
        assert_asks_to_sign_in(at.switch_page(f"pages/{page_name}.py").run(), page_name)


@pytest.mark.parametrize("verified", [True, "true", "True"], ids=repr)
def test_oidc_login_with_a_verified_email_is_let_in(verified):
    at = oidc_app({"is_logged_in": True, "email": "ada@example.org", "email_verified": verified})
    assert not at.exception and not at.error
    at.switch_page("pages/review.py").run()
    assert not at.exception and shown(at.title[0].value) == "Review"


def test_oidc_offers_its_sign_in_button_only_when_configured():
    assert "Sign in with your organization account" in [item.label for item in oidc_app({}).button]
    without_auth = oidc_app(
        {"is_logged_in": True, "email": "ada@example.org", "email_verified": True},
        {"organizer": OIDC_SECRETS["organizer"]},
    )
    assert "Sign in with your organization account" not in [item.label for item in without_auth.button]
    # No [auth]: an e-mail alone signs nobody in.
    assert_asks_to_sign_in(without_auth.switch_page("pages/stats.py").run(), "stats")


def test_storage_from_secrets_and_the_environment_wins(tmp_path, monkeypatch):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["storage"] = {
        "database_url": f"sqlite:///{tmp_path / 'secret.sqlite3'}",
        "audio_url": str(tmp_path / "secret-audio"),
    }
    agree(at.run())
    assert not at.exception
    assert (tmp_path / "secret.sqlite3").is_file() and (tmp_path / "secret-audio").is_dir()
    assert not (tmp_path / "data" / "speechrec.sqlite3").exists()
    st.cache_resource.clear()
    monkeypatch.setenv("SPEECHREC_DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite3'}")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["storage"] = {"database_url": f"sqlite:///{tmp_path / 'secret.sqlite3'}"}
    agree(at.run())
    assert not at.exception
    assert (tmp_path / "env.sqlite3").is_file()


def test_organizers_are_warned_when_hosting_would_wipe_the_data(monkeypatch):
    def signed_in_app() -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.session_state[state.ORGANIZER] = True
        return at.run()

    assert not signed_in_app().warning  # on one's own machine a local data folder is fine
    monkeypatch.setattr("speechrec.ui.resources.COMMUNITY_CLOUD_APPS", REPO.parent)
    at = signed_in_app()
    assert not at.exception
    assert "Streamlit Community Cloud wipes" in shown(at.warning[0].value)
    assert not run_app().warning  # volunteers are not bothered with it


def test_oidc_organizers_sign_their_review_decisions_with_their_email():
    store, ids = reviewed_store(["yes"])
    at = oidc_app({"is_logged_in": True, "email": "ada@example.org", "email_verified": True})
    at.switch_page("pages/review.py").run()
    button(at, "Accept").click().run()
    assert not at.exception
    assert store.clip(ids[0]).reviewer == "ada@example.org"


def test_a_store_that_cannot_keep_clips_stops_every_page_with_one_message(s3_environment, monkeypatch, caplog):
    monkeypatch.setenv("SPEECHREC_STORAGE_URL", "s3://no-such-bucket/campaign")
    at = run_app()
    assert not at.exception
    assert shown(at.error[0].value).startswith("speechrec cannot start: audio storage 's3://no-such-bucket/campaign'")
    assert "the bucket does not exist" in shown(at.error[0].value)
    assert not at.checkbox and not at.button  # nobody is asked to agree or record
    assert "speechrec cannot start" in caplog.text
    bucket = s3_environment.create_bucket()
    monkeypatch.setenv("SPEECHREC_STORAGE_URL", f"s3://{bucket}/campaign")
    at = run_app()  # fixed: the next page load opens the store (a failed open is not cached)
    assert not at.error and at.checkbox


def test_pages_read_no_whole_table(monkeypatch):
    """Review (a decision), Stats, Record (a take, the replay list) and the withdrawal sidebar ask
    the store for one row, a count or one speaker's or session's clips, never every clip."""
    store, ids = reviewed_store(["yes", "no"])
    reads = []
    read_clips = ClipStore.clips

    def filtered_only(self, **filters):
        reads.append(filters)
        assert any(value is not None for value in filters.values()), "a page read the whole clips table"
        return read_clips(self, **filters)

    monkeypatch.setattr(ClipStore, "clips", filtered_only)
    monkeypatch.setattr(ClipStore, "dump_rows", lambda self: pytest.fail("a page dumped the store"))
    at = review_app()
    button(at, "Accept").click().run()
    assert not at.exception and store.clip(ids[1]).status == "accepted"
    at.switch_page("pages/stats.py").run()
    assert not at.exception
    at = simple_recorder(agree(run_app()).switch_page("pages/record.py").run())
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    next(item for item in at.toggle if "Replay or delete" in item.label).set_value(True).run()
    assert not at.exception and len(at.get("audio")) == 1
    assert reads  # the review page's speaker list and the replay list were read, filtered


@pytest.mark.parametrize("where", ["environment", "secrets"])
@pytest.mark.parametrize("kind", ["https", "s3_secret_with_slash"])
def test_storage_credentials_never_reach_the_page_or_the_log(monkeypatch, caplog, request, where, kind):
    from backends import free_port

    if kind == "https":
        url, start = f"https://organizer:hunter22-Secret@127.0.0.1:{free_port()}/audio", "https://***@127.0.0.1:"
    else:  # s3fs takes "AKIAKEY:hunter22" for the bucket name, and boto quotes it
        bucket = request.getfixturevalue("s3_environment").create_bucket()
        url, start = f"s3://AKIAKEY:hunter22-Secret/sk@{bucket}/audio", "s3://***@"
    at = AppTest.from_file(str(APP), default_timeout=60)
    if where == "environment":
        monkeypatch.setenv("SPEECHREC_STORAGE_URL", url)
    else:
        at.secrets["storage"] = {"audio_url": url}
    at.run()
    assert not at.exception
    assert shown(at.error[0].value).startswith(f"speechrec cannot start: audio storage '{start}")
    page = " ".join(element.value for element in [*at.error, *at.warning, *at.markdown, *at.caption])
    assert "hunter22" not in page
    assert "speechrec cannot start" in caplog.text and "hunter22" not in caplog.text


# ---- typed text is shown as text ----------------------------------------------------------------

CRAFTED = ["[text](https://example.org/x)", "**bold** :red[x] $x$", "<b>x</b> mail@example.org www.example.org"]
MARKDOWN_SYNTAX = re.compile(r"(?<!\\)[\[\]()*`_<>:$@]")  # a syntax character without its escaping backslash


def assert_shown_as_text(markdown: str, typed: str) -> None:
    """``typed`` shows character for character, and no syntax character of the message is left unescaped."""
    assert typed in shown(markdown)
    assert not MARKDOWN_SYNTAX.search(markdown.removeprefix("## ")), markdown


@pytest.mark.parametrize("typed", CRAFTED)
def test_a_crafted_participant_code_in_the_link_is_shown_as_text(typed):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["code"] = typed
    at.run()
    button(at, "Continue with this code").click().run()
    assert not at.exception
    typed_error = next(item.value for item in at.error if "check it for typos" in item.value)
    assert_shown_as_text(typed_error, f"“{typed}”")


@pytest.mark.parametrize("typed", CRAFTED)
def test_a_typed_reject_reason_is_shown_as_text(typed):
    store, ids = reviewed_store(["yes"])
    at = review_app()
    next(item for item in at.selectbox if item.label == "Reason").set_value("other…").run()
    next(item for item in at.text_input if item.label == "Reason").input(typed).run()
    button(at, "Reject").click().run()
    assert not at.exception
    assert store.clip(ids[0]).reason == typed
    assert_shown_as_text(at.success[0].value, typed)


def test_an_invalid_campaign_edit_quoting_markdown_is_shown_as_text():
    at = organizer_page("pages/campaign.py")
    campaign_field(at, "Keywords").input("[x](https://example.org/x)")
    button(at, "Save").click().run()
    assert not at.exception
    assert_shown_as_text(at.error[0].value, "'[x](https://example.org/x)'")


def test_an_identity_providers_email_is_shown_as_text():
    at = oidc_app({"is_logged_in": True, "email": "[eve](https://example.org/x)@example.org", "email_verified": True})
    assert not at.exception
    assert_shown_as_text(at.error[0].value, "[eve](https://example.org/x)@example.org")


def test_a_stored_keyword_is_shown_as_text():
    store, _ = reviewed_store(["yes"])
    with store._write() as connection:
        connection.execute(clips_table.update().values(keyword="a_b_ [c](d)"))
    at = review_app()
    assert not at.exception
    assert_shown_as_text(at.markdown[0].value, "a_b_ [c](d)")


def test_the_campaign_title_is_shown_as_text(monkeypatch, tmp_path):
    text = (REPO / "campaign.toml").read_text().replace(f'title = "{CAMPAIGN.title}"', 'title = "[x](https://e.org)"')
    (tmp_path / "campaign.toml").write_text(text)
    monkeypatch.setenv("SPEECHREC_CAMPAIGN", str(tmp_path / "campaign.toml"))
    at = run_app()
    assert_shown_as_text(at.title[0].value, "[x](https://e.org)")


# ---- one "speechrec cannot start" message naming the real cause ---------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:hunter22@host:port/speech",
        "not a url",
        "postgresql+psycopg://user:hunter22@[::1/speech",
        "host=127.0.0.1 port=1 password=hunter22",
        "host=127.0.0.1 user=u password='hunter22 x'",
    ],
)
def test_a_malformed_database_url_without_an_organizer_password_stops_every_page_with_one_message(
    monkeypatch, caplog, url
):
    monkeypatch.setenv("SPEECHREC_DATABASE_URL", url)
    for query in ({}, {"organizer": ""}):
        at = AppTest.from_file(str(APP), default_timeout=60)
        for name, value in query.items():
            at.query_params[name] = value
        at.run()
        assert not at.exception
        assert len(at.error) == 1
        assert shown(at.error[0].value).startswith("speechrec cannot start: ")
        assert "not a SQLAlchemy URL" in shown(at.error[0].value)
        assert "hunter22" not in at.error[0].value
    assert caplog.text.count("speechrec cannot start") == 2 and "hunter22" not in caplog.text


APP_IN_A_CHILD = """
import json, sys
import streamlit_webrtc.component
from streamlit.testing.v1 import AppTest
streamlit_webrtc.component.get_this_session_info = lambda: None
at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
print(json.dumps({"exception": [item.value for item in at.exception], "error": [item.value for item in at.error]}))
"""


def test_a_data_folder_that_cannot_be_written_is_named_not_blamed_on_credentials(tmp_path):
    from unprivileged import respect_file_modes

    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    script = tmp_path / "app_in_a_child.py"
    script.write_text(APP_IN_A_CHILD)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SPEECHREC_")}
    environment |= {"SPEECHREC_DATA": str(locked / "data"), "PYTHONPATH": str(REPO)}
    try:
        result = subprocess.run(
            [sys.executable, str(script), str(APP)], cwd=REPO, env=environment, capture_output=True, text=True,
            timeout=120, preexec_fn=respect_file_modes,
        )  # fmt: skip
    finally:
        locked.chmod(0o755)
    page = json.loads(result.stdout.splitlines()[-1])
    assert page["exception"] == []
    assert len(page["error"]) == 1
    message = shown(page["error"][0])
    assert message.startswith(
        f"speechrec cannot start: cannot open the database: '{locked / 'data'}' cannot be written"
    )
    assert "credentials" not in message and "S3" not in message and "driver" not in message
    assert "Traceback" not in result.stderr
    assert result.stderr.count("speechrec cannot start") == 1


def test_a_malformed_password_hash_is_a_plain_message_at_sign_in():
    at = sign_in(organizer_app(password="scrypt$16384$8$1$not-base64!$x"), "anything")
    assert not at.exception
    assert shown(at.error[0].value).startswith("Organizer sign-in is not possible: the organizer password hash")
    assert "python -m speechrec hash-password" in shown(at.error[0].value)


def test_after_a_withdrawal_the_stats_page_no_longer_offers_a_zip_that_held_the_volunteer(tmp_path):
    store = open_store()
    volunteer = store.create_speaker(1)
    other = store.create_speaker(1)
    prefill(store, volunteer.speaker_id, ["yes", "no"])
    prefill(store, other.speaker_id, ["yes"])
    organizer = organizer_page("pages/stats.py")
    next(item for item in organizer.radio if item.label == "Clips").set_value("all")
    button(organizer, "Build the dataset zip").click().run()
    zip_path = Path(organizer.session_state[state.PREPARED_EXPORT][0])
    assert zip_path.exists() and len(organizer.get("download_button")) == 2
    # The volunteer withdraws with their code on the welcome page, in their own browser.
    at = run_app()
    at.text_input[0].input(volunteer.participant_code).run()
    button(at, "Withdraw: delete all my recordings").click().run()
    button(at, "Yes, delete my recordings").click().run()
    assert not at.exception and "Done: 2 recordings" in shown(at.success[0].value)
    assert not zip_path.exists()
    organizer.run()
    assert not organizer.exception
    assert [item.proto.label for item in organizer.get("download_button")] == ["Download metadata.csv only"]
    assert list((tmp_path / "data" / "exports").glob("*.zip")) == []


# ---- a clip whose audio is missing ----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["{data}/audX", "file://localhost{data}/audX", "local://{data}/audX"])
def test_a_mistyped_storage_url_for_a_store_with_clips_stops_the_app_and_makes_no_folder(monkeypatch, tmp_path, form):
    reviewed_store(["yes"])
    data = (tmp_path / "data").as_posix()
    monkeypatch.setenv("SPEECHREC_DATABASE_URL", f"sqlite:///{data}/speechrec.sqlite3")
    monkeypatch.setenv("SPEECHREC_STORAGE_URL", form.format(data=data))
    st.cache_resource.clear()
    at = run_app()
    assert not at.exception
    message = shown(at.error[0].value)
    assert message.startswith(f"speechrec cannot start: the audio folder '{data}/audX' does not exist; check the storage URL")
    assert "[storage] audio_url" in message
    assert not (tmp_path / "data" / "audX").exists() and not (REPO / "localhost").exists()


@pytest.mark.parametrize("damage", ["deleted", "garbled"])
def test_review_shows_a_clip_without_audio_and_lets_the_organizer_reject_or_skip_it(damage, tmp_path):
    store, ids = reviewed_store(["yes", "no", "up"])
    audio = tmp_path / "data" / "audio" / store.clip(ids[2]).audio_key
    if damage == "deleted":
        audio.unlink()  # an object deleted by hand, a partial restore
    else:
        audio.write_bytes(b"not a flac file")
    at = review_app()
    assert not at.exception
    assert shown(at.markdown[0].value) == "## up"
    assert "The audio of this clip is missing or unreadable" in shown(at.error[0].value)
    assert not at.get("audio")
    assert next(item for item in at.selectbox if item.label == "Reason").value == "audio missing"
    accept = button(at, "Accept")
    assert accept.disabled and "no audio to accept" in accept.help  # nothing to hear, nothing to accept
    button(at, "Reject").click().run()
    assert not at.exception
    assert (store.clip(ids[2]).status, store.clip(ids[2]).reason) == ("rejected", "audio missing")
    assert not button(at, "Accept").disabled  # the next clip has its audio
    assert shown(at.markdown[0].value) == "## no" and not at.error
    (tmp_path / "data" / "audio" / store.clip(ids[1]).audio_key).unlink()
    at.run()
    button(at, "Skip").click().run()  # or skip it: the organizer gets past it
    assert not at.exception and shown(at.markdown[0].value) == "## yes"
    assert store.clip(ids[1]).status == "pending"


def test_review_of_a_clip_without_audio_on_object_storage(remote_settings, monkeypatch):
    remote = remote_settings()
    monkeypatch.setenv("SPEECHREC_DATABASE_URL", remote.database_url)
    monkeypatch.setenv("SPEECHREC_STORAGE_URL", remote.storage_url)
    store, ids = reviewed_store(["yes"])
    store.audio.remove(store.clip(ids[0]).audio_key)  # a bucket object deleted by hand
    at = review_app()
    assert not at.exception
    assert "The audio of this clip is missing or unreadable" in shown(at.error[0].value)
    button(at, "Reject").click().run()
    assert not at.exception and store.clip(ids[0]).reason == "audio missing"
