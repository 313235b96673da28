"""``journal.json`` is a Chaos Toolkit journal: chaostoolkit-lib accepts its experiment and its shape."""

from __future__ import annotations

import json

import pytest
from chaoslib.exceptions import InvalidActivity
from chaoslib.experiment import ensure_experiment_is_valid
from chaoslib.run import initialize_run_journal

from harness.analyzers import analyze_run
from harness.report import write_reports
from tests.analyzers.synth import SynthConfig, generate


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    run = generate(tmp_path_factory.mktemp("run"), SynthConfig())
    write_reports(run, analyze_run(run))
    return json.loads((run / "journal.json").read_text())


def test_chaoslib_accepts_the_experiment(journal: dict[str, object]) -> None:
    experiment = journal["experiment"]
    assert isinstance(experiment, dict)
    ensure_experiment_is_valid(experiment)  # raises InvalidExperiment / InvalidActivity otherwise
    assert experiment["method"] and all(a["type"] in ("action", "probe") for a in experiment["method"])
    assert experiment["rollbacks"], "every applied fault has its removal as a rollback"


def test_it_has_every_key_chaoslib_writes(journal: dict[str, object]) -> None:
    expected = set(initialize_run_journal({"title": "t", "description": "d", "method": []}))
    assert expected <= set(journal)
    assert journal["status"] in ("completed", "failed", "aborted", "interrupted")
    for entry in [*journal["run"], *journal["rollbacks"]]:  # type: ignore[misc]
        assert {"activity", "output", "status", "start", "end", "duration"} <= set(entry)


def test_deviation_follows_the_verdict(journal: dict[str, object]) -> None:
    after = journal["steady_states"]["after"]  # type: ignore[index]
    assert journal["deviated"] is (not after["steady_state_met"])
    assert all(p["tolerance_met"] == (p["output"] == "pass") for p in after["probes"])


def test_a_broken_probe_would_be_refused() -> None:
    """The validation above is real: chaoslib refuses a probe without a provider."""
    with pytest.raises(InvalidActivity):
        ensure_experiment_is_valid({"title": "t", "description": "d",
                                    "method": [{"type": "probe", "name": "p"}]})
