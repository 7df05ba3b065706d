"""Sessions and users: the conversations and people traces belong to."""
