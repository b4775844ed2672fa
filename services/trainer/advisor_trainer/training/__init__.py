"""One training session and what steers it: the checks made before loading, the learning-rate
schedule, the optimizer and its step, the warm-up pass, the session budget and stop signals,
and the progress and curve it reports."""
