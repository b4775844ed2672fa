"""The adapter bundles a run hands over through: snapshotting and writing them at a step
boundary, the handoff ledger each one carries, continuing a run from the newest committed one,
and the merged export built from one."""
