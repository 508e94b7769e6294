"""Campaign languages through the pages (issue 14): the Campaign page offers the shipped
languages and takes the campaign's texts in each."""

from __future__ import annotations

from test_app import button, campaign_field, clean_app, open_store, organizer_page

__all__ = ["clean_app"]  # the page tests' autouse fixture: each test gets its own data folder


def test_the_campaign_page_adds_a_language_with_its_texts():
    store = open_store()
    at = organizer_page("pages/campaign.py")
    further = next(item for item in at.multiselect if item.label.startswith("Further languages"))
    assert "de" in further.options or "Deutsch (de)" in further.options
    further.set_value(["de"]).run()
    campaign_field(at, "Consent text (de, required)").input("Ich stimme zu.")
    campaign_field(at, "Title (de;").input("Sag ja!")
    button(at, "Save").click().run()
    assert not at.exception and "Saved." in at.success[0].value
    saved = store.saved_campaign()
    assert saved.languages == ("en", "de")
    assert (saved.texts("de").title, saved.texts("de").consent_text) == ("Sag ja!", "Ich stimme zu.")
    assert saved.consent_version == 1  # a language added: nobody agreed in it yet


def test_a_further_language_without_its_consent_text_is_refused():
    store = open_store()
    at = organizer_page("pages/campaign.py")
    next(item for item in at.multiselect if item.label.startswith("Further languages")).set_value(["de"]).run()
    button(at, "Save").click().run()
    assert not at.exception
    assert "Not saved: languages offers 'de', but translations.de has no consent_text" in at.error[0].value
    assert store.saved_campaign() is None
