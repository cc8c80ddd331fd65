"""Host-side programs and test helpers (CPython only; firmware never imports them)."""
