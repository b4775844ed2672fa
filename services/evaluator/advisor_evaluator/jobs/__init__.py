"""The evaluation jobs: queue wiring, the step that drives a job, its work units and where
their results live. These modules read inputs from the store, call the domain packages
(generation, judging, scoring, reporting) and write the outputs."""
