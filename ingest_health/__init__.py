"""Ingest health: per-client counters of what OTLP requests brought, and the last rejections, so a user can see why traces do not show up."""
