"""Shared fixtures: synthetic run directories built once per module."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# plain `pytest` does not put the repo root on sys.path; `tests.analyzers.synth` needs it
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.analyzers import Verdict, analyze_run
from tests.analyzers.synth import SynthConfig, generate


@pytest.fixture(scope="session")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    def _make(**kw: object) -> Path:
        d = tmp_path_factory.mktemp("run")
        return generate(d, SynthConfig(**kw))  # type: ignore[arg-type]

    return _make


@pytest.fixture(scope="session")
def healthy(make_run: Callable[..., Path]) -> tuple[Path, Verdict]:
    d = make_run()
    return d, analyze_run(d)
