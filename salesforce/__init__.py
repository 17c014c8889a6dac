"""Salesforce: the gateway over simple-salesforce (gateway.py, the only module importing it),
OAuth helpers (auth.py), cmsync's own schema (schema.py, metadata/) and the connection."""
