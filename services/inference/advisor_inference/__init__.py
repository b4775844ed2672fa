"""advisor-inference."""
