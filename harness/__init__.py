"""memory-chaos-harness."""
