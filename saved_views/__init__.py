"""Saved views of the trace list (named filters, private or shared with the team) and each user's recent searches."""
