"""Consent by purpose (``consents.py``): what the person agreed to, when, where and to which text.

A floor of its own, low in the contexts, because notify (marketing messages), accounts (what a provider sees of a
member) and the channels all ask it; the person's other rights (export, erasure, masking, retention) sit high in
``campaigns.privacy`` because they read every other context.
"""
