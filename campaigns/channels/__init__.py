"""Customer channels over the books: SMS keywords, the USSD menu, the portal and app."""
