"""Printable reports of a trace, a run or a comparison, and their rendering to PDF on the server."""
