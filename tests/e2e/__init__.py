"""End-to-end tests against a real n8n (see conftest.py)."""
