"""The report of an evaluation from its results as plain values: the figures and comparisons,
the three-axis verdict of each challenger, per-item side-by-sides, warnings, and the report
rendered as Markdown and plots."""
