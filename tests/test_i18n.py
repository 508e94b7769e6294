"""Message catalogs and languages: every marked message is translated in every shipped catalog
(German complete), the template is current, the catalog check finds each kind of gap, and the
volunteer's language is negotiated from what the browser asks for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from pseudo_locale import page_texts, unmarked_texts, use_pseudo_language
from streamlit.testing.v1 import AppTest

from speechrec import i18n
from speechrec.errors import CampaignError
from speechrec.i18n import (
    accept_languages,
    available_languages,
    catalog_problems,
    extract_messages,
    language_name,
    negotiate_language,
    normalize_language,
    text_direction,
    translator,
)

REPO = Path(__file__).resolve().parent.parent
# The commands that bring the template and the catalogs up to date, as README (Adding a language)
# gives them; the failure hints below give the same (checked), so the catalogs stay as written.
EXTRACT = (
    'pybabel extract -F babel.cfg --project=speechrec --copyright-holder="speechrec contributors" '
    "--add-location=file --sort-by-file -o speechrec/locale/messages.pot ."
)
UPDATE = "pybabel update --width=100 -i speechrec/locale/messages.pot -d speechrec/locale"


@pytest.fixture(scope="module")
def extracted() -> dict[str, list[str]]:
    return extract_messages(REPO)


# ---- the shipped catalogs ---------------------------------------------------------------------------


def test_english_and_german_are_shipped():
    assert {"en", "de"} <= set(available_languages())


@pytest.mark.parametrize("language", [language for language in available_languages() if language != "en"])
def test_every_marked_message_is_translated_in_every_catalog(extracted, language):
    problems = catalog_problems(language, extracted)
    hint = f"run: {EXTRACT} && {UPDATE}, then translate (README: Adding a language)"
    assert problems == [], "\n".join([*problems, hint])


def test_the_template_holds_exactly_the_marked_messages(extracted):
    with open(i18n.TEMPLATE_PATH, "rb") as file:
        template = {entry.id if isinstance(entry.id, str) else entry.id[0] for entry in read_po(file) if entry.id}
    assert template == set(extracted), f"run: {EXTRACT}"


def test_the_readme_gives_the_commands_the_hints_give():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    lines = readme.replace("\\\n", " ").splitlines()  # continued lines joined, then comments dropped
    commands = {" ".join(re.sub(r"\s#\s.*", "", line).split()) for line in lines}
    assert {EXTRACT, UPDATE} <= commands


# Straight quotes used as quotation marks (an apostrophe, as in "app's", has a letter before it).
STRAIGHT_QUOTES = re.compile(r"(?<!\w)['\"]|['\"](?!\w)")


TRANSLATED = [language for language in available_languages() if language != "en"]


@pytest.mark.parametrize("path", [i18n.TEMPLATE_PATH, *map(i18n.catalog_path, TRANSLATED)])
def test_messages_quote_with_the_languages_own_marks_never_straight_quotes(path):
    """A message quotes with its language's marks (“…” in English, „…“ in German), typed in the
    message itself: a value put in with repr() brought straight quotes into a German sentence."""
    with open(path, "rb") as file:
        catalog = read_po(file)
    texts = [text for entry in catalog if entry.id for text in (*_strings(entry.id), *_strings(entry.string))]
    assert [text for text in texts if STRAIGHT_QUOTES.search(text)] == []


def _strings(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


# ---- the catalog check and the reader, on a catalog made here ---------------------------------------

SAMPLE_PO = r"""
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\n"
"Language: xx\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgid "Start"
msgstr "Los"

msgid "You recorded {count} clips."
msgstr "Du hast {anzahl} Aufnahmen gemacht."

msgid "Skip"
msgstr ""

#, fuzzy
msgid "Record the room"
msgstr "Raum aufnehmen"

msgid "An old message"
msgstr "Eine alte Nachricht"

msgid "You have {count} take."
msgid_plural "You have {count} takes."
msgstr[0] "Du hast {count} Aufnahme."
msgstr[1] ""
"""


@pytest.fixture
def sample_catalog(tmp_path, monkeypatch):
    folder = tmp_path / "locale" / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(SAMPLE_PO, encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "locale")
    i18n.translations.cache_clear()
    yield
    i18n.translations.cache_clear()


def test_the_catalog_check_names_each_kind_of_gap(sample_catalog):
    messages = ["Start", "You recorded {count} clips.", "Skip", "Record the room", "Withdraw", "You have {count} take."]
    assert catalog_problems("de", messages) == [
        "de: fuzzy (to be checked) 'Record the room'",
        "de: not translated 'Skip'",
        "de: missing 'Withdraw'",
        "de: not translated 'You have {count} take.'",  # one plural form of two is missing
        "de: the placeholders of 'You recorded {count} clips.' differ in 'Du hast {anzahl} Aufnahmen gemacht.'",
        "de: no longer used 'An old message' (run pybabel update)",
    ]
    assert catalog_problems("fr", messages)[0].startswith("fr: no catalog at ")


def test_translations_fall_back_to_english_where_the_catalog_has_none(sample_catalog):
    german = translator("de")
    assert german("Start") == "Los"
    assert german("Skip") == "Skip"  # untranslated
    assert german("Record the room") == "Record the room"  # fuzzy: not trusted
    assert german("Never marked") == "Never marked"
    assert translator("de_CH")("Start") == "Los"  # Swiss German is served by German
    assert translator("en")("Start") == "Start" and translator("fr")("Start") == "Start"


# ---- languages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", ["de-DE", "de", "en-US", "en"]),
        ("en;q=0.5, fr;q=0.9, ar", ["ar", "fr", "en"]),
        ("fr;q=0, *;q=0.1, de", ["de"]),  # q=0 means "not this one"; * names no language
        ("de;q=abc, en", ["en"]),
        ("", []),
        (None, []),
    ],
)
def test_accept_language_headers(header, tags):
    assert accept_languages(header) == tags


@pytest.mark.parametrize(
    ("preferred", "offered", "chosen"),
    [
        (["de-DE"], ["en", "de"], "de"),
        (["de-AT", "en"], ["en", "de"], "de"),
        (["fr-FR", "en-GB"], ["de", "en"], "en"),
        (["fr-FR"], ["de", "en"], "de"),  # nothing asked for is offered: the campaign's own language
        ([None, "", "de"], ["en", "de"], "de"),  # st.context.locale is None without a browser
        ([], ["en"], "en"),
    ],
)
def test_negotiate_language(preferred, offered, chosen):
    assert negotiate_language(preferred, offered) == chosen


def test_negotiate_language_needs_an_offer():
    with pytest.raises(ValueError, match="no language offered"):
        negotiate_language(["de"], [])


@pytest.mark.parametrize(
    ("language", "name", "direction"),
    [("de", "Deutsch", "ltr"), ("en", "English", "ltr"), ("ar", "العربية", "rtl"), ("he", "עברית", "rtl")],
)
def test_language_names_and_directions(language, name, direction):
    assert (language_name(language), text_direction(language)) == (name, direction)


@pytest.mark.parametrize(("tag", "code"), [("de-DE", "de_DE"), ("EN", "en"), (" pt-br ", "pt_BR"), ("de", "de")])
def test_language_tags_become_babel_codes(tag, code):
    assert normalize_language(tag) == code


@pytest.mark.parametrize("tag", ["klingon", "", "de--"])
def test_unknown_language_tags_are_refused(tag):
    with pytest.raises(CampaignError, match="is not a language code"):
        normalize_language(tag)


# ---- the page check: a text a volunteer reads that was never marked is found ----------------------

PAGE = """
import streamlit as st
from speechrec.i18n import translator
_ = translator("de")
st.title(_("Welcome"))
st.button(_("Start"))
st.text_input(_("Participant code"), placeholder=_("e.g. {code}").format(code="K7QM-2XPA-9DHT"))
st.progress(0.5, text=_("{done} of {total}").format(done=1, total=2))
st.markdown("<p dir='auto'>hey jarvis</p>", unsafe_allow_html=True)
st.caption("Forgotten to mark")
with st.expander(_("More")):
    st.checkbox("Not marked either")
"""


def test_the_page_check_finds_texts_never_marked_and_only_them(monkeypatch):
    use_pseudo_language(monkeypatch)
    at = AppTest.from_string(PAGE).run()
    assert not at.exception
    texts = list(page_texts(at))
    assert "⟦Welcome⟧" in texts and "⟦e.g. {code}⟧".replace("{code}", "K7QM-2XPA-9DHT") in texts
    assert "⟦1 of 2⟧" in texts  # placeholders are kept and filled
    assert unmarked_texts(at, is_data=lambda text: text == "hey jarvis") == ["Forgotten to mark", "Not marked either"]


def test_german_counts_in_its_own_plural_forms():
    from speechrec import i18n as module

    german = module.translations("de")
    singular, plural = "You recorded {count} clip for this dataset.", "You recorded {count} clips for this dataset."
    assert german.ngettext(singular, plural, 1).format(count=1) == "Du hast 1 Aufnahme für diesen Datensatz gemacht."
    assert german.ngettext(singular, plural, 3).format(count=3) == "Du hast 3 Aufnahmen für diesen Datensatz gemacht."
