"""Variations and near-miss phrases through the pages (issue 14): the Record page asks for each
variation with its instruction and stores it, Review shows and filters it, Stats counts it, and
the Campaign page edits both and proposes a multi-word keyword's parts."""

from __future__ import annotations

from collections import Counter

from streamlit.testing.v1 import AppTest
from test_app import (
    APP,
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

from speechrec.campaign import load_campaign
from speechrec.prompts import build_schedule
from speechrec.review import NO_VARIATION
from speechrec.ui import state

__all__ = ["clean_app"]  # the page tests' autouse fixture: each test gets its own data folder

VARIED_TOML = """
title = "Hey Jarvis"
keywords = ["hey jarvis", "stop"]
consent_text = "I agree."
takes_per_keyword = 2

[[variations]]
name = "soft"
instruction = "Say it softly, as if someone sleeps nearby."

[[variations]]
name = "far"
instruction = "Put the phone down and say it from across the room."

[near_misses]
"hey jarvis" = ["hey", "jarvis"]
"""


def varied_campaign(tmp_path, monkeypatch):
    path = tmp_path / "campaign.toml"
    path.write_text(VARIED_TOML, encoding="utf-8")
    monkeypatch.setenv("SPEECHREC_CAMPAIGN", str(path))
    return load_campaign(path)


def instruction_shown(at: AppTest) -> str | None:
    found = [item.value for item in at.markdown if "font-size:1.3rem" in item.value]
    return found[0].split(">")[1].split("<")[0] if found else None


def test_the_record_page_asks_for_each_variation_and_stores_it(tmp_path, monkeypatch):
    campaign = varied_campaign(tmp_path, monkeypatch)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.checkbox[0].check().run()
    button(at, "Start").click().run()
    speaker_id = at.session_state[state.SPEAKER_ID]
    schedule = build_schedule(campaign, speaker_id)
    simple_recorder(at.switch_page("pages/record.py").run())
    for prompt in schedule:
        assert prompted_word(at) == prompt.word
        instruction = None if prompt.variation is None else campaign.variation(prompt.variation).instruction
        assert instruction_shown(at) == instruction
        at.get("audio_input")[0].set_value(wav(spoken_take())).run()
        assert not at.exception and "Got it" in at.success[0].value
    assert "All done" in at.subheader[0].value
    clips = open_store().clips()
    variations = clips["variation"].astype(object).where(clips["variation"].notna(), None)
    stored = Counter(zip(clips["keyword"], variations, strict=True))
    assert stored == Counter(schedule)
    near = clips[clips["keyword"].isin(["hey", "jarvis"])]
    assert len(near) == 2 and set(near["near_miss_of"]) == {"hey jarvis"}


def test_stats_counts_per_variation_and_review_filters_by_it(tmp_path, monkeypatch):
    varied_campaign(tmp_path, monkeypatch)
    store = open_store()
    speaker = store.create_speaker(1).speaker_id
    prefill(store, speaker, [("stop", "soft"), ("stop", "far"), ("stop", "far"), ("hey jarvis", None), "hey"])
    store.relabel(store.clips(keyword="hey")["clip_id"][0], "hey", near_miss_of="hey jarvis")
    at = organizer_page("pages/stats.py")
    assert not at.exception
    assert "Per variation" in [item.value for item in at.subheader]
    table = next(frame.value for frame in at.dataframe if "variation" in frame.value.columns)
    counts = table.set_index(["keyword", "variation"])["total"].to_dict()
    assert counts == {("hey jarvis", "soft"): 0, ("hey jarvis", "far"): 0, ("hey jarvis", NO_VARIATION): 1,
                      ("stop", "soft"): 1, ("stop", "far"): 2, ("stop", NO_VARIATION): 0}  # fmt: skip
    words = at.dataframe[0].value.set_index("keyword")
    assert (words.loc["hey", "kind"], words.loc["hey", "total"]) == ("near miss", 1)

    review = organizer_page("pages/review.py")
    next(item for item in review.multiselect if item.label == "Variations").set_value(["far"]).run()
    assert not review.exception
    assert review.markdown[0].value == "## stop" and "2 to go" in review.caption[0].value
    assert "variation far" in [item.value for item in review.caption]
    near = organizer_page("pages/review.py")  # newest first: the near miss "hey"
    assert near.markdown[0].value == "## hey" and "near miss of hey jarvis" in [item.value for item in near.caption]


def test_relabelling_a_near_miss_as_the_keyword_clears_its_near_miss(tmp_path, monkeypatch):
    varied_campaign(tmp_path, monkeypatch)
    store = open_store()
    prefill(store, store.create_speaker(1).speaker_id, ["jarvis"])
    clip_id = store.clips()["clip_id"][0]
    store.relabel(clip_id, "jarvis", near_miss_of="hey jarvis")
    at = organizer_page("pages/review.py")
    next(item for item in at.selectbox if item.label == "The volunteer actually said").set_value("hey jarvis").run()
    button(at, "Re-label").click().run()
    assert not at.exception
    assert (store.clip(clip_id).keyword, store.clip(clip_id).near_miss_of) == ("hey jarvis", None)
    button(at, "Undo the last decision").click().run()
    assert (store.clip(clip_id).keyword, store.clip(clip_id).near_miss_of) == ("jarvis", "hey jarvis")


def test_the_campaign_page_saves_variations_and_near_misses_and_proposes_parts():
    store = open_store()
    at = organizer_page("pages/campaign.py")
    campaign_field(at, "Keywords").input("hey jarvis\nstop")
    campaign_field(at, "Filler words").input("jarvis")
    button(at, "Propose near misses from the keywords' parts").click().run()
    assert not at.exception
    assert campaign_field(at, "Near-miss phrases").value == "hey jarvis: hey, hey jar"  # "jarvis" is a filler word
    assert store.saved_campaign() is None  # a proposal saves nothing
    campaign_field(at, "Filler words").input("")
    campaign_field(at, "Near-miss phrases").input("hey jarvis: hey, jarvis, hey jar")
    campaign_field(at, "Variations").input("soft: Say it softly.\nfar: Say it from across the room.")
    button(at, "Save").click().run()
    assert not at.exception and "Saved." in shown(at.success[0].value)
    saved = store.saved_campaign()
    assert saved.near_misses == {"hey jarvis": ("hey", "jarvis", "hey jar")}
    assert [(item.name, item.instruction) for item in saved.variations] == [
        ("soft", "Say it softly."),
        ("far", "Say it from across the room."),
    ]


def test_a_bad_variation_line_is_refused_with_the_reason():
    store = open_store()
    at = organizer_page("pages/campaign.py")
    campaign_field(at, "Variations").input("soft: Say it softly.\nLoud")
    button(at, "Save").click().run()
    assert not at.exception
    assert "Not saved: variation line 2 ('Loud') has no ':'" in shown(at.error[0].value)
    campaign_field(at, "Variations").input("Soft: Say it softly.")
    campaign_field(at, "Near-miss phrases").input("hey robot: hey")
    button(at, "Save").click().run()
    assert "Not saved: variation name 'Soft'" in shown(at.error[0].value)
    assert store.saved_campaign() is None
