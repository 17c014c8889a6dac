"""WSGI entry point (gunicorn cmsync.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmsync.settings")

application = get_wsgi_application()
