"""Comparisons stay bounded whatever clients send: long prompts are diffed with bounded work (never a
word-by-word alignment of two 10,000-word texts), texts past MAX_CHARS are compared up to there, and a
run of thousands of steps lists the first STEPS_SHOWN and diffs the first DETAILED_STEPS model calls
and tool runs, saying so. Every diff still gives back both texts exactly."""

import random
import re

import pytest

from compare import comparison, words
from tests.compare.runs import llm, post_run, tool

pytestmark = pytest.mark.django_db

VOCABULARY = [f"w{n}" for n in range(300)]


def prose(rng, count, line_words=0):
    parts = []
    for n in range(count):
        parts += [rng.choice(VOCABULARY), "\n" if line_words and n % line_words == line_words - 1 else " "]
    return "".join(parts)


def sides(changes):
    """Text A and text B as the diff gives them back."""
    return ("".join(text for op, text in changes if op in ("same", "del")),
            "".join(text for op, text in changes if op in ("same", "ins")))


@pytest.fixture
def alignments(monkeypatch):
    """The (length of A, length of B) of every sequence alignment the diff runs."""
    sizes = []
    real = words.SequenceMatcher

    def recorded(junk, a, b, autojunk):
        sizes.append((len(a), len(b)))
        return real(junk, a, b, autojunk=autojunk)

    monkeypatch.setattr(words, "SequenceMatcher", recorded)
    return sizes


rng = random.Random(3)
LONG = {
    "two unrelated 10,000-word prompts": (prose(rng, 10_000), prose(rng, 10_000)),
    "two unrelated prompts of short lines": (prose(rng, 10_000, 12), prose(rng, 10_000, 12)),
    "a blank line repeated": ("\n" * 60_000, "\n" * 59_999 + "x"),
    "one token repeated": ("a " * 40_000, "a " * 39_999 + "b "),
    "two letters shuffled": (" ".join(rng.choice("ab") for _ in range(40_000)),
                             " ".join(rng.choice("ab") for _ in range(40_000))),
}


@pytest.mark.parametrize("case", LONG)
def test_long_texts_are_aligned_in_bounded_pieces_and_given_back_exactly(alignments, case):
    a, b = LONG[case]
    assert sides(words.changes(a, b)) == (a[:words.MAX_CHARS], b[:words.MAX_CHARS])
    # Word by word only under WORD_CELLS; by chunks under CHUNK_CELLS (the chunks' alignment skips
    # the chunks that recur, which keeps it near linear).
    assert all(n * m <= words.CHUNK_CELLS for n, m in alignments)
    assert sum(1 for n, m in alignments if n * m > words.WORD_CELLS) <= 1


def test_one_edit_in_a_long_single_line_is_marked_alone():
    a = prose(random.Random(5), 20_000)
    cut = a.index(" ", 50_000) + 1
    b = a[:cut] + "CHANGED " + a[cut:]
    changes = words.changes(a, b)
    assert sides(changes) == (a[:words.MAX_CHARS], b[:words.MAX_CHARS])
    assert [text for op, text in changes if op != "same"] == ["CHANGED "]


def test_edits_far_apart_in_a_long_text_are_each_marked_as_words():
    a = prose(random.Random(6), 15_000)
    first, second = a.index(" ", 1_000) + 1, a.index(" ", 60_000) + 1
    b = a[:first] + "ONE " + a[first:second] + "TWO " + a[second:]
    marked = [text for op, text in words.changes(a, b) if op != "same"]
    assert marked == ["ONE ", "TWO "]


def test_texts_past_max_chars_are_compared_up_to_there_and_the_diff_says_so():
    a, b = "x" * (words.MAX_CHARS + 10), "y" * 5
    changes = words.changes(a, b)
    assert changes[-1] == ("cut", f" … compared up to {words.MAX_CHARS:,} characters "
                                  f"({words.MAX_CHARS + 10:,} in A, 5 in B)")
    assert '<span class="diff-cut"> … compared up to 100,000 characters' in words.html(a, b)


def test_a_long_run_lists_its_first_steps_diffs_its_first_calls_and_says_what_it_left_out(client, monkeypatch):
    monkeypatch.setattr(comparison, "STEPS_SHOWN", 4)
    monkeypatch.setattr(comparison, "DETAILED_STEPS", 2)
    steps_a = [step for n in range(3) for step in (llm(prompt=f"question {n}"), tool("lookup"))]
    steps_b = [step for n in range(3) for step in (llm(prompt=f"question {n}, changed"),
                                                    tool("lookup", arguments={"city": "Lyon"}))]
    a, b = post_run(client, 1, *steps_a), post_run(client, 2, *steps_b)

    result = client.get("/api/v1/compare", {"a": a, "b": b}).json()
    assert len(result["steps"]) == 7  # the root and six steps: the API holds every step
    assert [step["prompt"] is not None or step["arguments"] is not None for step in result["steps"]] == [
        False, True, True, False, False, False, False]
    assert result["undetailed"] == 4

    page = client.get("/compare", {"a": a, "b": b}).content.decode()
    assert len(re.findall(r'<li class="step ', page)) == 4
    note = re.search(r'<p class="bounded muted" id="compare-bounded">(.*?)</p>', page, re.S).group(1)
    assert "3 more steps not listed here" in note and f"/api/v1/compare?a={a}&amp;b={b}" in note
    assert "4 model calls and tool runs past the first are compared by their values only" in note


def test_the_text_read_for_diffs_is_bounded_too(client, monkeypatch):
    monkeypatch.setattr(comparison, "DIFF_CHARS", 10)
    monkeypatch.setattr(comparison, "DETAIL_BATCH", 1)
    a = post_run(client, 1, llm(prompt="first"), llm(prompt="second"))
    b = post_run(client, 2, llm(prompt="first!"), llm(prompt="second!"))

    result = client.get("/api/v1/compare", {"a": a, "b": b}).json()
    assert [step["prompt"] is not None for step in result["steps"]] == [False, True, False]
    assert result["undetailed"] == 1
