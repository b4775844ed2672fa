"""What a session runs on and what fits there: the device and its dtype policy (and the demo's
simulated cards), the peak-memory estimate checked before loading, and how many packed rows one
forward pass holds once the memory left after loading is measured."""
