"""The Model check page and its way into Review, under AppTest, with a real background check."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest
from test_app import APP, REPO, clean_app  # noqa: F401  (clean_app: autouse, as in the app tests)
from test_modelcheck import CAMPAIGN, WRONG, add_takes

from speechrec.config import load_settings
from speechrec.modelcheck import latest_check
from speechrec.store import ClipStore
from speechrec.ui import state

PAGE = "pages/model_check.py"


def organizer_page(page: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state[state.ORGANIZER] = True
    at.run()
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.switch_page(page).run()


def filled_store() -> tuple[ClipStore, dict]:
    store = ClipStore(load_settings())
    store.save_campaign(CAMPAIGN)
    return store, add_takes(store, range(3), {"yes": 4, "no": 4, "up": 4, "tum": 4}, said={WRONG: "no"})


# Opened without sign-in, the page says where to sign in: tests/test_app.py covers it with the other
# organizer pages, through the app as the server runs it.


def test_a_store_too_small_says_so_after_the_run():
    store = ClipStore(load_settings())
    store.save_campaign(CAMPAIGN)
    add_takes(store, range(2), {"yes": 1})
    at = organizer_page(PAGE)
    next(item for item in at.button if item.label == "Run the model check").click().run()
    deadline = time.monotonic() + 120
    while not at.error and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
    assert not at.exception
    assert "The last check did not finish: the model check needs clips of at least 3 speakers" in at.error[0].value
    assert [item.label for item in at.button if item.label != "Sign out"] == ["Run the model check"]  # it can be run again


def test_run_in_the_background_then_figures_doubted_clips_and_links_into_review():
    store, ids = filled_store()
    at = organizer_page(PAGE)
    assert not at.exception
    assert at.title[0].value == "Model check"
    assert any("speakers it never heard" in item.value for item in at.markdown)
    assert not at.metric  # no check yet
    next(item for item in at.button if item.label == "Run the model check").click().run()
    assert not at.exception
    deadline = time.monotonic() + 180
    while not at.metric and time.monotonic() < deadline:
        time.sleep(0.3)
        at.run()
    assert not at.exception
    check = latest_check(store)
    assert [item.label for item in at.metric] == ["Clips checked", "Speakers", "Accuracy on unheard speakers"]
    assert at.metric[0].value == "48" and at.metric[1].value == "3"
    assert at.metric[2].value == f"{check.accuracy:.0%}"
    words = at.dataframe[0].value
    assert words["label"].tolist() == ["yes", "no", "up", "other words"]
    assert len(at.dataframe[1].value) == 3  # per speaker
    assert at.dataframe[2].value.shape == (4, 4)  # confusions
    assert not [item.label for item in at.button if item.label == "Run the model check"]  # up to date
    assert len(at.get("audio")) == 10
    assert any("the model hears **no**" in item.value for item in at.markdown)

    # The wrong take, opened from its link: Review shows exactly that clip.
    review = organizer_page("pages/review.py", {"clip": ids[WRONG]})
    assert not review.exception
    assert review.session_state[state.REVIEW_SEEN][0] == ids[WRONG]
    assert review.markdown[0].value == "## yes"

    # Review puts the doubted clips first, and can show only them.
    review = organizer_page("pages/review.py")
    most_doubted = check.doubted(1)["clip_id"].iloc[0]
    assert review.session_state[state.REVIEW_SEEN][0] == most_doubted
    assert any("Doubtful clips first" in item.value for item in review.caption)
    next(item for item in review.toggle if item.label == "Only clips the model doubts").set_value(True).run()
    assert any(f"{len(check.doubted_clip_ids())} to go" in item.value for item in review.caption)


def page_text(at: AppTest) -> str:
    elements = [*at.markdown, *at.caption, *at.info, *at.error, *at.metric, *at.title]
    tables = [item.value.to_string() for item in at.dataframe]
    return " ".join([*(str(item.value) for item in elements), *tables])


def test_a_withdrawn_speaker_is_not_listed_after_the_withdrawal():
    from speechrec.modelcheck import check_model
    from speechrec.withdrawal import withdraw_speaker

    store, _ = filled_store()
    check_model(store, CAMPAIGN)
    leaving = "00000001"
    assert leaving in page_text(organizer_page(PAGE))  # the per-speaker table
    assert withdraw_speaker(store, leaving).model_checks == 1
    at = organizer_page(PAGE)
    assert not at.exception
    assert leaving not in page_text(at)
    assert not at.metric and [item.label for item in at.button if item.label != "Sign out"] == ["Run the model check"]
