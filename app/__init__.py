"""The Streamlit dashboards: they read the published marts and draw them."""
