"""Prices per model (the genai-prices table and operators' custom prices) and the estimate of a span's cost."""
