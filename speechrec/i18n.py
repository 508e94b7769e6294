"""Volunteer-facing text in the volunteer's language: gettext message catalogs read with Babel,
the language a browser asks for, and how a language is named and written.

The messages are English (``SOURCE_LANGUAGE``); a translation is one PO catalog,
``speechrec/locale/<language>/LC_MESSAGES/messages.po``, made and kept up to date with Babel's
``pybabel`` (README: Adding a language). Catalogs are read from the PO files themselves (no
compiled ``.mo`` files to keep in step); fuzzy and empty entries fall back to English. Language
codes are Babel's (CLDR) identifiers, ``de``, ``pt_BR``, ``ar``; browsers' tags (``de-DE``) are
accepted wherever a code is.

Package code never looks up "the current language": a function that words a volunteer-facing
message takes a ``translate`` callable (``translator(language)``; English by default) and its
message templates are marked with ``N_`` so ``pybabel extract`` finds them.
"""

from __future__ import annotations

import functools
import gettext
import io
import os
import string
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from speechrec.errors import CampaignError

# The language the messages are written in: it needs no catalog.
SOURCE_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
TEMPLATE_PATH = LOCALE_DIR / f"{DOMAIN}.pot"
# The calls whose first argument is a message (pybabel's defaults include them; babel.cfg names the files).
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
MAPPING_FILE = "babel.cfg"

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it here (the caller translates it later)."""
    return message


def english(message: str) -> str:
    """The ``translate`` of the source language: the message as written."""
    return message


def catalog_path(language: str) -> Path:
    """Where the PO catalog of ``language`` (a Babel code such as ``de`` or ``pt_BR``) lives."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def available_languages() -> tuple[str, ...]:
    """The languages the volunteer pages can speak: English and every shipped catalog, sorted."""
    found = {path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return tuple(sorted(found | {SOURCE_LANGUAGE}))


def normalize_language(tag: object) -> str:
    """Babel's code for a language tag: ``'de-DE'`` and ``'de_de'`` give ``'de_DE'``, ``'EN'`` gives ``'en'``.

    Raises TypeError for a non-string and CampaignError for a tag no locale of CLDR (Babel's
    data) matches.
    """
    from babel import Locale, UnknownLocaleError

    if not isinstance(tag, str):
        raise TypeError(f"a language must be a string such as 'en' or 'de', got {tag!r}")
    try:
        return str(Locale.parse(tag.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError) as error:
        raise CampaignError(f"{tag!r} is not a language code; use codes such as 'en', 'de', 'pt_BR' or 'ar'") from error


def catalog_language(language: str) -> str | None:
    """The shipped language whose catalog serves ``language``: itself, else its base language
    (``de_CH`` is served by ``de``); None when neither is shipped."""
    shipped = available_languages()
    for candidate in (language, language.split("_", 1)[0]):
        if candidate in shipped:
            return candidate
    return None


@functools.lru_cache(maxsize=32)
def translations(language: str) -> gettext.NullTranslations:
    """The gettext translations of ``language`` (read once per process).

    English, and a language without a catalog, get ``NullTranslations`` (the messages as written).
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    served = catalog_language(language)
    if served is None or served == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    with open(catalog_path(served), "rb") as file:
        catalog = read_po(file, locale=served, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries left out: they fall back to English
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def translator(language: str) -> Translate:
    """The ``translate`` callable (gettext's ``gettext``) of ``language``."""
    return translations(language).gettext


def accept_languages(header: str | None) -> list[str]:
    """The language tags of an HTTP ``Accept-Language`` header, most wanted first (RFC 9110,
    section 12.5.4: weights ``q`` from 0 to 1, 1 when absent; ``q=0`` means "not this one")."""
    if not header:
        return []
    weighted = []
    for position, part in enumerate(header.split(",")):
        tag, *parameters = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0  # a weight that is no number: the tag is not trusted
        if tag and tag != "*" and weight > 0:
            weighted.append((-weight, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate_language(preferred: Iterable[str | None], offered: Sequence[str]) -> str:
    """The first of ``offered`` (Babel codes) that the ``preferred`` tags ask for, most wanted
    first; a tag asks for its base language too (``de-AT`` finds ``de``). Without a match, the
    first offered language (the campaign's own). Raises ValueError when nothing is offered."""
    from babel import negotiate_locale

    if not offered:
        raise ValueError("no language offered; a campaign offers at least one")
    tags = [tag.strip().replace("-", "_") for tag in preferred if tag and tag.strip()]
    return negotiate_locale(tags, list(offered)) or offered[0]


def language_name(language: str) -> str:
    """The language's name in itself, as a volunteer looks for it: ``Deutsch``, ``English``, ``العربية``."""
    from babel import Locale

    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def text_direction(language: str) -> str:
    """``'rtl'`` for a language written right to left (CLDR's character order), else ``'ltr'``."""
    from babel import Locale

    return Locale.parse(language).text_direction


def extract_messages(root: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Every message marked in the sources ``babel.cfg`` in ``root`` names (as ``pybabel extract``
    finds them): msgid to its places (``path:line``). Raises OSError without babel.cfg."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    root = Path(root)
    with open(root / MAPPING_FILE, encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(file)
    found: dict[str, list[str]] = {}
    for path, line, message, _comments, _context in extract_from_dir(root, method_map, options_map, keywords=KEYWORDS):
        for msgid in (message,) if isinstance(message, str) else message[:1]:
            found.setdefault(msgid, []).append(f"{path}:{line}")
    return found


def catalog_problems(language: str, messages: Iterable[str]) -> list[str]:
    """What keeps the catalog of ``language`` from covering ``messages`` (extracted msgids), in
    plain words, one line each: a message missing, untranslated or fuzzy, a translation whose
    ``{placeholders}`` differ from the message's, an entry no longer used. Empty when complete."""
    from babel.messages.pofile import read_po

    path = catalog_path(language)
    if not path.exists():
        return [f"{language}: no catalog at {path}"]
    with open(path, "rb") as file:
        catalog = read_po(file, locale=language, domain=DOMAIN)
    wanted = set(messages)
    problems = []
    for msgid in sorted(wanted):
        entry = catalog.get(msgid)
        # A plural message has a translation per plural form of the language: each must be there.
        string = entry.string if entry is not None else None
        forms = (string,) if isinstance(string, str) else tuple(string or ())
        if entry is None:
            problems.append(f"{language}: missing {msgid!r}")
        elif not forms or not all(forms):
            problems.append(f"{language}: not translated {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"{language}: fuzzy (to be checked) {msgid!r}")
        else:
            problems.extend(
                f"{language}: the placeholders of {msgid!r} differ in {form!r}"
                for form in forms
                if _placeholders(form) != _placeholders(msgid)
            )
    for entry in catalog:
        if entry.id and (entry.id if isinstance(entry.id, str) else entry.id[0]) not in wanted:
            problems.append(f"{language}: no longer used {entry.id!r} (run pybabel update)")
    return problems


def _placeholders(text: str) -> set[str]:
    """The ``str.format`` fields of ``text`` ({count}, {word}); a text that is no format string has none."""
    try:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError:
        return set()
