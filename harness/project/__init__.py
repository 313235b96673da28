"""``harness project``: what the chatbot memory design does at internet scale, projected from a measured run.

The run supplies the access pattern (``model.fit_model``); ``simulate`` generates
a day of it at the requested scale; ``projection`` applies DynamoDB's documented
capacity, partition and throttling rules (``capacity``); ``render`` writes
Markdown, JSON and the report's ``scale`` section.
"""

from harness.project.model import RunModel, fit_model
from harness.project.projection import AlarmPolicy, Projection, project
from harness.project.render import load_projection, render_scale_section
from harness.project.simulate import ProjectionParams

__all__ = ["AlarmPolicy", "Projection", "ProjectionParams", "RunModel", "fit_model", "load_projection", "project",
           "render_scale_section"]
