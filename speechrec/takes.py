"""Judge and keep a volunteer's take: one set of rules for live capture and the simple recorder's uploads."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from speechrec import audio
from speechrec.campaign import NOISE_KEYWORD, Campaign
from speechrec.capture import POST_ROLL_S, PRE_ROLL_S, CaptureResult, Outcome, SpeechCapture
from speechrec.decode import decode_audio
from speechrec.errors import AudioError, StoreError, WithdrawnError
from speechrec.i18n import N_, Translate, english
from speechrec.prompts import Progress, build_rounds, progress, round_length, session_limit
from speechrec.quality import TOO_QUIET_DBFS, assess_take, describe_flags
from speechrec.store import ClipStore

# The room recorder stops by itself at the campaign's noise length, so a room recording may fall
# short of it only by rounding: this much, no more. The length asked for is the length enforced.
NOISE_LENGTH_SLACK_S = 0.25
# Speech-like sound (the quality checks' speech rule) in a room recording, in all, from which it is
# refused: measured on the shipped words over a -60 dBFS room, one word gives 0.14 s (said at
# -50 dBFS) to 0.40 s, a 150 ms door bang 0.16 s, forty 5 ms clicks, steady noise and hum 0 s,
# and talking 10.7 s in 16.7 s. Any word in the room's noise teaches a model that speech is background.
ROOM_SPEECH_LIMIT_S = 0.1
# Flag of a room recording the browser processed (noise suppression, auto gain or echo
# cancellation stayed on although the recorder asked for them off): it is not the room's sound.
PROCESSED_FLAG = "browser_processing"
ROOM_HAS_SPEECH = N_(
    "we heard talking or another loud sound: please record again and stay quiet while the countdown runs "
    "(if your room is never quiet, you can skip this step)"
)
# The level meter's words: speech quieter than the quality checks' too-quiet level, or peaks near
# full scale (-3 dBFS leaves room before the clipped check's 0.99), is said so while it happens.
LOUD_DBFS = -3.0
# Problems that make a microphone check fail (a cut-off or long first sentence is fine there).
MIC_CHECK_PROBLEMS = frozenset({"too_quiet", "clipped", "no_speech"})
# What a volunteer is told when the store cannot keep a take (storage or database unreachable).
TAKE_NOT_SAVED = N_(
    "the take could not be saved just now (the app's storage did not answer); wait a moment and try again"
)
TAKE_AFTER_WITHDRAWAL = N_("you have withdrawn from this campaign, so this take was not kept; thank you for your help")
# The other reasons a take is refused (volunteer-facing, English; ``keep_take`` words them in the
# language of its ``translate``).
SESSION_FULL = N_("this session has stored {limit} takes, the most one session may keep: thank you!")
ROOM_TOO_SHORT = N_(
    "too short: {recorded} seconds were recorded and the room recording needs {needed}; let the countdown "
    "run to the end"
)
NO_WORD_HEARD = N_("no word was heard: check that the right microphone is on, then say the word")
MORE_THAN_ONE_WORD = N_("more than one word was heard: say the word just once")
RECORD_AGAIN = N_("{problem}; please record again")
RECORDING_NAME = N_("the recording")
LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class VolunteerProgress:
    """Where a volunteer stands: how many clips they have (all sessions, background noise
    included), their place in the schedule of the rounds so far, whether the room's background
    noise is still to record, the round (1-based) and how many more rounds the campaign allows
    after it."""

    clips: int
    progress: Progress
    needs_noise: bool
    round: int = 1
    more_rounds: int = 0


def volunteer_progress(
    store: ClipStore,
    campaign: Campaign,
    speaker_id: str,
    *,
    skipped: Mapping[str, int] | None = None,
    wanted_round: int = 1,
) -> VolunteerProgress:
    """The speaker's stored clips (all sessions), counted per keyword and variation in SQL, against
    their schedule.

    ``skipped``: prompts skipped per word (NOISE_KEYWORD for the room step). The round is the
    furthest one the stored takes have started, or ``wanted_round`` if the volunteer asked for
    another, at most ``campaign.rounds``: a reload in the middle of a round continues it.
    """
    skipped = skipped or {}
    takes = store.takes_per_prompt(speaker_id)
    stored: dict[tuple[str, str | None] | str, int] = {
        prompt: count for prompt, count in takes.items() if prompt[0] != NOISE_KEYWORD
    }
    everything = progress(build_rounds(campaign, speaker_id, campaign.rounds), stored, skipped)
    started = math.ceil(everything.done / round_length(campaign))
    current = min(campaign.rounds, max(1, started, wanted_round))
    has_noise = any(word == NOISE_KEYWORD for word, _ in takes)
    return VolunteerProgress(
        clips=sum(takes.values()),
        progress=progress(build_rounds(campaign, speaker_id, current), stored, skipped),
        needs_noise=campaign.background_noise_s > 0 and not has_noise and not skipped.get(NOISE_KEYWORD),
        round=current,
        more_rounds=campaign.rounds - current,
    )


def describe_level(level_dbfs: float) -> str:
    """The level meter's words for the loudest recent sound: "too quiet", "good" or "too loud"
    (English, marked for translation: the page translates them).

    Thresholds: the quality checks' TOO_QUIET_DBFS, and LOUD_DBFS for peaks near clipping.
    """
    if level_dbfs < TOO_QUIET_DBFS:
        return N_("too quiet")
    if level_dbfs > LOUD_DBFS:
        return N_("too loud")
    return N_("good")


def room_speech_s(samples: np.ndarray, sample_rate: int) -> float:
    """Seconds of speech-like sound in a room recording (mono float32): the frames that the quality
    checks' speech rule (``audio.speech_frame_mask``: 10 dB over the recording's noise floor, in runs
    of at least 40 ms) marks, added up."""
    mask = audio.speech_frame_mask(audio.frame_levels_dbfs(samples, sample_rate))
    return float(np.count_nonzero(mask)) * audio.FRAME_S


def mic_check_passed(result: CaptureResult) -> bool:
    """True when a capture holds speech at a usable level (the live recorder's microphone check)."""
    if result.outcome is Outcome.NOTHING_HEARD or len(result.samples) == 0:
        return False
    report = assess_take(result.samples, result.sample_rate, lost_spans=result.lost_spans)
    return not set(report.flags) & MIC_CHECK_PROBLEMS


@dataclass(frozen=True)
class TakeVerdict:
    """What became of a take: its clip id if stored, else the reasons in plain words."""

    clip_id: str | None
    problems: tuple[str, ...] = ()

    @property
    def stored(self) -> bool:
        """True when the take was kept."""
        return self.clip_id is not None


def new_capture(campaign: Campaign, sample_rate: int, timeout_s: float | None = None) -> SpeechCapture:
    """A SpeechCapture for this campaign: takes may hold speech up to twice the clip length (longer
    is cut; the quality report flags speech longer than the clip)."""
    max_take_s = PRE_ROLL_S + 2 * campaign.clip_duration_s + POST_ROLL_S
    if timeout_s is None:
        return SpeechCapture(sample_rate, max_take_s=max_take_s)
    return SpeechCapture(sample_rate, max_take_s=max_take_s, timeout_s=timeout_s)


def take_from_upload(samples: np.ndarray, sample_rate: int, campaign: Campaign) -> tuple[np.ndarray | None, str]:
    """Cut a whole uploaded recording (mono float32, shape ``(frames,)``) to its take by the live capture's rules.

    Returns ``(take, "")``, or ``(None, reason)`` when no word or more than one was heard
    (``NO_WORD_HEARD``, ``MORE_THAN_ONE_WORD``: English, to be translated where shown).
    """
    capture = new_capture(campaign, sample_rate, timeout_s=len(samples) / sample_rate + 1.0)
    results = [*capture.feed(samples), capture.flush()]
    takes = [result for result in results if result is not None and result.outcome is not Outcome.NOTHING_HEARD]
    if not takes:
        return None, NO_WORD_HEARD
    if len(takes) > 1:
        return None, MORE_THAN_ONE_WORD
    return takes[0].samples, ""


def keep_take(
    store: ClipStore,
    campaign: Campaign,
    samples: np.ndarray,
    sample_rate: int,
    *,
    keyword: str,
    speaker_id: str,
    session_id: str,
    source: str,
    consent_version: int,
    lost_spans: Sequence[tuple[int, int]] = (),
    variation: str | None = None,
    raw: bool | None = None,
    translate: Translate = english,
) -> TakeVerdict:
    """Check a take (mono float32) and store it if it is usable; say why not otherwise, in the
    language of ``translate`` (gettext's ``gettext`` of the volunteer's language; English by default).

    ``keyword`` is a campaign word or NOISE_KEYWORD (the room's background noise: judged for
    clipping, for its length against ``campaign.background_noise_s`` and for speech in it,
    ROOM_SPEECH_LIMIT_S). ``lost_spans``: sample ranges where the live stream lost audio
    (``assess_take``). ``variation``: the campaign variation the prompt asked for (None: none; keywords only); a
    near-miss phrase is stored with the keywords it is a near miss of. ``raw``: whether the
    browser's echo cancellation, noise suppression and auto gain were off (None: unknown), stored
    with the clip; a room recording with them on is kept with the PROCESSED_FLAG. A
    session never stores more than ``session_limit(campaign)`` takes. A take the store cannot keep
    is refused with ``TAKE_NOT_SAVED`` (and logged). Raises ValueError for a keyword or variation the campaign
    does not ask for, and for a variation with a word that is no keyword.
    """
    if keyword != NOISE_KEYWORD and keyword not in campaign.words:
        raise ValueError(f"keyword {keyword!r} is not one of the campaign's words {campaign.words!r}")
    if variation is not None and variation not in {item.name for item in campaign.variations}:
        raise ValueError(f"variation {variation!r} is not one of the campaign's variations")
    if variation is not None and keyword not in campaign.keywords:  # README: recorded in no variation
        raise ValueError(
            f"variation {variation!r} asked for {keyword!r}, which is no keyword; filler words, near-miss "
            "phrases and room noise are recorded in no variation"
        )
    limit = session_limit(campaign)
    if store.clip_count(session_id=session_id) >= limit:
        return TakeVerdict(None, (translate(SESSION_FULL).format(limit=limit),))
    is_noise = keyword == NOISE_KEYWORD
    quality = assess_take(samples, sample_rate, campaign.clip_duration_s, not is_noise, lost_spans)
    problems = describe_flags(quality.flags, translate)
    if is_noise and quality.duration_s < campaign.background_noise_s - NOISE_LENGTH_SLACK_S:
        recorded, needed = f"{quality.duration_s:.1f}", f"{campaign.background_noise_s:g}"
        problems.append(translate(ROOM_TOO_SHORT).format(recorded=recorded, needed=needed))
    if is_noise and room_speech_s(samples, sample_rate) >= ROOM_SPEECH_LIMIT_S:
        problems.append(translate(ROOM_HAS_SPEECH))
    if problems:
        return TakeVerdict(None, tuple(problems))
    if is_noise and raw is False:
        quality = replace(quality, flags=(*quality.flags, PROCESSED_FLAG))
    try:
        clip_id = store.add_clip(
            samples,
            sample_rate,
            quality,
            keyword=keyword,
            speaker_id=speaker_id,
            session_id=session_id,
            source=source,
            consent_version=consent_version,
            variation=variation,
            near_miss_of=campaign.near_miss_label(keyword),
            raw=raw,
        )
    except WithdrawnError:  # withdrawn in another tab or by an organizer: nothing more is kept
        return TakeVerdict(None, (translate(TAKE_AFTER_WITHDRAWAL),))
    except StoreError as error:  # nothing of the take is visible; the volunteer may simply try again
        LOGGER.error("a take could not be stored: %s", error)
        return TakeVerdict(None, (translate(TAKE_NOT_SAVED),))
    return TakeVerdict(clip_id)


def keep_capture(
    store: ClipStore,
    campaign: Campaign,
    result: CaptureResult,
    *,
    keyword: str,
    speaker_id: str,
    session_id: str,
    source: str,
    consent_version: int,
    variation: str | None = None,
    translate: Translate = english,
) -> TakeVerdict:
    """``keep_take`` for a live capture (with the audio it lost on the way); logs how long after
    the end of speech the take was stored."""
    verdict = keep_take(
        store,
        campaign,
        result.samples,
        result.sample_rate,
        keyword=keyword,
        speaker_id=speaker_id,
        session_id=session_id,
        source=source,
        consent_version=consent_version,
        lost_spans=result.lost_spans,
        variation=variation,
        translate=translate,
    )
    if verdict.stored:
        LOGGER.info("take stored %.1f ms after the end of speech", (time.monotonic() - result.decided_at) * 1000)
    return verdict


def keep_upload(
    store: ClipStore,
    campaign: Campaign,
    data: bytes,
    *,
    keyword: str,
    speaker_id: str,
    session_id: str,
    source: str,
    consent_version: int,
    variation: str | None = None,
    raw: bool | None = None,
    translate: Translate = english,
) -> TakeVerdict:
    """The simple and the room recorders' path: decode a recording (any format), cut it to its take
    like live capture (background noise is kept whole), then ``keep_take`` it (``raw`` and
    ``translate`` as there)."""
    try:
        decoded, sample_rate = decode_audio(data, name=translate(RECORDING_NAME))
    except AudioError as error:
        return TakeVerdict(None, (translate(RECORD_AGAIN).format(problem=error.in_words(translate)),))
    samples = decoded
    if keyword != NOISE_KEYWORD:
        take, problem = take_from_upload(decoded, sample_rate, campaign)
        if take is None:
            return TakeVerdict(None, (translate(problem),))
        samples = take
    return keep_take(
        store,
        campaign,
        samples,
        sample_rate,
        keyword=keyword,
        speaker_id=speaker_id,
        session_id=session_id,
        source=source,
        consent_version=consent_version,
        variation=variation,
        raw=raw,
        translate=translate,
    )
