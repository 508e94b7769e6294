"""Text shown as text: Streamlit renders every message, caption and title as Markdown, so anything
a user or a back-end typed (a participant code from the link, a keyword, a reason, an e-mail, an
error that quotes them) is escaped before it is shown."""

from __future__ import annotations

import re

# The ASCII punctuation that starts or joins a Markdown construct: links and images ([ ] ( ) !),
# emphasis and breaks (* _ - = ~), code (`), headings, lists and quotes (# + . >), HTML and
# entities (< &), tables (|), Streamlit's $math$ and :color[...] / :emoji: (: $), GFM autolinks
# (which need "://", "www." or "@" unbroken) and the escape itself. CommonMark lets any ASCII
# punctuation be backslash-escaped (CommonMark spec 0.31, 2.4 "Backslash escapes"); the rest
# (, ; ? / ' " % ^ { }) is left as typed, so messages stay readable in the page source.
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_\[\]()#+\-.!<>&|~$:@=])")
# GFM's literal autolinks are found after the Markdown is parsed, in the text itself (where the
# escapes are gone): "http://", "https://", "www." and "name@host.tld" (mdast-util-gfm-autolink-literal,
# as bundled by Streamlit). An invisible WORD JOINER (U+2060) inside each breaks the pattern.
_AUTOLINK_START = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    """``text`` (anything, via str) escaped so that Streamlit's Markdown shows it character for character."""
    return _MARKDOWN_SYNTAX.sub(r"\\\1", _AUTOLINK_START.sub(WORD_JOINER, str(text)))
