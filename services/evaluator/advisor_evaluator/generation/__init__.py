"""Asking served models for answers: the chat client of the inference API (and of judges
served elsewhere) and the pinned decoding of a candidate's answer."""
