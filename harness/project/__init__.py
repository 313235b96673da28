"""``harness project``: what the chatbot memory design does at internet scale, projected from a measured run.

The run supplies the access pattern (``model.fit_model``); ``simulate`` generates
a day of it at the requested scale; ``projection`` applies DynamoDB's documented
capacity, partition and throttling rules (``capacity``); ``render`` writes
Markdown, JSON and the report's ``scale`` section. The names below load on
first use, so that commands other than ``project`` do not pay for matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.project.model import RunModel, fit_model
    from harness.project.projection import AlarmPolicy, Projection, project
    from harness.project.render import load_projection, render_scale_section
    from harness.project.simulate import ProjectionParams

_HOME = {"RunModel": "model", "fit_model": "model", "AlarmPolicy": "projection", "Projection": "projection",
         "project": "projection", "load_projection": "render", "render_scale_section": "render",
         "ProjectionParams": "simulate"}
__all__ = ["AlarmPolicy", "Projection", "ProjectionParams", "RunModel", "fit_model", "load_projection", "project",
           "render_scale_section"]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
