"""From a provider's transaction to credited points: intake, crediting, refunds, simulation."""
