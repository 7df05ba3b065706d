"""The audit log: who signed in, deleted traces, issued or revoked keys, changed roles or shared traces."""
