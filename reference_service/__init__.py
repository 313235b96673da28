"""Reference orchestrator service."""
