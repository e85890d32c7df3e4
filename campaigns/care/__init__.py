"""The care centre: missing-points claims, alerts, the accrual SLA, hourly rollups, early warnings."""
