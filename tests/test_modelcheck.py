"""The model check on real stores of synthetic voices: refusals, figures, doubted clips, the kept
result, the background run and the command line."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from signals import voiced_take

from speechrec import modelcheck
from speechrec.cli import main
from speechrec.campaign import NOISE_KEYWORD, Campaign
from speechrec.export import ExportOptions
from speechrec.modelcheck import (
    UNKNOWN_LABEL,
    ModelCheck,
    ModelCheckError,
    check_model,
    checks_folder,
    latest_check,
    running_check,
    start_check,
)
from speechrec.quality import assess_take
from speechrec.records import DoubtCheck
from speechrec.review import ANY, ReviewFilter
from speechrec.store import ClipStore

CAMPAIGN = Campaign(
    title="model check test",
    keywords=("yes", "no", "up"),
    filler_words=("down", "tum"),
    consent_text="You agree to the model check test.",
)
RATE = 16000


def add_takes(store: ClipStore, voices: range, takes: dict[str, int], said: dict[tuple, str] | None = None) -> dict:
    """Store ``takes[word]`` takes of each word per voice; ``said[(voice, word, n)]`` swaps the spoken
    word of one take (a mislabelled clip). Returns {(voice, word, n): clip id}."""
    ids = {}
    for voice in voices:
        speaker_id = f"{voice:08x}"
        store.ensure_speaker(speaker_id)
        for word, count in takes.items():
            for number in range(count):
                spoken = (said or {}).get((voice, word, number), word)
                samples = voiced_take(spoken, voice, seed=100 * number + len(ids))
                ids[(voice, word, number)] = store.add_clip(
                    samples, RATE, assess_take(samples, RATE), keyword=word, speaker_id=speaker_id,
                    session_id=f"session-{voice}", source="webrtc",
                )  # fmt: skip
    return ids


TAKES = {"yes": 4, "no": 4, "up": 4, "down": 2, "tum": 2}
WRONG = (1, "yes", 2)  # voice 1's third "yes" is really a "no"


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """A store of three voices with one mislabelled clip, and its check (made once for the module)."""
    from speechrec.config import load_settings

    store = ClipStore(load_settings(tmp_path_factory.mktemp("checked") / "data", environ={}))
    ids = add_takes(store, range(3), TAKES, said={WRONG: "no"})
    check = check_model(store, CAMPAIGN)
    yield store, ids, check
    store.close()


def test_every_clip_is_judged_by_a_model_that_never_heard_its_speaker(checked):
    _, ids, check = checked
    assert check.scheme == "leave one speaker out (3 speakers, 3 rounds)"
    assert check.labels == ("yes", "no", "up", UNKNOWN_LABEL)
    assert set(check.clips["clip_id"]) == set(ids.values())
    assert len(check.clips) == 3 * sum(TAKES.values())
    filler = check.clips[check.clips["keyword"].isin(["down", "tum"])]
    assert set(filler["label"]) == {UNKNOWN_LABEL}
    assert check.clips["own_probability"].between(0.0, 1.0).all()
    assert check.accuracy >= 0.8
    table = check.keyword_table().set_index("label")
    assert table["clips"].to_dict() == {"yes": 12, "no": 12, "up": 12, UNKNOWN_LABEL: 12}
    assert table["accuracy"].between(0.0, 1.0).all()
    speakers = check.speaker_table()
    assert sorted(speakers["speaker_id"]) == [f"{voice:08x}" for voice in range(3)]
    assert speakers["accuracy"].is_monotonic_increasing  # worst first
    confusion = check.confusion_table()
    assert list(confusion.index) == list(confusion.columns) == list(check.labels)
    assert int(confusion.to_numpy().sum()) == len(check.clips)
    assert int(np.trace(confusion.to_numpy())) == round(check.accuracy * len(check.clips))


def test_a_mislabelled_clip_is_among_the_most_doubted(checked):
    _, ids, check = checked
    doubted = check.doubted(3)
    assert ids[WRONG] in set(doubted["clip_id"])
    wrong = check.clips.set_index("clip_id").loc[ids[WRONG]]
    assert wrong["guess"] == "no" and wrong["own_probability"] < modelcheck.DOUBTED_BELOW
    assert ids[WRONG] in check.doubted_clip_ids()
    assert check.doubt_by_clip()[ids[WRONG]] == pytest.approx(1 - wrong["own_probability"])
    assert check.doubted()["own_probability"].is_monotonic_increasing


def test_the_checks_doubt_is_kept_in_the_store_for_review(checked):
    store, ids, check = checked
    assert store.doubt_check() == DoubtCheck(check.fingerprint, check.created_at)
    most_doubted = check.doubted(1)["clip_id"].iloc[0]
    assert store.next_to_review(ReviewFilter(doubt_first=True, status=ANY)).clip_id == most_doubted
    doubted = ReviewFilter(doubted_only=True, status=ANY)
    assert store.count_to_review(doubted) == len(check.doubted_clip_ids()) >= 1
    assert ids[WRONG] in check.doubted_clip_ids()


def test_the_result_is_kept_by_the_exports_fingerprint_and_reused(checked, monkeypatch):
    store, _, check = checked
    kept = checks_folder(store.settings) / f"{check.fingerprint}.json"
    assert kept.is_file()
    monkeypatch.setattr(modelcheck, "_features", lambda *args: pytest.fail("nothing changed: no new check"))
    again = check_model(store, CAMPAIGN)
    assert again.created_at == check.created_at and again.clips.equals(check.clips)
    assert latest_check(store).fingerprint == check.fingerprint


def test_a_review_decision_makes_a_new_check(tmp_path, store):
    add_takes(store, range(3), {"yes": 4, "no": 4, "up": 4})
    first = check_model(store, CAMPAIGN)
    decision = store.set_status(first.clips["clip_id"][0], "rejected")  # no longer in the default export
    second = check_model(store, CAMPAIGN)
    assert second.fingerprint != first.fingerprint
    assert len(second.clips) == len(first.clips) - 1
    assert latest_check(store).fingerprint == second.fingerprint
    # The store holds the newer check's doubt only: the rejected clip's doubt went with the first check.
    assert store.doubt_check() == DoubtCheck(second.fingerprint, second.created_at)
    assert store.count_to_review(ReviewFilter(doubted_only=True, status=ANY)) == len(second.doubted_clip_ids())
    # Undone: the first check fits the clips again, and its doubt is what Review orders by.
    store.restore(first.clips["clip_id"][0], decision)
    assert check_model(store, CAMPAIGN).created_at == first.created_at
    assert store.doubt_check() == DoubtCheck(first.fingerprint, first.created_at)
    # Other options are another export, so another check.
    assert check_model(store, CAMPAIGN, ExportOptions(clip_duration_s=0.8)).fingerprint != second.fingerprint


def test_json_round_trip_and_other_versions_are_not_read(checked):
    _, _, check = checked
    again = ModelCheck.from_json(check.to_json())
    assert again.clips.equals(check.clips) and again.labels == check.labels and again.created_at == check.created_at
    older = json.loads(check.to_json()) | {"version": modelcheck.CHECK_VERSION - 1}
    with pytest.raises(ValueError, match="another version"):
        ModelCheck.from_json(json.dumps(older))
    with pytest.raises(ValueError, match="not a model check result"):
        ModelCheck.from_json("{}")


def test_ten_speakers_or_more_are_checked_in_five_folds(store):
    add_takes(store, range(10), {"yes": 1, "no": 1})
    check = check_model(store, Campaign(title="t", keywords=("yes", "no"), consent_text="c"))
    assert check.scheme == "5 folds by speaker (10 speakers)"
    assert len(check.clips) == 20


def test_too_few_speakers_are_refused_plainly(store):
    add_takes(store, range(2), {"yes": 6, "no": 6, "up": 6})
    with pytest.raises(ModelCheckError, match=r"at least 3 speakers.*have 2"):
        check_model(store, CAMPAIGN)


def test_too_few_clips_of_a_keyword_are_refused_naming_it(store):
    add_takes(store, range(3), {"yes": 4, "no": 3, "up": 4})
    with pytest.raises(ModelCheckError, match=r"at least 10 clips of every keyword; too few of no \(9\)"):
        check_model(store, CAMPAIGN)


def test_a_few_filler_clips_are_left_out_with_a_note(store):
    add_takes(store, range(3), {"yes": 4, "no": 4, "up": 4, "tum": 1})
    check = check_model(store, CAMPAIGN)
    assert check.labels == ("yes", "no", "up")
    assert "3 clips of filler and other words are too few" in check.notes[0]
    assert "tum" not in set(check.clips["keyword"])


def test_background_noise_and_rejected_clips_are_not_checked(store):
    ids = add_takes(store, range(3), {"yes": 4, "no": 4, "up": 4})
    store.set_status(ids[(0, "yes", 0)], "rejected")
    store.add_clip(voiced_take("yes", 0) * 0, RATE, assess_take(voiced_take("yes", 0), RATE),
                   keyword=NOISE_KEYWORD, speaker_id=f"{0:08x}", session_id="s", source="webrtc")  # fmt: skip
    check = check_model(store, CAMPAIGN)
    assert NOISE_KEYWORD not in set(check.clips["keyword"])
    assert ids[(0, "yes", 0)] not in set(check.clips["clip_id"])


def test_progress_goes_from_listening_to_training_to_done(store):
    add_takes(store, range(3), {"yes": 4, "no": 4, "up": 4})
    reports = []
    check_model(store, CAMPAIGN, progress=lambda fraction, message: reports.append((fraction, message)))
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("Listening" in message for _, message in reports)
    assert any("round 3 of 3" in message for _, message in reports)


def wait_for_background(settings, timeout_s: float = 120.0):
    deadline = time.monotonic() + timeout_s
    while (progress := running_check(settings)) is not None and not progress.failed:
        assert time.monotonic() < deadline, "the background check did not finish"
        time.sleep(0.2)
    return progress


def test_a_background_check_reports_progress_and_keeps_its_result(store):
    add_takes(store, range(3), {"yes": 4, "no": 4, "up": 4})
    assert start_check(store.settings, CAMPAIGN)
    assert not start_check(store.settings, CAMPAIGN)  # one at a time per data folder
    assert running_check(store.settings) is not None
    assert wait_for_background(store.settings) is None
    assert latest_check(store).fingerprint == modelcheck.current_fingerprint(store, CAMPAIGN)


def test_a_background_check_that_cannot_run_says_why(store):
    add_takes(store, range(2), {"yes": 1})
    assert start_check(store.settings, CAMPAIGN)
    progress = wait_for_background(store.settings)
    assert progress.failed and "at least 3 speakers" in progress.message
    assert latest_check(store) is None
    assert start_check(store.settings, CAMPAIGN)  # a failed check does not block the next one
    wait_for_background(store.settings)


def test_a_check_whose_process_died_is_reported_and_can_be_run_again(store):
    folder = checks_folder(store.settings)
    folder.mkdir(parents=True)
    (folder / modelcheck.RUNNING_FILE).write_text(
        json.dumps({"fraction": 0.3, "message": "Listening…", "failed": False, "pid": 2**22 + 12345})
    )
    progress = running_check(store.settings)
    assert progress.failed and "stopped unexpectedly" in progress.message


def test_command_line_prints_the_figures_and_the_doubted_clips(checked, capsys):
    store, ids, _ = checked
    data = str(store.settings.data_dir)
    campaign_file = store.settings.data_dir / "campaign.toml"
    campaign_file.write_text(
        'title = "model check test"\nkeywords = ["yes", "no", "up"]\nfiller_words = ["down", "tum"]\n'
        'consent_text = "You agree to the model check test."\n'
    )
    assert main(["check-model", "--store", data, "--campaign", str(campaign_file), "--doubted", "3"]) == 0
    out = capsys.readouterr().out
    assert "model check of 48 clips from 3 speakers, leave one speaker out" in out
    assert "accuracy on speakers the model never heard:" in out
    assert "per word" in out and "per speaker" in out and "confusions" in out
    assert ids[WRONG] in out


def test_command_line_refusal_is_one_line(store, capsys):
    add_takes(store, range(1), {"yes": 2})
    assert main(["check-model", "--store", str(store.settings.data_dir)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("speechrec check-model: error: the model check needs clips of at least 3 speakers")
    assert "\n" not in error
