"""Judge and keep a volunteer's take: one set of rules for live capture and the simple recorder's uploads."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from speechrec.campaign import NOISE_KEYWORD, Campaign
from speechrec.capture import POST_ROLL_S, PRE_ROLL_S, CaptureResult, Outcome, SpeechCapture
from speechrec.decode import decode_audio
from speechrec.errors import AudioError, StoreError, WithdrawnError
from speechrec.prompts import Progress, build_schedule, progress, session_limit
from speechrec.quality import assess_take, describe_flags
from speechrec.store import ClipStore

# Background noise may come out a little shorter than asked (the volunteer stops early): this
# much of the campaign's noise length is enough.
NOISE_LENGTH_TOLERANCE = 0.8
# Problems that make a microphone check fail (a cut-off or long first sentence is fine there).
MIC_CHECK_PROBLEMS = frozenset({"too_quiet", "clipped", "no_speech"})
# What a volunteer is told when the store cannot keep a take (storage or database unreachable).
TAKE_NOT_SAVED = "the take could not be saved just now (the app's storage did not answer); wait a moment and try again"
TAKE_AFTER_WITHDRAWAL = "you have withdrawn from this campaign, so this take was not kept; thank you for your help"
LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class VolunteerProgress:
    """Where a volunteer stands: how many clips they have (all sessions, background noise
    included), their place in the schedule, and whether the room's background noise is still to
    record."""

    clips: int
    progress: Progress
    needs_noise: bool


def volunteer_progress(store: ClipStore, campaign: Campaign, speaker_id: str) -> VolunteerProgress:
    """The speaker's stored clips (all sessions), counted per keyword and variation in SQL, against
    their schedule."""
    takes = store.takes_per_prompt(speaker_id)
    stored: dict[tuple[str, str | None] | str, int] = {
        prompt: count for prompt, count in takes.items() if prompt[0] != NOISE_KEYWORD
    }
    return VolunteerProgress(
        clips=sum(takes.values()),
        progress=progress(build_schedule(campaign, speaker_id), stored),
        needs_noise=campaign.background_noise_s > 0 and all(word != NOISE_KEYWORD for word, _ in takes),
    )


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

    Returns ``(take, "")``, or ``(None, reason)`` when no word or more than one was heard.
    """
    capture = new_capture(campaign, sample_rate, timeout_s=len(samples) / sample_rate + 1.0)
    results = [*capture.feed(samples), capture.flush()]
    takes = [result for result in results if result is not None and result.outcome is not Outcome.NOTHING_HEARD]
    if not takes:
        return None, "no word was heard: check that the right microphone is on, then say the word"
    if len(takes) > 1:
        return None, "more than one word was heard: say the word just once"
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
) -> TakeVerdict:
    """Check a take (mono float32) and store it if it is usable; say why not otherwise.

    ``keyword`` is a campaign word or NOISE_KEYWORD (background noise, judged only for clipping and
    length); ``lost_spans``: sample ranges where the live stream lost audio (``assess_take``);
    ``variation`` the campaign variation the prompt asked for (None: none). A near-miss
    phrase is stored with the keywords it is a near miss of. A session never stores more than
    ``session_limit(campaign)`` takes. A take the store cannot keep is refused with
    ``TAKE_NOT_SAVED`` (and logged). Raises ValueError for a keyword or variation the campaign
    does not ask for.
    """
    if keyword != NOISE_KEYWORD and keyword not in campaign.words:
        raise ValueError(f"keyword {keyword!r} is not one of the campaign's words {campaign.words!r}")
    if variation is not None and variation not in {item.name for item in campaign.variations}:
        raise ValueError(f"variation {variation!r} is not one of the campaign's variations")
    limit = session_limit(campaign)
    if store.clip_count(session_id=session_id) >= limit:
        return TakeVerdict(None, (f"this session has stored {limit} takes, the most one session may keep: thank you!",))
    is_noise = keyword == NOISE_KEYWORD
    quality = assess_take(samples, sample_rate, campaign.clip_duration_s, not is_noise, lost_spans)
    problems = describe_flags(quality.flags)
    if is_noise and quality.duration_s < NOISE_LENGTH_TOLERANCE * campaign.background_noise_s:
        problems.append(f"too short: record at least {campaign.background_noise_s:g} seconds of your room")
    if problems:
        return TakeVerdict(None, tuple(problems))
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
        )
    except WithdrawnError:  # withdrawn in another tab or by an organizer: nothing more is kept
        return TakeVerdict(None, (TAKE_AFTER_WITHDRAWAL,))
    except StoreError as error:  # nothing of the take is visible; the volunteer may simply try again
        LOGGER.error("a take could not be stored: %s", error)
        return TakeVerdict(None, (TAKE_NOT_SAVED,))
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
) -> TakeVerdict:
    """The simple recorder's path: decode an uploaded recording (any format), cut it to its take
    like live capture (background noise is kept whole), then ``keep_take`` it."""
    try:
        decoded, sample_rate = decode_audio(data, name="the recording")
    except AudioError as error:
        return TakeVerdict(None, (f"{error}; please record again",))
    samples = decoded
    if keyword != NOISE_KEYWORD:
        take, problem = take_from_upload(decoded, sample_rate, campaign)
        if take is None:
            return TakeVerdict(None, (problem,))
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
    )
