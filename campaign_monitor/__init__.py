"""Campaign Monitor: the API client (client.py, errors.py, records.py) and the connection
an installation holds to one Campaign Monitor account and its clients (models.py)."""
