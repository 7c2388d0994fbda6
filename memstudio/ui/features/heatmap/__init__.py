"""Heatmap: the memorable-region overlay, its panel and its exports."""
