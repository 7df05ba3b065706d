"""Who may do what: users and their roles, sign-in and first-run setup, API keys and share links."""
