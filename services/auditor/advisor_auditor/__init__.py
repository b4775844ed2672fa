"""advisor-auditor."""
