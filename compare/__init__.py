"""Comparing two runs: which steps match, which were added or dropped, and what changed in each."""
