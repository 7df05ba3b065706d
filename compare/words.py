"""A word-level diff of two texts, as HTML built here, one escaped token at a time: the texts are what
clients sent (prompts, completions, tool arguments), never markup to trust."""

import re
from difflib import SequenceMatcher

from django.utils.html import escape
from django.utils.safestring import mark_safe

# Words and the whitespace between them are tokens of their own, so that the diff keeps line breaks
# and a changed word is marked alone rather than with the space before it.
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


def tokens(text):
    return _TOKENS.findall(text or "")


def changes(text_a, text_b):
    """[(operation, text)] where operation is "same", "del" (only in A) or "ins" (only in B)."""
    words_a, words_b = tokens(text_a), tokens(text_b)
    result = []
    for operation, a1, a2, b1, b2 in SequenceMatcher(None, words_a, words_b, autojunk=False).get_opcodes():
        if operation == "equal":
            result.append(("same", "".join(words_a[a1:a2])))
            continue
        if a2 > a1:
            result.append(("del", "".join(words_a[a1:a2])))
        if b2 > b1:
            result.append(("ins", "".join(words_b[b1:b2])))
    return result


def html(text_a, text_b):
    """The diff as HTML: removed words in <del>, added words in <ins>, every token escaped."""
    parts = []
    for operation, text in changes(text_a, text_b):
        parts.append(escape(text) if operation == "same" else f"<{operation}>{escape(text)}</{operation}>")
    return mark_safe("".join(parts))  # each piece above is escaped or a tag of our own
