"""The blind pairwise judge: its rubric, asking it about one pair, reading its verdict from
free text or from first-token probabilities, combining both orders of a pair, and measuring the
judge's own biases."""
