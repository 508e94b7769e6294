"""Campaign languages through the pages (issue 14): the volunteer pages speak the language the
browser asks for among the campaign's, switch on request and keep the choice; no text on them
escapes the catalogs; keywords in any script show as written; the consent language is kept per
speaker; the Campaign page offers the shipped languages and takes the campaign's texts in each."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import streamlit as st
from pseudo_locale import CLOSE, OPEN, unmarked_texts, use_pseudo_language
from signals import steady_noise
from streamlit.testing.v1 import AppTest
from test_app import (
    APP,
    CAMPAIGN,
    RATE,
    RAW_SETTINGS,
    FakeRoomRecorder,
    agree,
    broken_upload,
    button,
    campaign_field,
    clean_app,
    open_store,
    organizer_page,
    prefill,
    prompted_word,
    shown,
    simple_recorder,
    spoken_take,
    wav,
)

import speechrec.ui.live
from speechrec.campaign import load_campaign
from speechrec.prompts import build_schedule
from speechrec.ui import state
from speechrec.ui.language import PICKER

__all__ = ["clean_app"]  # the page tests' autouse fixture: each test gets its own data folder

GERMAN = CAMPAIGN.texts("de")


def browser(locale: str | None = None) -> AppTest:
    """A new session of the app from a browser whose ``navigator.language`` is ``locale``."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    if locale:
        at.context["locale"] = locale
    return at.run()


def switch_language(at: AppTest, language: str) -> AppTest:
    return at.selectbox(key=PICKER).set_value(language).run()


def agree_in_german(at: AppTest) -> AppTest:
    next(item for item in at.checkbox if item.label == "Ich habe das gelesen und stimme zu").check().run()
    return button(at, "Start").click().run()


def only_campaign(tmp_path, monkeypatch, toml: str):
    path = tmp_path / "campaign.toml"
    path.write_text(toml, encoding="utf-8")
    monkeypatch.setenv("SPEECHREC_CAMPAIGN", str(path))
    return load_campaign(path)


# ---- the browser's language, the switcher, the choice kept -------------------------------------------


def test_the_demo_campaign_offers_english_and_german():
    assert CAMPAIGN.languages == ("en", "de") and GERMAN.consent_text != CAMPAIGN.consent_text


def test_the_welcome_page_is_german_when_the_browser_asks_for_de_DE_and_switches_to_english():
    at = browser("de-DE")
    assert not at.exception
    assert shown(at.title[0].value) == GERMAN.title
    assert at.subheader[0].value == "Bevor du beginnst"
    assert any(GERMAN.consent_text.strip()[:40] in item.value for item in at.markdown)
    assert "Ich habe das gelesen und stimme zu" in [item.label for item in at.checkbox]
    assert at.selectbox(key=PICKER).value == "de"

    switch_language(at, "en")
    assert not at.exception
    assert shown(at.title[0].value) == CAMPAIGN.title and at.subheader[0].value == "Before you start"
    assert any(CAMPAIGN.consent_text.strip()[:40] in item.value for item in at.markdown)
    assert at.session_state[state.LANGUAGE] == "en"
    at.run()  # a rerun (and any later page of this session) keeps the choice over the browser's
    assert at.subheader[0].value == "Before you start"


@pytest.mark.parametrize(("locale", "language"), [("de-AT", "de"), ("en-GB", "en"), ("fr-FR", "en"), (None, "en")])
def test_the_language_is_the_browsers_among_the_offered_else_the_campaigns_own(locale, language):
    at = browser(locale)
    assert not at.exception
    assert at.session_state[state.LANGUAGE] == language
    assert at.subheader[0].value == {"de": "Bevor du beginnst", "en": "Before you start"}[language]


def test_the_accept_language_header_counts_when_the_browser_gives_no_locale(monkeypatch):
    # AppTest cannot send request headers (Streamlit 1.67: AppTest.context seeds the locale only), so
    # the header is put where Streamlit keeps it for the session.
    headers = {"Accept-Language": "fr-CH, de;q=0.8, en;q=0.5"}
    monkeypatch.setattr(type(st.context), "headers", property(lambda self: headers))
    at = browser(None)
    assert not at.exception
    assert at.session_state[state.LANGUAGE] == "de" and at.subheader[0].value == "Bevor du beginnst"


def test_the_record_page_is_german_switchable_to_english_and_the_choice_holds_across_pages():
    at = agree_in_german(browser("de-DE"))
    assert not at.exception
    speaker_id = at.session_state[state.SPEAKER_ID]
    assert open_store().speakers().set_index("speaker_id").loc[speaker_id, "consent_language"] == "de"

    at.switch_page("pages/record.py").run()
    assert not at.exception
    assert at.subheader[0].value == "Zuerst ein Mikrofontest"
    next(item for item in at.toggle if item.label.startswith("Einfachen Rekorder benutzen")).set_value(True).run()
    assert at.get("audio_input")[0].label == "Drücke auf das Mikrofon, sag das Wort einmal und drücke dann auf Stopp"
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    assert not at.exception and at.success[0].value == "Aufgenommen, danke\\!"
    assert "Deine letzte Aufnahme" in shown(at.caption[0].value)
    assert [button.label for button in at.button][:3] == ["Anhören", "Neu aufnehmen", "Dieses Wort überspringen"]
    at.get("audio_input")[0].set_value(broken_upload("rate-1")).run()  # a quality message, in German too
    message = shown(at.error[0].value)
    assert message.startswith("Das hat nicht geklappt: die Aufnahme: der Dateikopf nennt eine Abtastrate von 1 Hz")
    assert message.endswith("bitte nimm noch einmal auf. Bitte versuche es noch einmal.")

    switch_language(at, "en")
    assert not at.exception
    assert [button.label for button in at.button][:3] == ["Replay", "Redo", "Skip this word"]
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    assert at.success[0].value == "Got it, thank you\\!"
    at.switch_page("pages/welcome.py").run()
    assert at.selectbox(key=PICKER).value == "en" and shown(at.title[0].value) == CAMPAIGN.title


def test_a_malformed_code_is_quoted_the_german_way_throughout():
    at = browser("de-DE")
    at.text_input[0].input("hello").run()
    button(at, "Mit diesem Code weitermachen").click().run()
    assert not at.exception
    assert shown(at.error[0].value) == (
        "Der Teilnahmecode „hello“ ist ungültig: Er hat 12 Buchstaben und Ziffern, wie „K7QM-2XPA-9DHT“; prüfe "
        "ihn auf Tippfehler."
    )


def test_organizer_pages_stay_english_for_a_german_browser():
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.context["locale"] = "de-DE"
    at.session_state[state.ORGANIZER] = True
    at.run().switch_page("pages/stats.py").run()
    assert not at.exception
    assert at.title[0].value == "Stats"
    at.switch_page("pages/welcome.py").run()  # the volunteer's page of the same browser: German
    assert at.subheader[0].value == "Bevor du beginnst"


def test_the_consent_language_is_stored_again_when_consent_is_renewed(tmp_path, monkeypatch):
    store = open_store()
    speaker = store.create_speaker(CAMPAIGN.consent_version, "en")
    bumped = tmp_path / "campaign.toml"
    text = (APP.parent / "campaign.toml").read_text(encoding="utf-8")
    bumped.write_text(text.replace("consent_version = 1", "consent_version = 2"), encoding="utf-8")
    monkeypatch.setenv("SPEECHREC_CAMPAIGN", str(bumped))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.context["locale"] = "de-DE"
    at.query_params["code"] = speaker.participant_code
    at.run()
    assert "Die Einwilligung hat sich geändert" in shown(at.info[0].value)
    agree_in_german(at)
    row = store.speakers().set_index("speaker_id").loc[speaker.speaker_id]
    assert (row["consent_version"], row["consent_language"]) == (2, "de")


# ---- keywords as written, in any script ------------------------------------------------------------

RTL_TOML = """
title = "كلمات"
keywords = ["مرحبا بك", "שָׁלוֹם", "ok 2"]
consent_text = "أوافق."
takes_per_keyword = 1
"""


def test_right_to_left_keywords_are_shown_intact_and_laid_out_by_their_own_direction(tmp_path, monkeypatch):
    campaign = only_campaign(tmp_path, monkeypatch, RTL_TOML)
    at = agree(AppTest.from_file(str(APP), default_timeout=60).run())
    speaker_id = at.session_state[state.SPEAKER_ID]
    simple_recorder(at.switch_page("pages/record.py").run())
    schedule = build_schedule(campaign, speaker_id)
    for number, prompt in enumerate(schedule, start=1):
        word_html = next(item.value for item in at.markdown if "font-size:4rem" in item.value)
        assert "dir='auto'" in word_html  # the browser lays the word out by its first strong letter
        assert prompted_word(at) == prompt.word  # every letter and mark, in the organizer's order
        at.get("audio_input")[0].set_value(wav(spoken_take())).run()
        assert not at.exception
        if number < len(schedule):  # the word inside an English sentence: isolated, so not reordered
            assert f"“\u2068{prompt.word}\u2069”" in at.caption[0].value
    assert set(open_store().clips()["keyword"]) == set(campaign.keywords)


# ---- no text on the volunteer pages escapes the catalogs --------------------------------------------


def campaign_data(campaign) -> set[str]:
    """Texts the organizer wrote, shown as written: title, description, consent and instructions in
    every language, and the keywords."""
    texts = set(campaign.words)
    for language in campaign.languages:
        given = campaign.texts(language)
        texts |= {given.title, given.description, given.consent_text, *given.instructions.values()}
    return {" ".join(text.split()) for text in texts if text}


def checker(campaign):
    data = campaign_data(campaign)
    no_words = re.compile(r"[\d\s/·-]+")  # the progress bar's "3 / 35", a divider's "---"

    def is_data(text: str) -> bool:
        text = shown(text)
        return " ".join(text.split()) in data or bool(no_words.fullmatch(text))

    return is_data


def test_every_text_on_the_welcome_and_record_pages_goes_through_the_catalogs(monkeypatch):
    use_pseudo_language(monkeypatch)
    recorder_texts = []

    def recorder(**kwargs):  # the live recorder's own words go to its JavaScript, not to the page
        recorder_texts.extend(kwargs["translations"].values())
        return real_recorder(**kwargs)

    real_recorder = speechrec.ui.live.webrtc_streamer
    monkeypatch.setattr(speechrec.ui.live, "webrtc_streamer", recorder)
    is_data = checker(CAMPAIGN)
    at = browser("de-DE")
    assert not at.exception
    seen = [unmarked_texts(at, is_data)]
    at.text_input[0].input("K7QM-2XPA-9DHT").run()
    button(at, f"{OPEN}Continue with this code{CLOSE}").click().run()  # a code nobody has: an error
    seen.append(unmarked_texts(at, is_data))
    at.text_input[0].input("").run()
    at.checkbox[0].check().run()
    button(at, f"{OPEN}Start{CLOSE}").click().run()
    seen.append(unmarked_texts(at, is_data))  # the participant code and the way to recording
    at.switch_page("pages/record.py").run()
    seen.append(unmarked_texts(at, is_data))  # the microphone check
    assert recorder_texts and all(OPEN in text for text in recorder_texts)
    at.session_state[state.LIVE_FAILED] = True
    seen.append(unmarked_texts(at.run(), is_data))  # the live recorder gave up
    next(item for item in at.toggle if "simple recorder" in item.label).set_value(True).run()
    at.get("audio_input")[0].set_value(wav(spoken_take())).run()
    at.get("audio_input")[0].set_value(broken_upload("cut-short")).run()
    seen.append(unmarked_texts(at, is_data))  # a refused take, the last take, skip
    next(item for item in at.toggle if "takes" in item.label).set_value(True).run()
    seen.append(unmarked_texts(at, is_data))  # the volunteer's takes
    assert not at.exception
    assert [texts for texts in seen if texts] == []


@pytest.mark.parametrize(
    ("query", "context", "report"),
    [
        ({"code": "x"}, {}, None),  # a malformed code in the link
        ({"code": "K7QM-2XPA-9DHT"}, {}, None),  # a code nobody has
        ({}, {"url": "http://192.168.1.20:8501/"}, None),  # no microphone on plain http
        ({}, {}, {"secure": True, "microphone_api": False, "permission": None}),
        ({}, {}, {"secure": True, "microphone_api": True, "permission": "denied"}),
    ],
)
def test_what_keeps_a_volunteer_from_starting_goes_through_the_catalogs(monkeypatch, query, context, report):
    use_pseudo_language(monkeypatch)
    if report is not None:
        monkeypatch.setattr("speechrec.ui.browser._component", lambda **kwargs: SimpleNamespace(report=report))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query)
    at.context.update(context)
    at.run()
    assert not at.exception and at.error
    assert unmarked_texts(at, checker(CAMPAIGN)) == []


def test_the_room_step_and_done_go_through_the_catalogs(monkeypatch):
    use_pseudo_language(monkeypatch)
    is_data = checker(CAMPAIGN)
    store = open_store()
    at = browser()
    at.checkbox[0].check().run()
    button(at, f"{OPEN}Start{CLOSE}").click().run()
    speaker_id = at.session_state[state.SPEAKER_ID]
    prefill(store, speaker_id, build_schedule(CAMPAIGN, speaker_id))
    fake = FakeRoomRecorder(steady_noise(1.0, RATE, -55.0), RAW_SETTINGS)  # too short: refused
    monkeypatch.setattr("speechrec.ui.room._component", fake)
    at.switch_page("pages/record.py").run()
    assert not at.exception
    room_texts = unmarked_texts(at, is_data)
    data = fake.calls[-1]["data"]
    assert OPEN in data["label"] and all(OPEN in text for text in data["texts"].values())  # the JavaScript's words
    fake.value = FakeRoomRecorder(steady_noise(CAMPAIGN.background_noise_s, RATE, -55.0), RAW_SETTINGS).value
    at.run()
    assert not at.exception and OPEN in at.subheader[0].value  # done
    assert (room_texts, unmarked_texts(at, is_data)) == ([], [])


def test_the_room_steps_skip_button_explains_the_room_step_in_the_volunteers_language(monkeypatch):
    store = open_store()
    at = agree_in_german(browser("de-DE"))
    speaker_id = at.session_state[state.SPEAKER_ID]
    prefill(store, speaker_id, build_schedule(CAMPAIGN, speaker_id))
    monkeypatch.setattr("speechrec.ui.room._component", FakeRoomRecorder(steady_noise(1.0, RATE, -55.0), RAW_SETTINGS))
    at.switch_page("pages/record.py").run()
    assert not at.exception
    skip = button(at, "Diesen Schritt überspringen")  # not the word step's help ("Für ein Wort, ...")
    assert skip.help == (
        "Falls du deinen Raum jetzt nicht aufnehmen kannst: Es wird nichts aufgenommen, und die Wörter, die du "
        "aufgenommen hast, bleiben erhalten."
    )


# ---- the Campaign page ----------------------------------------------------------------------------

ENGLISH_ONLY_TOML = """
title = "Say yes"
keywords = ["yes", "no"]
consent_text = "I agree."
"""


def test_the_campaign_page_adds_a_language_with_its_texts(tmp_path, monkeypatch):
    only_campaign(tmp_path, monkeypatch, ENGLISH_ONLY_TOML)
    store = open_store()
    at = organizer_page("pages/campaign.py")
    further = next(item for item in at.multiselect if item.label.startswith("Further languages"))
    assert "de" in further.options or "Deutsch (de)" in further.options
    further.set_value(["de"]).run()
    campaign_field(at, "Consent text (de, required)").input("Ich stimme zu.")
    campaign_field(at, "Title (de;").input("Sag ja!")
    button(at, "Save").click().run()
    assert not at.exception and "Saved." in shown(at.success[0].value)
    saved = store.saved_campaign()
    assert saved.languages == ("en", "de")
    assert (saved.texts("de").title, saved.texts("de").consent_text) == ("Sag ja!", "Ich stimme zu.")
    assert saved.consent_version == 1  # a language added: nobody agreed in it yet
    volunteer = browser("de-DE")  # and German browsers get it at once
    assert shown(volunteer.title[0].value) == "Sag ja!" and volunteer.subheader[0].value == "Bevor du beginnst"


def test_a_further_language_without_its_consent_text_is_refused(tmp_path, monkeypatch):
    only_campaign(tmp_path, monkeypatch, ENGLISH_ONLY_TOML)
    store = open_store()
    at = organizer_page("pages/campaign.py")
    next(item for item in at.multiselect if item.label.startswith("Further languages")).set_value(["de"]).run()
    button(at, "Save").click().run()
    assert not at.exception
    assert "Not saved: languages offers 'de', but translations.de has no consent_text" in shown(at.error[0].value)
    assert store.saved_campaign() is None
    assert not browser("de-DE").get("selectbox")  # one language: no switcher, English for everyone


def test_an_instruction_shows_in_the_volunteers_language(tmp_path, monkeypatch):
    campaign = only_campaign(
        tmp_path,
        monkeypatch,
        ENGLISH_ONLY_TOML
        + 'languages = ["en", "de"]\n[[variations]]\nname = "soft"\ninstruction = "Say it softly."\n'
        + '[translations.de]\nconsent_text = "Ich stimme zu."\nvariations = { soft = "Sag es leise." }\n',
    )
    at = agree_in_german(browser("de-DE"))
    at.switch_page("pages/record.py").run()
    next(item for item in at.toggle if item.label.startswith("Einfachen Rekorder benutzen")).set_value(True).run()
    assert not at.exception
    instruction = next(item.value for item in at.markdown if "font-size:1.3rem" in item.value)
    assert "Sag es leise." in instruction and campaign.variation("soft").instruction not in instruction
    switch_language(at, "en")
    assert campaign.variation("soft").instruction in next(item.value for item in at.markdown if "1.3rem" in item.value)


TWO_LANGUAGES_TOML = (
    ENGLISH_ONLY_TOML
    + 'description = "Say each word once."\nlanguages = ["en", "de"]\n'
    + '[[variations]]\nname = "soft"\ninstruction = "Say it softly."\n'
    + '[[variations]]\nname = "loud"\ninstruction = "Say it loudly."\n'
    + '[translations.de]\ntitle = "Sag ja"\nconsent_text = "Ich stimme zu."\nvariations = { soft = "Sag es leise." }\n'
)


def own_language(at: AppTest, language: str) -> AppTest:
    return next(item for item in at.selectbox if item.label.startswith("Language of the campaign's own")).set_value(
        language
    ).run()


def texts_read(campaign) -> dict:
    """What the volunteers of each offered language read: the campaign as they see it."""
    return {language: campaign.texts(language) for language in campaign.languages}


def test_picking_another_own_language_moves_the_texts_and_loses_none(tmp_path, monkeypatch):
    campaign = only_campaign(tmp_path, monkeypatch, TWO_LANGUAGES_TOML)
    store = open_store()
    at = own_language(organizer_page("pages/campaign.py"), "de")
    assert not at.exception
    assert campaign_field(at, "Title").value == "Sag ja"  # the main fields: the German texts
    assert campaign_field(at, "Consent text (version").value == "Ich stimme zu."
    assert campaign_field(at, "Variations").value == "soft: Sag es leise.\nloud: Say it loudly."  # as read today
    assert campaign_field(at, "Consent text (en, required)").value == "I agree."  # English: kept, further
    assert campaign_field(at, "Title (en;").value == "Say yes"
    button(at, "Save").click().run()
    assert not at.exception
    assert shown(at.success[0].value) == "Saved."  # no consent text changed: nobody is asked again
    saved = store.saved_campaign()
    assert saved.languages == ("de", "en") and saved.consent_version == 1
    assert texts_read(saved) == texts_read(campaign)  # every language's texts as they were

    own_language(at, "en")  # and back: the campaign as it was
    button(at, "Save").click().run()
    assert not at.exception
    saved = store.saved_campaign()
    assert saved.languages == ("en", "de") and saved.consent_version == 1
    assert texts_read(saved) == texts_read(campaign)
    assert (saved.title, saved.consent_text, saved.variations) == (campaign.title, campaign.consent_text, campaign.variations)


def test_picking_an_own_language_without_texts_asks_for_them_and_keeps_the_others(tmp_path, monkeypatch):
    campaign = only_campaign(tmp_path, monkeypatch, ENGLISH_ONLY_TOML)
    store = open_store()
    at = own_language(organizer_page("pages/campaign.py"), "de")
    assert not at.exception
    assert "Deutsch (de) is new to this campaign" in shown(at.info[0].value)
    assert campaign_field(at, "Title").value == "" and campaign_field(at, "Consent text (version").value == ""
    button(at, "Save").click().run()  # never the English texts under a German label
    assert "Not saved: title is empty" in shown(at.error[0].value) and store.saved_campaign() is None

    campaign_field(at, "Title").input("Sag ja")
    campaign_field(at, "Consent text (version").input("Ich stimme zu.")
    button(at, "Save").click().run()
    assert not at.exception and shown(at.success[0].value) == "Saved."
    saved = store.saved_campaign()
    assert saved.languages == ("de", "en") and saved.consent_version == 1
    assert saved.texts("en") == campaign.texts("en")
    assert (saved.title, saved.consent_text) == ("Sag ja", "Ich stimme zu.")


def test_a_language_taken_away_is_named_with_its_texts(tmp_path, monkeypatch):
    only_campaign(tmp_path, monkeypatch, TWO_LANGUAGES_TOML)
    store = open_store()
    at = organizer_page("pages/campaign.py")
    next(item for item in at.multiselect if item.label.startswith("Further languages")).set_value([]).run()
    button(at, "Save").click().run()
    assert not at.exception
    assert shown(at.success[0].value) == "Saved. No longer offered, with their texts: Deutsch (de)."
    assert store.saved_campaign().languages == ("en",)


def test_a_variation_without_an_instruction_in_a_further_language_is_warned_about(tmp_path, monkeypatch):
    only_campaign(tmp_path, monkeypatch, TWO_LANGUAGES_TOML)
    at = organizer_page("pages/campaign.py")
    assert not at.exception
    assert [shown(item.value) for item in at.warning] == [
        "Deutsch (de) has no instruction for the variation 'loud': volunteers reading Deutsch see the English one "
        "instead. Add it to the variation instructions under Texts in Deutsch (de)."
    ]
    campaign_field(at, "Variation instructions (de)").input("soft: Sag es leise.\nloud: Sag es laut.")
    button(at, "Save").click().run()
    assert not at.exception and not at.warning  # saved, and nothing left to warn about
    assert open_store().saved_campaign().texts("de").instructions["loud"] == "Sag es laut."
