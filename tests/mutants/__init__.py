"""Known-bad services the harness must fail, beside a faithful control it must pass (docs/mutants.md)."""
