"""The person's rights: export, erasure, minimal exposure of numbers to staff, retention of personal data.

Consent by purpose is ``campaigns.consent`` (a lower floor: notify and accounts ask it).
"""
