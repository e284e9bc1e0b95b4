"""The KPI definitions: the registry (one declaration per KPI, its formula as Ibis expressions),
the settings a team chooses between definitions with, and targets with their red/amber/green rule.

Layer 2 of the pipeline (see ARCHITECTURE.md), beside ``kpi.ingest`` and independent of it.
May import: ``kpi.errors``, ``kpi.store``.
"""
