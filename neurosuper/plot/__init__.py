"""Figures (seaborn/matplotlib) drawn from analysis results; one module per analysis."""
