"""A word-level diff of two texts, as HTML built here, one escaped token at a time: the texts are what
clients sent (prompts, completions, tool arguments), never markup to trust.

Aligning two sequences costs up to the product of their lengths, and prompts of many thousand words
are common: two unrelated 10,000-word prompts took 80 s word by word. So the work is bounded. Texts
whose word counts multiply past WORD_CELLS are aligned by chunks of about 16 words (or lines) first,
and only the changed blocks small enough are aligned word by word; a bigger changed block is shown
removed and added whole. Past MAX_CHARS a text is compared up to there, and the diff says so."""

import re
import zlib
from difflib import SequenceMatcher

from django.utils.html import escape
from django.utils.safestring import mark_safe

# Words and the whitespace between them are tokens of their own, so that the diff keeps line breaks
# and a changed word is marked alone rather than with the space before it.
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")
# A long text is aligned by chunks before its words: a chunk ends at a line break, or after a word
# whose checksum ends in CHUNK_BITS zero bits (one word in 16), so that chunk boundaries depend on the
# words around them only and an inserted word moves no boundary but its own chunk's.
CHUNK_BITS = 4
# Tokens of A times tokens of B under which two texts are aligned word by word (a few tenths of a
# second at worst), and chunks of A times chunks of B under which long texts are aligned by chunks.
WORD_CELLS = 1_000_000
CHUNK_CELLS = 16_000_000
MAX_CHARS = 100_000


def tokens(text):
    return _TOKENS.findall(text or "")


def _chunks(text):
    chunks, current = [], []
    for token in tokens(text):
        current.append(token)
        if "\n" in token or token[0] not in " \t" and not zlib.crc32(token.encode()) & ((1 << CHUNK_BITS) - 1):
            chunks.append("".join(current))
            current = []
    if current:
        chunks.append("".join(current))
    return chunks


def changes(text_a, text_b):
    """[(operation, text)] where operation is "same", "del" (only in A), "ins" (only in B) or "cut" (a
    note that the texts were compared up to MAX_CHARS characters)."""
    text_a, text_b = text_a or "", text_b or ""
    result = _changes(text_a[:MAX_CHARS], text_b[:MAX_CHARS])
    if len(text_a) > MAX_CHARS or len(text_b) > MAX_CHARS:
        result.append(("cut", f" … compared up to {MAX_CHARS:,} characters ({len(text_a):,} in A, {len(text_b):,} in B)"))
    return result


def _changes(text_a, text_b):
    if (words := _by_words(text_a, text_b)) is not None:
        return words
    chunks_a, chunks_b = _chunks(text_a), _chunks(text_b)
    if len(chunks_a) * len(chunks_b) > CHUNK_CELLS:
        return _changes_whole(text_a, text_b)
    # Chunks that recur often (blank lines, a repeated template line) are no anchors: autojunk skips
    # them, which also keeps the alignment near linear on repetitive text.
    return _aligned(chunks_a, chunks_b, lambda a, b: _by_words(a, b) or _changes_whole(a, b), autojunk=True)


def _by_words(text_a, text_b):
    """The word-by-word diff, or None when the texts are too long for it. What they begin and end with
    in common is set aside first (one edit in a long text leaves little to align)."""
    words_a, words_b = tokens(text_a), tokens(text_b)
    head = 0
    while head < min(len(words_a), len(words_b)) and words_a[head] == words_b[head]:
        head += 1
    tail = 0
    while tail < min(len(words_a), len(words_b)) - head and words_a[-1 - tail] == words_b[-1 - tail]:
        tail += 1
    middle_a, middle_b = words_a[head:len(words_a) - tail], words_b[head:len(words_b) - tail]
    if len(middle_a) * len(middle_b) > WORD_CELLS:
        return None
    same = lambda words: [("same", "".join(words))] if words else []  # noqa: E731
    return (same(words_a[:head]) + _aligned(middle_a, middle_b, _changes_whole)
            + same(words_a[len(words_a) - tail:]))


def _aligned(parts_a, parts_b, replaced, autojunk=False):
    """The alignment of two sequences of text parts; `replaced` diffs the texts of a replaced block."""
    result = []
    for operation, a1, a2, b1, b2 in SequenceMatcher(None, parts_a, parts_b, autojunk=autojunk).get_opcodes():
        block_a, block_b = "".join(parts_a[a1:a2]), "".join(parts_b[b1:b2])
        if operation == "equal":
            result.append(("same", block_a))
        elif operation == "replace":
            result.extend(replaced(block_a, block_b))
        else:
            result.extend(_changes_whole(block_a, block_b))
    return result


def _changes_whole(text_a, text_b):
    return [change for change in (("del", text_a), ("ins", text_b)) if change[1]]


def html(text_a, text_b):
    """The diff as HTML: removed words in <del>, added words in <ins>, every token escaped."""
    parts = []
    for operation, text in changes(text_a, text_b):
        if operation == "same":
            parts.append(escape(text))
        elif operation == "cut":
            parts.append(f'<span class="diff-cut">{escape(text)}</span>')
        else:
            parts.append(f"<{operation}>{escape(text)}</{operation}>")
    return mark_safe("".join(parts))  # each piece above is escaped or a tag of our own
