"""The campaign (what to collect, validated on load) and the words every part of speechrec shares.

The shared vocabulary: a clip's review ``STATUSES``, the ``SOURCES`` a take comes from, and
``NOISE_KEYWORD``, the pseudo-keyword background noise is stored under. No SQL, no pandas: any
module may import this one.
"""

from __future__ import annotations

import os
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from speechrec.errors import CampaignError

# A clip's review status: every clip starts pending; organizers accept or reject it.
STATUSES = ("pending", "accepted", "rejected")
# Where a take came from: the live recorder, the simple recorder (st.audio_input), or an import.
SOURCES = ("webrtc", "audio_input", "import")
# Background noise is stored as clips of this pseudo-keyword (the Speech Commands folder name).
NOISE_KEYWORD = "_background_noise_"

MAX_KEYWORD_LENGTH = 64
# Speech Commands reserves folder names that start with "_" (_background_noise_, _unknown_, _silence_).
RESERVED_PREFIX = "_"
# Characters that are not allowed in a folder name on at least one common file system.
UNSAFE_CHARACTERS = set('/\\:*?"<>|')
# Names Windows keeps for devices, with or without an extension ("con", "NUL.txt"): no file or
# folder may have them (Microsoft, "Naming Files, Paths, and Namespaces").
WINDOWS_RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"{port}{number}" for port in ("COM", "LPT") for number in (*"0123456789", "\u00b9", "\u00b2", "\u00b3")}
)
# The longest file or folder name ext4, APFS, NTFS (in UTF-16 units) and exFAT accept is 255;
# ext4 counts bytes, so a keyword's UTF-8 may not be longer.
MAX_KEYWORD_BYTES = 255

CAMPAIGN_ENV = "SPEECHREC_CAMPAIGN"
DEFAULT_CAMPAIGN_FILE = "campaign.toml"


@dataclass(frozen=True)
class Campaign:
    """What a campaign collects: the words, how many takes, and what volunteers agree to."""

    title: str
    keywords: tuple[str, ...]
    consent_text: str
    description: str = ""
    consent_version: int = 1
    licence: str = "CC-BY-4.0"
    takes_per_keyword: int = 5
    filler_words: tuple[str, ...] = ()
    target_per_keyword: int = 1000
    clip_duration_s: float = 1.0
    export_sample_rate: int = 16000
    background_noise_s: float = 0.0
    rounds: int = 1  # how many times a volunteer may go through the words (another round after finishing)

    def __post_init__(self) -> None:
        for name in ("keywords", "filler_words"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
            words = getattr(self, name)
            if isinstance(words, tuple) and all(isinstance(word, str) for word in words):
                object.__setattr__(self, name, tuple(normalize_keyword(word) for word in words))
        validate_campaign(self)

    @property
    def words(self) -> tuple[str, ...]:
        """Keywords followed by filler words: every word a volunteer may be prompted for."""
        return self.keywords + self.filler_words


def normalize_keyword(keyword: str) -> str:
    """``keyword`` in Unicode normal form NFC, the one form a keyword is stored and exported in
    (macOS writes file names decomposed, NFD: "u" + U+0308 for "ü")."""
    return unicodedata.normalize("NFC", keyword)


def fold_keyword(keyword: str) -> str:
    """What two spellings of one keyword have in common: NFC, case-folded (``Yes``, ``yes`` -> ``yes``)."""
    return normalize_keyword(keyword).casefold()


def folder_spellings(keywords: Iterable[str]) -> dict[str, str]:
    """One spelling per keyword for stored ``keywords`` (repeats count): each spelling mapped to the
    most frequent spelling, in NFC, of the keywords equal to it ignoring case and Unicode form
    (ties: the first in sorted order), so no two dataset folders differ only in case or form."""
    counts = Counter(keywords)
    chosen: dict[str, str] = {}
    for spelling in sorted(counts, key=lambda word: (-counts[word], word)):
        chosen.setdefault(fold_keyword(spelling), normalize_keyword(spelling))
    return {spelling: chosen[fold_keyword(spelling)] for spelling in counts}


def check_keyword(keyword: object, what: str = "keyword") -> str:
    """Return ``keyword`` if it is usable as a folder name in the dataset, else raise CampaignError.

    ``what`` names it in the message ("keyword", "filler word", "word"). The rules are those of
    folder names on common file systems plus Speech Commands' reserved ``_`` prefix. Raises
    TypeError for a non-string.
    """
    if not isinstance(keyword, str):
        raise TypeError(f"{what} must be a string, got {keyword!r}")
    problem = _keyword_problem(keyword)
    if problem:
        raise CampaignError(f"{what} {keyword!r} {problem}; use plain words such as 'yes' or 'hey robot'")
    return keyword


def _keyword_problem(word: str) -> str | None:
    if not word.strip():
        return "is empty"
    if word != word.strip():
        return "starts or ends with white space"
    if len(word) > MAX_KEYWORD_LENGTH:
        return f"is longer than {MAX_KEYWORD_LENGTH} characters"
    if len(word.encode("utf-8")) > MAX_KEYWORD_BYTES:
        return f"takes more than {MAX_KEYWORD_BYTES} bytes in UTF-8, the longest name a folder may have"
    if word in {".", ".."} or ".." in word:
        return "contains '..'"
    if word.startswith("."):
        return "starts with a dot"
    if word.endswith("."):
        return "ends with a dot, which Windows drops from folder names"
    if word.split(".", 1)[0].rstrip(" ").upper() in WINDOWS_RESERVED_NAMES:
        return "is a name Windows keeps for a device (CON, PRN, AUX, NUL, COM1-9, LPT1-9), so it cannot be a folder there"
    if word.startswith(RESERVED_PREFIX):
        return f"starts with {RESERVED_PREFIX!r}, which Speech Commands reserves for its own folders"
    bad = sorted(UNSAFE_CHARACTERS.intersection(word))
    if bad:
        return f"contains {''.join(bad)!r}, which cannot be in a folder name"
    if any(unicodedata.category(char).startswith("C") for char in word):
        return "contains a control character"
    return None


def validate_campaign(campaign: Campaign) -> None:
    """Raise CampaignError (or TypeError) naming the first invalid value of ``campaign``."""
    for name in ("title", "consent_text", "description", "licence"):
        if not isinstance(getattr(campaign, name), str):
            raise TypeError(f"{name} must be a string, got {getattr(campaign, name)!r}")
    if not campaign.title.strip():
        raise CampaignError("title is empty; give the campaign a title")
    if not campaign.consent_text.strip():
        raise CampaignError("consent_text is empty; volunteers must be told what they agree to")
    for name in ("keywords", "filler_words"):
        if not isinstance(getattr(campaign, name), tuple):
            raise TypeError(f"{name} must be a list or tuple of words, got {getattr(campaign, name)!r}")
    if not campaign.keywords:
        raise CampaignError("keywords is empty; list at least one word to collect")
    seen: dict[str, str] = {}
    for key, what, words in (
        ("keywords", "keyword", campaign.keywords),
        ("filler_words", "filler word", campaign.filler_words),
    ):
        for word in words:
            try:
                check_keyword(word, what)
            except CampaignError as error:
                raise CampaignError(f"{key}: {error}") from None
            folded = fold_keyword(word)
            if folded in seen:
                raise CampaignError(
                    f"{key}: {what} {word!r} is listed twice (also as {seen[folded]!r}); each word may "
                    "appear once across keywords and filler_words, whatever its letter case or Unicode form"
                )
            seen[folded] = word
    _check_number("consent_version", campaign.consent_version, int, minimum=1)
    _check_number("takes_per_keyword", campaign.takes_per_keyword, int, minimum=1, maximum=100)
    _check_number("target_per_keyword", campaign.target_per_keyword, int, minimum=1)
    _check_number("clip_duration_s", campaign.clip_duration_s, float, minimum=0.1, maximum=10.0)
    _check_number("export_sample_rate", campaign.export_sample_rate, int, minimum=8000, maximum=48000)
    _check_number("background_noise_s", campaign.background_noise_s, float, minimum=0.0, maximum=600.0)
    _check_number("rounds", campaign.rounds, int, minimum=1, maximum=20)


def _check_number(name: str, value: object, kind: type, minimum: float, maximum: float | None = None) -> None:
    allowed = (int, float) if kind is float else (int,)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise TypeError(f"{name} must be {'a number' if kind is float else 'a whole number'}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum:g}" if maximum is not None else ""
        raise CampaignError(f"{name} must be at least {minimum:g}{upper}, got {value!r}")


def campaign_from_dict(data: Mapping[str, Any], source: str = "campaign") -> Campaign:
    """Build a Campaign from TOML-like data; errors name ``source`` and the offending key."""
    known = {field.name for field in fields(Campaign)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CampaignError(f"{source}: unknown key {unknown[0]!r}; known keys are {', '.join(sorted(known))}")
    values = dict(data)
    for name in ("keywords", "filler_words"):
        if name in values:
            if not isinstance(values[name], list | tuple):
                raise CampaignError(f"{source}: {name} must be a list of words, got {values[name]!r}")
            values[name] = tuple(values[name])
    missing = [name for name in ("title", "keywords", "consent_text") if name not in values]
    if missing:
        raise CampaignError(f"{source}: missing key {missing[0]!r}")
    try:
        return Campaign(**values)
    except (CampaignError, TypeError) as error:
        raise CampaignError(f"{source}: {error}") from error


def campaign_to_dict(campaign: Campaign) -> dict[str, Any]:
    """The campaign as plain TOML/JSON-ready data (lists, not tuples); ``campaign_from_dict`` reads it back."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(campaign).items()}


def parse_word_list(text: str) -> tuple[str, ...]:
    """Words typed one per line or separated by commas, stripped, empty entries dropped."""
    if not isinstance(text, str):
        raise TypeError(f"word list must be a string, got {text!r}")
    return tuple(word.strip() for line in text.splitlines() for word in line.split(",") if word.strip())


def revise_campaign(current: Campaign, changes: Mapping[str, Any]) -> Campaign:
    """``current`` with ``changes`` applied and validated; a changed consent text bumps the consent version.

    Raises CampaignError (naming the key) for an unknown key or an invalid value.
    """
    known = {field.name for field in fields(Campaign)} - {"consent_version"}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise CampaignError(f"unknown campaign setting {unknown[0]!r}; known settings are {', '.join(sorted(known))}")
    values = dict(changes)
    if "consent_text" in values and values["consent_text"].strip() != current.consent_text.strip():
        values["consent_version"] = current.consent_version + 1
    try:
        return replace(current, **values)
    except TypeError as error:
        raise CampaignError(str(error)) from error


def load_campaign(path: str | os.PathLike[str]) -> Campaign:
    """Read and validate a campaign TOML file; raise CampaignError saying what is wrong and where."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise CampaignError(f"campaign file {str(path)!r} does not exist; pass --campaign PATH") from error
    except (OSError, UnicodeDecodeError) as error:
        raise CampaignError(f"cannot read campaign file {str(path)!r}: {error}") from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CampaignError(f"{path}: not valid TOML: {error}") from error
    return campaign_from_dict(data, source=str(path))


def campaign_path(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The campaign file to use: ``path`` if given, else $SPEECHREC_CAMPAIGN, else ./campaign.toml."""
    environ = os.environ if environ is None else environ
    return Path(path or environ.get(CAMPAIGN_ENV) or DEFAULT_CAMPAIGN_FILE)
