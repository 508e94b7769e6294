"""The volunteer pages' language in a real headless Chromium against `streamlit run`: a German
browser (navigator.language and Accept-Language de-DE) gets German pages, switches to English, and
a right-to-left keyword is laid out right to left and shown letter for letter.

AppTest seeds st.context.locale itself (tests/test_app_languages.py); this is the real way it
comes: from the browser, through Streamlit's own client. Needs what tests/test_browser.py needs.
"""

from __future__ import annotations

import pytest
from test_browser import PHONE_VIEWPORT, browser, running_app, write_fake_microphone  # skips without a browser

from speechrec.config import load_settings
from speechrec.store import ClipStore

pytestmark = pytest.mark.browser

ARABIC = "مرحبا بك"
CAMPAIGN = f"""
title = "Say it"
keywords = ["{ARABIC}"]
takes_per_keyword = 2
consent_text = "I agree that my recordings are published."
languages = ["en", "de"]

[translations.de]
title = "Sag es"
consent_text = "Ich stimme zu, dass meine Aufnahmen veröffentlicht werden."
"""


def test_a_german_browser_gets_german_pages_switches_to_english_and_sees_an_arabic_keyword_right_to_left(tmp_path):
    microphone = tmp_path / "microphone.wav"
    write_fake_microphone(microphone)
    campaign = tmp_path / "campaign.toml"
    campaign.write_text(CAMPAIGN, encoding="utf-8")
    with (
        running_app(tmp_path, campaign=campaign) as (url, data, _, _),
        browser(tmp_path, microphone) as context,
    ):
        page = context.browser.new_context(viewport=PHONE_VIEWPORT, locale="de-DE").new_page()
        page.goto(url)
        page.get_by_text("Ich stimme zu, dass meine Aufnahmen veröffentlicht werden.").wait_for(timeout=20000)
        assert page.get_by_role("heading", name="Bevor du beginnst").is_visible()
        assert page.title() == "Sag es"
        page.get_by_text("Ich habe das gelesen und stimme zu").click()
        page.get_by_role("button", name="Start").click()
        page.get_by_text("Unten steht dein Teilnahmecode").wait_for(timeout=20000)
        page.get_by_text("Zur Aufnahme").click()
        page.get_by_text("Einfachen Rekorder benutzen").click()

        word = page.locator("p[dir='auto']", has_text=ARABIC)
        word.wait_for(timeout=20000)
        assert word.inner_text() == ARABIC  # every letter, in the organizer's order
        assert word.evaluate("element => getComputedStyle(element).direction") == "rtl"

        page.get_by_role("button", name="Dieses Wort überspringen").wait_for()
        page.get_by_role("combobox", name="Sprache").click()  # the switcher in the corner, labelled in German
        page.get_by_role("option", name="English").click()
        page.get_by_role("button", name="Skip this word").wait_for(timeout=20000)
        assert page.get_by_text("Use the simple recorder").is_visible()

    speakers = ClipStore(load_settings(data, environ={})).speakers()
    assert speakers["consent_language"].tolist() == ["de"]
