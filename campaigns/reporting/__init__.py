"""Figures for staff: the dashboard, care analytics and operations metrics."""
