"""Near-miss proposals: a multi-word keyword's words, runs of words, and the cut inside a word."""

from __future__ import annotations

import pytest

from speechrec.near_misses import propose_for_campaign, propose_near_misses


@pytest.mark.parametrize(
    ("keyword", "language", "proposed"),
    [
        ("hey jarvis", "en", ("hey", "jarvis", "hey jar")),
        ("hey my robot", "en", ("hey", "my", "robot", "hey my", "my robot", "hey my ro")),
        ("hallo computer", "de", ("hallo", "computer", "hallo com")),
        ("hallo computer", "de_AT", ("hallo", "computer", "hallo com")),  # the base language's patterns
        ("okay google", "en", ("okay", "google")),  # no hyphenation point in "google"
        ("hey jarvis", "ja", ("hey", "jarvis")),  # no patterns for the language: words only
        ("stop", "en", ()),  # one word: nothing to propose
        ("hey  jarvis", "en", ("hey", "jarvis", "hey jar")),
    ],
)
def test_proposals(keyword, language, proposed):
    assert propose_near_misses(keyword, language) == proposed


def test_proposals_are_usable_folder_names():
    assert propose_near_misses("_hey jarvis") == ("jarvis",)  # "_hey" and "_hey jar" start with "_"


def test_a_campaigns_proposals_keep_what_is_listed_and_skip_its_other_words():
    proposed = propose_for_campaign(
        ("hey jarvis", "hey robot", "stop"),
        {"hey jarvis": ("Jarvis", "hey jarv"), "gone": ("x",)},
        ("robot",),
        "en",
    )
    assert proposed == {
        "hey jarvis": ("Jarvis", "hey jarv", "hey", "hey jar"),  # "jarvis" is listed already, as "Jarvis"
        "hey robot": ("hey", "hey ro"),  # "robot" is a filler word
        "gone": ("x",),  # kept for the campaign's check to name
    }


def test_a_non_string_keyword_is_refused():
    with pytest.raises(TypeError, match="keyword must be a string"):
        propose_near_misses(["hey", "jarvis"])
