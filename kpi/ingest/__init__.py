"""Import: an export file read, its layout recognised, its values parsed, validated, made private
and loaded into the store as one batch, with every row imported or quarantined with a reason.

Layer 2 of the pipeline (see ARCHITECTURE.md). May import: ``kpi.errors``, ``kpi.store``.
"""
