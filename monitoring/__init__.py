"""The Prometheus exposition of msgtrace's own figures."""
