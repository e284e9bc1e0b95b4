"""The KPI definitions: the registry (one declaration per KPI, its formula as Ibis expressions),
the settings a team chooses between definitions with, and targets with their red/amber/green rule.

``definitions`` holds the types (``Metric``, ``Formula``, ``Context``); ``surveys``,
``contacts``, ``calls`` and ``volume`` declare the KPIs by family; ``contact_facts`` holds the
per-contact facts the contacts formulas share; ``registry`` assembles ``REGISTRY``/``KEYS``.

Layer 2 of the pipeline (see ARCHITECTURE.md), beside ``kpi.ingest`` and independent of it.
May import: ``kpi.errors``, ``kpi.store``.
"""
