"""The campaign (what to collect, validated on load) and the words every part of speechrec shares.

The shared vocabulary: a clip's review ``STATUSES``, the ``SOURCES`` a take comes from, and
``NOISE_KEYWORD``, the pseudo-keyword background noise is stored under. No SQL, no pandas: any
module may import this one.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from speechrec.errors import CampaignError
from speechrec.i18n import SOURCE_LANGUAGE, available_languages, language_name, normalize_language

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

# First characters that make a spreadsheet cell a formula (OWASP, "CSV Injection": = + - @, tab,
# carriage return; a line feed too), and the minus sign U+2212. Their look-alikes that Unicode's
# compatibility folding (NFKC) turns into them count as well: full-width = + - @ (U+FF1D, U+FF0B,
# U+FF0D, U+FF20), which spreadsheets in East Asian locales take for the ASCII ones, and the small
# forms (U+FE66, U+FE62, U+FE63, U+FE6B).
FORMULA_STARTS = frozenset("=+-@\t\r\n\u2212")

CAMPAIGN_ENV = "SPEECHREC_CAMPAIGN"
DEFAULT_CAMPAIGN_FILE = "campaign.toml"

# A variation's name is a label in the database and in metadata.csv: lower-case letters (any
# script), digits, '_' and '-'. What volunteers read is its instruction.
VARIATION_NAME = re.compile(r"[^\W_A-Z][\w-]*")
MAX_VARIATION_NAME_LENGTH = 32
MAX_INSTRUCTION_LENGTH = 300
MAX_VARIATIONS = 20
# A clip that is a near miss of several keywords stores them joined by this character, which no
# keyword may contain (UNSAFE_CHARACTERS).
NEAR_MISS_SEPARATOR = "|"


@dataclass(frozen=True)
class Variation:
    """One way of saying the keywords: ``name`` is stored with each clip (``soft``), ``instruction``
    is shown to the volunteer above the word ("Say it softly, as if someone sleeps nearby.")."""

    name: str
    instruction: str


@dataclass(frozen=True)
class CampaignTexts:
    """The campaign's texts in one more language (``Campaign.translations``): consent_text is
    required; an empty title or description, or a variation without an instruction here, shows
    the campaign's own (first language's) text."""

    consent_text: str
    title: str = ""
    description: str = ""
    instructions: dict[str, str] = field(default_factory=dict)


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
    variations: tuple[Variation, ...] = ()
    near_misses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    languages: tuple[str, ...] = (SOURCE_LANGUAGE,)
    translations: dict[str, CampaignTexts] = field(default_factory=dict)
    rounds: int = 1  # how many times a volunteer may go through the words (another round after finishing)

    def __post_init__(self) -> None:
        for name in ("keywords", "filler_words", "variations", "languages"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("keywords", "filler_words"):
            words = getattr(self, name)
            if isinstance(words, tuple) and all(isinstance(word, str) for word in words):
                object.__setattr__(self, name, tuple(normalize_keyword(word) for word in words))
        if isinstance(self.near_misses, Mapping):
            phrases = {
                normalize_keyword(keyword) if isinstance(keyword, str) else keyword: (
                    tuple(normalize_keyword(phrase) if isinstance(phrase, str) else phrase for phrase in value)
                    if isinstance(value, list | tuple)
                    else value
                )
                for keyword, value in self.near_misses.items()
            }
            object.__setattr__(self, "near_misses", {keyword: value for keyword, value in phrases.items() if value})
        if isinstance(self.languages, tuple) and all(isinstance(language, str) for language in self.languages):
            object.__setattr__(self, "languages", tuple(normalize_language(tag) for tag in self.languages))
        if isinstance(self.translations, Mapping) and all(isinstance(tag, str) for tag in self.translations):
            translated = {normalize_language(tag): texts for tag, texts in self.translations.items()}
            object.__setattr__(self, "translations", translated)
        validate_campaign(self)

    @property
    def words(self) -> tuple[str, ...]:
        """Keywords, filler words, then near-miss phrases: every word a volunteer may be prompted for."""
        return self.keywords + self.filler_words + self.near_miss_phrases

    @property
    def near_miss_phrases(self) -> tuple[str, ...]:
        """Every near-miss phrase once, in the order listed (a phrase may be listed under several keywords)."""
        return tuple(dict.fromkeys(phrase for phrases in self.near_misses.values() for phrase in phrases))

    def near_miss_of(self, word: str) -> tuple[str, ...]:
        """The keywords ``word`` is a near-miss phrase of, in campaign order (empty for other words)."""
        return tuple(keyword for keyword in self.keywords if word in self.near_misses.get(keyword, ()))

    def near_miss_label(self, word: str) -> str | None:
        """What a clip of ``word`` stores as near_miss_of: its keywords joined by
        NEAR_MISS_SEPARATOR, None when ``word`` is no near-miss phrase."""
        return NEAR_MISS_SEPARATOR.join(self.near_miss_of(word)) or None

    def variation(self, name: str) -> Variation:
        """The variation called ``name``; CampaignError if the campaign has none of that name."""
        for variation in self.variations:
            if variation.name == name:
                return variation
        known = ", ".join(variation.name for variation in self.variations) or "none"
        raise CampaignError(f"the campaign has no variation {name!r}; its variations: {known}")

    def texts(self, language: str) -> CampaignTexts:
        """Title, description, consent text and variation instructions in ``language`` (one of
        ``languages``); a text not given in it is the campaign's own. Any other language gets the
        campaign's own texts."""
        own = CampaignTexts(
            consent_text=self.consent_text,
            title=self.title,
            description=self.description,
            instructions={variation.name: variation.instruction for variation in self.variations},
        )
        translated = self.translations.get(language)
        if translated is None:
            return own
        return CampaignTexts(
            consent_text=translated.consent_text,
            title=translated.title or own.title,
            description=translated.description or own.description,
            instructions=own.instructions | {name: text for name, text in translated.instructions.items() if text},
        )


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


def formula_start(text: str) -> str | None:
    """The character that makes ``text`` a formula when a spreadsheet opens it from a CSV cell
    (FORMULA_STARTS, or a look-alike of one), or None. White space and invisible format characters
    before it are skipped, as a spreadsheet may trim them."""
    for char in text:
        if char in FORMULA_STARTS or unicodedata.normalize("NFKC", char)[:1] in FORMULA_STARTS:
            return char
        if not (char.isspace() or unicodedata.category(char) == "Cf"):
            return None
    return None


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
    start = formula_start(word)
    if start is not None:
        # Refused rather than written with a leading apostrophe (OWASP's fix for CSV cells): a word
        # is a folder name of the zip, and metadata.csv's path and keyword cells must name it as it is.
        return (
            f"starts with {start!r}, which a spreadsheet runs as a formula when it opens the dataset's "
            "metadata.csv (OWASP: CSV injection); begin it with a letter or a digit"
        )
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
    _check_variations(campaign.variations)
    _check_near_misses(campaign, seen)
    _check_languages(campaign)


def check_variation_name(name: object) -> str:
    """Return ``name`` if it can name a variation (see ``VARIATION_NAME``), else raise CampaignError
    (TypeError for a non-string)."""
    if not isinstance(name, str):
        raise TypeError(f"variation name must be a string, got {name!r}")
    if len(name) > MAX_VARIATION_NAME_LENGTH or not VARIATION_NAME.fullmatch(name) or name != name.lower():
        raise CampaignError(
            f"variation name {name!r} must be up to {MAX_VARIATION_NAME_LENGTH} lower-case letters, digits, "
            "'_' or '-' (e.g. 'soft', 'arms_length'); the words volunteers read go in its instruction"
        )
    return name


def _check_variations(variations: tuple[Variation, ...]) -> None:
    if not isinstance(variations, tuple) or not all(isinstance(item, Variation) for item in variations):
        raise TypeError(f"variations must be a list of Variation(name, instruction), got {variations!r:.120}")
    if len(variations) > MAX_VARIATIONS:
        raise CampaignError(f"variations lists {len(variations)}; at most {MAX_VARIATIONS} are allowed")
    names: set[str] = set()
    for variation in variations:
        check_variation_name(variation.name)
        if variation.name in names:
            raise CampaignError(f"variation {variation.name!r} is listed twice; give each variation its own name")
        names.add(variation.name)
        _check_instruction(variation.name, variation.instruction)


def _check_instruction(name: str, instruction: object) -> None:
    if not isinstance(instruction, str):
        raise TypeError(f"the instruction of variation {name!r} must be a string, got {instruction!r}")
    if not instruction.strip():
        raise CampaignError(f"variation {name!r} has no instruction; say how to speak, e.g. 'Say it softly.'")
    if len(instruction) > MAX_INSTRUCTION_LENGTH:
        raise CampaignError(
            f"the instruction of variation {name!r} is longer than {MAX_INSTRUCTION_LENGTH} characters; keep it "
            "to one short sentence shown above the word"
        )


def _check_near_misses(campaign: Campaign, seen: dict[str, str]) -> None:
    """Near-miss phrases: of a keyword, usable as folder names, and no keyword or filler word.
    ``seen``: the case-folded keywords and filler words."""
    if not isinstance(campaign.near_misses, dict):
        raise TypeError(f"near_misses must map keywords to lists of phrases, got {campaign.near_misses!r:.120}")
    spelled: dict[str, str] = {}
    for keyword, phrases in campaign.near_misses.items():
        if keyword not in campaign.keywords:
            raise CampaignError(
                f"near_misses lists phrases for {keyword!r}, which is not a keyword; near misses belong to one of "
                f"the keywords {', '.join(map(repr, campaign.keywords))}"
            )
        if not isinstance(phrases, tuple):
            raise TypeError(f"the near misses of {keyword!r} must be a list of phrases, got {phrases!r}")
        for phrase in phrases:
            check_keyword(phrase, f"near-miss phrase of {keyword!r}")
            folded = phrase.casefold()
            if folded == keyword.casefold():
                raise CampaignError(f"near-miss phrase {phrase!r} is the keyword itself; list the parts or look-alikes")
            if folded in seen:
                raise CampaignError(
                    f"near-miss phrase {phrase!r} of {keyword!r} is also listed as {seen[folded]!r} among the "
                    "keywords or filler words; each word may appear once"
                )
            if spelled.setdefault(folded, phrase) != phrase:
                raise CampaignError(
                    f"near-miss phrase {phrase!r} is also listed as {spelled[folded]!r}; spell it the same way "
                    "under every keyword (it is one folder in the dataset)"
                )
        if len(set(phrases)) != len(phrases):
            raise CampaignError(f"a near-miss phrase of {keyword!r} is listed twice; list each once")


def _check_languages(campaign: Campaign) -> None:
    """The offered languages have catalogs, and every language after the first has its consent text."""
    if not isinstance(campaign.languages, tuple) or not campaign.languages:
        raise CampaignError(
            f"languages must list at least one language code, e.g. ['en', 'de'], got {campaign.languages!r}"
        )
    for language in campaign.languages:
        if not isinstance(language, str):
            raise TypeError(f"a language must be a string such as 'en' or 'de', got {language!r}")
    if len(set(campaign.languages)) != len(campaign.languages):
        raise CampaignError(f"languages lists a language twice: {list(campaign.languages)!r}")
    shipped = available_languages()
    for language in campaign.languages:
        if language not in shipped and language.split("_", 1)[0] not in shipped:
            raise CampaignError(
                f"languages lists {language!r}, but the volunteer pages have no catalog for it (they speak "
                f"{', '.join(shipped)}); add speechrec/locale/{language}/LC_MESSAGES/messages.po "
                "(README: Adding a language) or leave it out"
            )
    if not isinstance(campaign.translations, dict):
        raise TypeError(f"translations must map language codes to texts, got {campaign.translations!r:.120}")
    for language, texts in campaign.translations.items():
        if language not in campaign.languages[1:]:
            raise CampaignError(
                f"translations has texts for {language!r}, which is not one of the further languages "
                f"{list(campaign.languages[1:])!r}; the campaign's own texts are in {campaign.languages[0]!r}"
            )
        if not isinstance(texts, CampaignTexts):
            raise TypeError(f"the {language!r} translation must be CampaignTexts, got {texts!r:.120}")
        for name in ("consent_text", "title", "description"):
            if not isinstance(getattr(texts, name), str):
                raise TypeError(f"translations.{language}.{name} must be a string, got {getattr(texts, name)!r}")
        for name, instruction in texts.instructions.items():
            if name not in {variation.name for variation in campaign.variations}:
                raise CampaignError(
                    f"translations.{language} gives an instruction for variation {name!r}, which the campaign "
                    "does not list under variations"
                )
            _check_instruction(name, instruction)
    for language in campaign.languages[1:]:
        given = campaign.translations.get(language)
        if given is None or not given.consent_text.strip():
            raise CampaignError(
                f"languages offers {language!r}, but translations.{language} has no consent_text; volunteers must "
                "read what they agree to in the language they use"
            )


def _check_number(name: str, value: object, kind: type, minimum: float, maximum: float | None = None) -> None:
    allowed = (int, float) if kind is float else (int,)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise TypeError(f"{name} must be {'a number' if kind is float else 'a whole number'}, got {value!r}")
    if not math.isfinite(value):  # nan passes every comparison below, and would crash export and recording
        raise CampaignError(f"{name} must be a finite number, got {value!r}; write a plain number such as {minimum:g}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum:g}" if maximum is not None else ""
        raise CampaignError(f"{name} must be at least {minimum:g}{upper}, got {value!r}")


def campaign_from_dict(data: Mapping[str, Any], source: str = "campaign") -> Campaign:
    """Build a Campaign from TOML-like data; errors name ``source`` and the offending key.

    ``variations`` is a list of tables with ``name`` and ``instruction``; ``near_misses`` a table
    of keyword = list of phrases; ``translations`` a table per further language with
    ``consent_text``, ``title``, ``description`` and a ``variations`` table of name = instruction.
    """
    known = {field.name for field in fields(Campaign)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CampaignError(f"{source}: unknown key {unknown[0]!r}; known keys are {', '.join(sorted(known))}")
    values = dict(data)
    for name in ("keywords", "filler_words", "languages"):
        if name in values:
            if not isinstance(values[name], list | tuple):
                raise CampaignError(f"{source}: {name} must be a list of words, got {values[name]!r}")
            values[name] = tuple(values[name])
    missing = [name for name in ("title", "keywords", "consent_text") if name not in values]
    if missing:
        raise CampaignError(f"{source}: missing key {missing[0]!r}")
    try:
        if "variations" in values:
            values["variations"] = _variations_from_data(values["variations"])
        if "near_misses" in values:
            values["near_misses"] = _near_misses_from_data(values["near_misses"])
        if "translations" in values:
            values["translations"] = _translations_from_data(values["translations"])
        return Campaign(**values)
    except (CampaignError, TypeError) as error:
        raise CampaignError(f"{source}: {error}") from error


def _variations_from_data(data: object) -> tuple[Variation, ...]:
    if not isinstance(data, list | tuple):
        raise CampaignError(f"variations must be a list of tables with name and instruction, got {data!r:.120}")
    variations = []
    for item in data:
        if isinstance(item, Variation):
            variations.append(item)
            continue
        if not isinstance(item, Mapping) or set(item) != {"name", "instruction"}:
            raise CampaignError(
                "each variation needs exactly a name and an instruction, e.g. "
                f'{{ name = "soft", instruction = "Say it softly." }}; got {item!r:.120}'
            )
        variations.append(Variation(name=item["name"], instruction=item["instruction"]))
    return tuple(variations)


def _near_misses_from_data(data: object) -> dict[str, tuple[str, ...]]:
    if not isinstance(data, Mapping):
        raise CampaignError(f"near_misses must be a table of keyword = [phrases], got {data!r:.120}")
    near_misses = {}
    for keyword, phrases in data.items():
        if not isinstance(phrases, list | tuple):
            raise CampaignError(f"the near misses of {keyword!r} must be a list of phrases, got {phrases!r:.120}")
        near_misses[keyword] = tuple(phrases)
    return near_misses


TRANSLATION_KEYS = ("consent_text", "title", "description", "variations")


def _translations_from_data(data: object) -> dict[str, CampaignTexts]:
    if not isinstance(data, Mapping):
        raise CampaignError(f"translations must be a table per language, got {data!r:.120}")
    translations = {}
    for language, texts in data.items():
        if isinstance(texts, CampaignTexts):
            translations[language] = texts
            continue
        if not isinstance(texts, Mapping):
            raise CampaignError(f"translations.{language} must be a table of texts, got {texts!r:.120}")
        unknown = sorted(set(texts) - set(TRANSLATION_KEYS))
        if unknown:
            raise CampaignError(
                f"translations.{language}: unknown key {unknown[0]!r}; known keys are {', '.join(TRANSLATION_KEYS)}"
            )
        if "consent_text" not in texts:
            raise CampaignError(f"translations.{language} has no consent_text; volunteers must read what they agree to")
        instructions = texts.get("variations", {})
        if not isinstance(instructions, Mapping):
            raise CampaignError(
                f"translations.{language}.variations must be a table of name = instruction, got {instructions!r:.120}"
            )
        translations[language] = CampaignTexts(
            consent_text=texts["consent_text"],
            title=texts.get("title", ""),
            description=texts.get("description", ""),
            instructions=dict(instructions),
        )
    return translations


def campaign_to_dict(campaign: Campaign) -> dict[str, Any]:
    """The campaign as plain TOML/JSON-ready data (lists, not tuples); ``campaign_from_dict`` reads
    it back. Keys of features a campaign does not use are left out (its file would not have them)."""
    data = {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(campaign).items()}
    data["variations"] = [{"name": item.name, "instruction": item.instruction} for item in campaign.variations]
    data["near_misses"] = {keyword: list(phrases) for keyword, phrases in campaign.near_misses.items()}
    data["translations"] = {
        language: {"consent_text": texts.consent_text, "title": texts.title, "description": texts.description}
        | ({"variations": dict(texts.instructions)} if texts.instructions else {})
        for language, texts in campaign.translations.items()
    }
    unused = {"variations": [], "near_misses": {}, "translations": {}, "languages": [SOURCE_LANGUAGE]}
    return {name: value for name, value in data.items() if name not in unused or unused[name] != value}


def parse_word_list(text: str) -> tuple[str, ...]:
    """Words typed one per line or separated by commas, stripped, empty entries dropped."""
    if not isinstance(text, str):
        raise TypeError(f"word list must be a string, got {text!r}")
    return tuple(word.strip() for line in text.splitlines() for word in line.split(",") if word.strip())


def parse_variations(text: str) -> tuple[Variation, ...]:
    """Variations typed one per line as ``name: instruction`` (blank lines skipped); CampaignError
    naming a line without a colon. The names and instructions are checked with the campaign."""
    pairs = _colon_lines(text, "variation", "name: instruction", "soft: Say it softly.")
    return tuple(Variation(name=name, instruction=instruction) for name, instruction in pairs)


def format_variations(variations: tuple[Variation, ...]) -> str:
    """The text ``parse_variations`` reads back: one ``name: instruction`` per line."""
    return "\n".join(f"{variation.name}: {variation.instruction}" for variation in variations)


def parse_near_misses(text: str) -> dict[str, tuple[str, ...]]:
    """Near-miss phrases typed one keyword per line as ``keyword: phrase, phrase`` (a keyword
    cannot contain ':'); a keyword on two lines gets both lines' phrases. CampaignError naming a
    line without a colon."""
    near_misses: dict[str, tuple[str, ...]] = {}
    example = "hey jarvis: hey, jarvis, hey jar"
    for keyword, phrases in _colon_lines(text, "near-miss", "keyword: phrase, phrase", example):
        near_misses[keyword] = near_misses.get(keyword, ()) + parse_word_list(phrases)
    return near_misses


def translation_from_text(title: str, description: str, consent_text: str, instructions: str) -> CampaignTexts:
    """A further language's texts as typed on the Campaign page (``instructions`` as
    ``name: instruction`` lines, see ``parse_variations``); checked with the campaign."""
    variations = parse_variations(instructions)
    return CampaignTexts(
        consent_text=consent_text,
        title=title,
        description=description,
        instructions={variation.name: variation.instruction for variation in variations},
    )


def texts_to_edit(campaign: Campaign, languages: tuple[str, ...]) -> dict[str, CampaignTexts]:
    """The texts to edit when the campaign is to offer ``languages`` (the first its own): each
    language keeps the texts it has now, wherever it moves, so choosing another own language or
    reordering loses none.

    The first language's texts are complete, as its volunteers read them today (``Campaign.texts``:
    where it gave no title, description or instruction, the former own language's). A further
    language that was the own one keeps its complete texts; one that was further, its texts as
    given (empty where the own one is shown). A language the campaign does not offer yet has empty
    texts, with an empty instruction per variation for the own one: typed by the organizer, never
    another language's copied under its name. Returns one CampaignTexts per language, in order.
    """
    empty = CampaignTexts(consent_text="")
    edited = {}
    for position, language in enumerate(languages):
        if language not in campaign.languages:
            names = {variation.name: "" for variation in campaign.variations} if position == 0 else {}
            edited[language] = replace(empty, instructions=names)
        elif position == 0 or language == campaign.languages[0]:
            edited[language] = campaign.texts(language)
        else:
            edited[language] = campaign.translations.get(language, empty)
    return edited


def campaign_warnings(campaign: Campaign) -> list[str]:
    """What a valid campaign may still want mending, in plain words for its organizer: a further
    language without an instruction for a variation shows its volunteers the own language's.

    A warning, not a refusal: like an untranslated title or description (``CampaignTexts``), an
    instruction falls back to a text the volunteer may not read, but nothing they agree to is at
    stake; a missing consent text is refused (``_check_languages``), as consent must be read in
    the volunteer's language. Refusing would also break campaign files that load today.
    """
    own = language_name(campaign.languages[0])
    warnings = []
    for language in campaign.languages[1:]:
        given = campaign.translations.get(language, CampaignTexts(consent_text="")).instructions
        missing = [variation.name for variation in campaign.variations if not given.get(variation.name, "").strip()]
        if missing:
            label = f"{language_name(language)} ({language})"
            several = len(missing) > 1
            warnings.append(
                f"{label} has no instruction for the variation{'s' * several} {', '.join(map(repr, missing))}: "
                f"volunteers reading {language_name(language)} see the {own} one{'s' * several} instead. Add "
                f"{'them' if several else 'it'} to the variation instructions under Texts in {label}."
            )
    return warnings


def _colon_lines(text: str, what: str, form: str, example: str) -> list[tuple[str, str]]:
    """The non-blank lines of ``text`` split at their first ':' and stripped; CampaignError
    naming the first line without one (``what`` line, written as ``form``, e.g. ``example``)."""
    if not isinstance(text, str):
        raise TypeError(f"{what} lines must be a string, got {text!r}")
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        head, colon, tail = line.partition(":")
        if not colon:
            raise CampaignError(f"{what} line {number} ({line.strip()!r}) has no ':'; write {form}, e.g. {example!r}")
        pairs.append((head.strip(), tail.strip()))
    return pairs


def format_near_misses(near_misses: Mapping[str, tuple[str, ...]]) -> str:
    """The text ``parse_near_misses`` reads back: one ``keyword: phrase, phrase`` per line."""
    return "\n".join(f"{keyword}: {', '.join(phrases)}" for keyword, phrases in near_misses.items() if phrases)


def revise_campaign(current: Campaign, changes: Mapping[str, Any]) -> Campaign:
    """``current`` with ``changes`` applied and validated; a changed consent text bumps the consent version.

    Raises CampaignError (naming the key) for an unknown key or an invalid value.
    """
    known = {field.name for field in fields(Campaign)} - {"consent_version"}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise CampaignError(f"unknown campaign setting {unknown[0]!r}; known settings are {', '.join(sorted(known))}")
    values = dict(changes)
    try:
        revised = replace(current, **values)
    except TypeError as error:
        raise CampaignError(str(error)) from error
    if consent_changed(current, revised):
        revised = replace(revised, consent_version=current.consent_version + 1)
    return revised


def _consent_texts(campaign: Campaign) -> dict[str, str]:
    """Consent text per language, white space at the ends aside: a language added with its text
    is no change (nobody agreed in it yet); a changed text is, in any language."""
    texts = {campaign.languages[0]: campaign.consent_text.strip()}
    texts |= {language: item.consent_text.strip() for language, item in campaign.translations.items()}
    return texts


def consent_changed(before: Campaign, after: Campaign) -> bool:
    """True when a language of both campaigns has another consent text in ``after``: volunteers
    who agreed must agree again. A language added with its text is no change (nobody agreed in it)."""
    old, new = _consent_texts(before), _consent_texts(after)
    return any(language in old and old[language] != text for language, text in new.items())


def load_campaign(path: str | os.PathLike[str]) -> Campaign:
    """Read and validate a campaign TOML file; raise CampaignError saying what is wrong and where."""
    path = Path(path)
    try:
        # utf-8-sig: editors on Windows start UTF-8 files with a byte order mark, which TOML refuses.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as error:
        raise CampaignError(f"campaign file {str(path)!r} does not exist; pass --campaign PATH") from error
    except UnicodeDecodeError as error:
        raise CampaignError(
            f"cannot read campaign file {str(path)!r}: it is not UTF-8 text (byte {error.start}: {error.reason}); "
            "save it as UTF-8 in your editor"
        ) from error
    except OSError as error:
        raise CampaignError(f"cannot read campaign file {str(path)!r}: {error}") from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CampaignError(f"{path}: not valid TOML: {error}{_invisible_note(text, str(error))}") from error
    return campaign_from_dict(data, source=str(path))


# Where tomllib reports a syntax error: "... (at line 16, column 1)".
_TOML_ERROR_PLACE = re.compile(r"\(at line (?P<line>\d+), column (?P<column>\d+)\)")


def _invisible_note(text: str, message: str) -> str:
    """What to add to a TOML error whose line holds a character the editor does not show (a byte
    order mark left where two files were joined, a zero-width or no-break space): which one, where,
    and how to remove it; '' if the line holds none or the error names no line."""
    place = _TOML_ERROR_PLACE.search(message)
    lines = text.splitlines()
    if place is None or not 1 <= int(place["line"]) <= len(lines):
        return ""
    line, column = lines[int(place["line"]) - 1], int(place["column"])
    found = [(index, char) for index, char in enumerate(line, start=1) if _invisible(char)]
    if not found:
        return ""
    index, char = min(found, key=lambda item: abs(item[0] - column))  # the one nearest the reported spot
    name = (
        "a byte order mark, often left where two files were joined"
        if char == "\ufeff"
        else unicodedata.name(char, "an unnamed character").lower()
    )
    return (
        f"; column {index} of that line holds an invisible character, U+{ord(char):04X} ({name}), which "
        "most editors do not show: delete it, or retype the line"
    )


def _invisible(char: str) -> bool:
    """True for a character an editor shows as nothing or as a plain space: format characters
    (byte order mark, zero-width spaces, direction marks) and spaces other than U+0020 and tab."""
    category = unicodedata.category(char)
    return category == "Cf" or (category in {"Zs", "Zl", "Zp"} and char != " ")


def campaign_path(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The campaign file to use: ``path`` if given, else $SPEECHREC_CAMPAIGN, else ./campaign.toml."""
    environ = os.environ if environ is None else environ
    return Path(path or environ.get(CAMPAIGN_ENV) or DEFAULT_CAMPAIGN_FILE)
