"""The books: ledger, point lots, adjustments, expiry, rewards and redemptions, groups."""
