"""Charts and what may leave the product: a chart as data (``spec``), the one figure builder the
pages and the evidence packs share (``figures``, in the look of ``style``, with the target lines,
control limits and annotations of ``marks``), images rendered through Chromium, and the
disclosure rules every export follows (colleagues anonymised, small cells suppressed, cells that
cannot run as spreadsheet formulas).

Layer 4 of the pipeline (see ARCHITECTURE.md). May import: ``kpi.errors``, ``kpi.store``,
``kpi.metrics``, ``kpi.engine``.
"""
