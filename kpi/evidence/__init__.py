"""Evidence: the learner's reflections (the journal), the reflective models and their prompts,
the KSB catalogue, and one reflection written out as an evidence pack (PDF, DOCX, images).

Layer 6 of the pipeline (see ARCHITECTURE.md). May import everything below it: ``kpi.errors``,
``kpi.store``, ``kpi.ingest`` (only its privacy scrub), ``kpi.metrics``, ``kpi.engine``,
``kpi.charts``, ``kpi.insights``.
"""
