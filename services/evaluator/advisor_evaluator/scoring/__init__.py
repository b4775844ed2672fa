"""Figures about the answers and the prompt set: reference similarity (BERTScore, ROUGE-L),
source-verified correctness from the auditor, prompt hygiene, and the statistics behind every
confidence interval."""
