"""The core workloads of baselines.md, one per module; each registers itself on import."""
