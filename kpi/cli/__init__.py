"""The ``kpi`` command and the README's generated sections.

Layer 7, the top of the pipeline (see ARCHITECTURE.md). May import any of ``kpi``; nothing in
``kpi`` imports it.
"""
