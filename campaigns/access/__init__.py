"""Who may reach the programme: staff users, providers, their API keys and tokens."""
