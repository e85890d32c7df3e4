"""What the programme offers: campaign documents and their versions, the tier ladder, programme settings."""
