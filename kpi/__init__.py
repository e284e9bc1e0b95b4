"""Service KPI Dashboard's UI-free library: import, store, KPIs, insights and evidence."""

__version__ = "0.1.0"
