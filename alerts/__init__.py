"""Alert rules, their evaluation and the notifications they send."""
