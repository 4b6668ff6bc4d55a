"""Data access: languages, downloads with checksums, and dataset file parsers (no model code)."""
