"""Proposing near-miss phrases for a keyword: its words, runs of them, and the keyword cut off
inside a word, the negatives wake-word collectors record for a multi-word keyword ("hey", "jarvis",
"hey jar" for "hey jarvis"). The organizer reviews the proposal; nothing here decides alone."""

from __future__ import annotations

import functools

from speechrec.campaign import check_keyword
from speechrec.errors import CampaignError


def propose_near_misses(keyword: str, language: str = "en") -> tuple[str, ...]:
    """Near-miss phrases of a keyword of two or more words, most obvious first: each word alone,
    each shorter run of adjacent words, then the keyword's words up to the first syllable of one
    of its later words ("hey jar" for "hey jarvis").

    Syllables are the hyphenation points of ``language`` (pyphen's LibreOffice hyphenation
    patterns, Liang's algorithm as in TeX); a language pyphen has no patterns for gets no cut
    inside a word. A one-word keyword gets no proposal (empty tuple). Phrases that could not be
    folder names are left out. Raises TypeError for a non-string keyword.
    """
    if not isinstance(keyword, str):
        raise TypeError(f"keyword must be a string, got {keyword!r}")
    words = keyword.split()
    if len(words) < 2:
        return ()
    proposals = list(words)
    for length in range(2, len(words)):
        proposals += [" ".join(words[start : start + length]) for start in range(len(words) - length + 1)]
    hyphenator = _hyphenator(language)
    if hyphenator is not None:
        for index in range(1, len(words)):
            positions = hyphenator.positions(words[index])
            if positions:
                proposals.append(" ".join([*words[:index], words[index][: positions[0]]]))
    unique = dict.fromkeys(phrase for phrase in proposals if phrase != keyword and _usable(phrase))
    return tuple(unique)


def propose_for_campaign(
    keywords: tuple[str, ...], near_misses: dict[str, tuple[str, ...]], other_words: tuple[str, ...], language: str
) -> dict[str, tuple[str, ...]]:
    """``near_misses`` with the proposals for every multi-word keyword of ``keywords`` added after
    the phrases already listed; a proposal that is a keyword or one of ``other_words`` (filler
    words), in any letter case, is left out. Keywords keep their order; listed entries of other
    words stay at the end (for the campaign's check to name)."""
    taken = {word.casefold() for word in (*keywords, *other_words)}
    merged = {}
    for keyword in keywords:
        listed = tuple(near_misses.get(keyword, ()))
        known = {phrase.casefold() for phrase in listed}
        added = tuple(
            phrase
            for phrase in propose_near_misses(keyword, language)
            if phrase.casefold() not in taken and phrase.casefold() not in known
        )
        if listed or added:
            merged[keyword] = listed + added
    return merged | {keyword: phrases for keyword, phrases in near_misses.items() if keyword not in merged}


def _usable(phrase: str) -> bool:
    """True if ``phrase`` can be a folder name of the dataset (``check_keyword``)."""
    try:
        check_keyword(phrase)
    except CampaignError:
        return False
    return True


@functools.lru_cache(maxsize=16)
def _hyphenator(language: str):
    """pyphen's hyphenator for ``language`` (or its base language), None without patterns."""
    import pyphen

    found = pyphen.language_fallback(language)
    return None if found is None else pyphen.Pyphen(lang=found)
