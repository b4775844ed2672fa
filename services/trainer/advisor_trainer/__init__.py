"""advisor-trainer."""
