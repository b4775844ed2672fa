"""Adapter bundles from the store to the engine: checks, canary, the loaded-adapter registry."""
