"""The person behind every identity: phone and national-ID identities, linking, merges, aggregates."""
