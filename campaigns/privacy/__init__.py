"""The person's rights: export, erasure, minimal exposure of numbers to staff, retention of personal data."""
