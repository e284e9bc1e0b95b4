"""The store: the canonical tables' declarations, one connection per process, migrations, import
batches and their undo, the quarantine, and the small tables the team writes (annotations, who is
looking).

Layer 1 of the pipeline (see ARCHITECTURE.md). May import: ``kpi.errors``. Nothing above it.
"""
