"""advisor-evaluator."""
