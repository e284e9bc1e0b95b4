"""The engine: the registry's formulas run set-wise through Ibis over the store, with n,
intervals and the definition that produced each number; the filters, periods, business-hours
calendar and statistics it needs; and the breakdowns and tables the pages and CLI lay out.

Layer 3 of the pipeline (see ARCHITECTURE.md). May import: ``kpi.errors``, ``kpi.store``,
``kpi.metrics``.
"""
