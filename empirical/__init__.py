"""The empirical side: torch losses, networks and the training harness (imports torch)."""
