"""The only streamlit-aware part of speechrec: session state, cached resources, page helpers."""
