"""The Streamlit app: thin pages over the `kpi` library."""
