"""A pseudo language for page tests: every message that goes through a catalog comes out in
brackets, ⟦like this⟧, so a text on a volunteer page without brackets was never marked for
translation (nor is it campaign data the test allows). The same trick as Microsoft's qps-ploc."""

from __future__ import annotations

import gettext
import html
import re
from collections.abc import Callable, Iterator

import pytest
from streamlit.testing.v1 import AppTest

from speechrec import i18n

OPEN, CLOSE = "⟦", "⟧"
# The proto fields of page elements that carry text a volunteer reads.
TEXT_FIELDS = ("body", "label", "placeholder", "text", "help")
TAG = re.compile(r"<[^>]+>")


class PseudoTranslations(gettext.NullTranslations):
    """Every message bracketed (placeholders kept, so ``.format`` still fills them)."""

    def gettext(self, message: str) -> str:
        return f"{OPEN}{message}{CLOSE}"

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return f"{OPEN}{singular if n == 1 else plural}{CLOSE}"


def use_pseudo_language(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every language's catalog becomes the pseudo one for this test."""
    monkeypatch.setattr(i18n, "translations", lambda language: PseudoTranslations())


def page_texts(at: AppTest) -> Iterator[str]:
    """Every text a reader sees on the page (main area and sidebar): bodies, labels,
    placeholders, help and progress texts, HTML tags and entities removed."""

    def walk(node) -> Iterator[str]:
        for child in getattr(node, "children", {}).values():
            proto = getattr(child, "proto", None)
            if proto is not None and hasattr(proto, "ListFields"):
                for field, value in proto.ListFields():
                    if field.name in TEXT_FIELDS and isinstance(value, str) and value.strip():
                        yield html.unescape(TAG.sub("", value)).strip()
            yield from walk(child)

    yield from walk(at.main)
    yield from walk(at.sidebar)


def unmarked_texts(at: AppTest, is_data: Callable[[str], bool] = lambda text: False) -> list[str]:
    """Texts on the page that did not go through a catalog: no bracket in them, and not data the
    test names (``is_data``: e.g. a keyword shown as the organizer wrote it)."""
    return [text for text in page_texts(at) if text and OPEN not in text and not is_data(text)]
