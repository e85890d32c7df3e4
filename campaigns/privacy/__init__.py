"""Personal data: consent by purpose (consents.py); export, erasure, masking and retention."""
