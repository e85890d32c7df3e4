"""Bulk files: provider transaction files, customer migrations with opening balances."""
