"""The HTTP layer: clients per process, retries, limits, deadlines and politeness."""
