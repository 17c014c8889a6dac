"""cmsync settings, read from the environment.

Every value has a default that runs on a laptop with nothing installed: SQLite and an
embedded (filesystem) Celery broker under ``var/``, a secret key generated once into
``var/``. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and HTTPS.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

ENV = env = environ.Env()

# Where local state lives: the SQLite database, the embedded broker, the generated secret.
VAR_DIR = Path(env.str("CMSYNC_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret(name: str) -> str:
    """A secret from the environment, or one generated once and kept in var/<name>."""
    if value := env.str(name.upper(), default=""):
        return value
    path = VAR_DIR / name.lower()
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret("SECRET_KEY")
# Credentials are encrypted at rest with a key derived from SECRET_KEY and SALT_KEY
# (django-fernet-encrypted-fields). Rotating SECRET_KEY: move the old one to
# SECRET_KEY_FALLBACKS so stored credentials still decrypt.
SALT_KEY = _secret("SALT_KEY")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "solo",
    "auditlog",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "cmsync",  # system checks (cmsync/checks.py)
    "settings_app",
    "campaign_monitor",
    "salesforce",
    "sync",
    "subscriptions",
    "security",
    "billing",
    "emulators",
    "maintenance",
]

MIDDLEWARE = [
    # First: a NUL in the URL or session cookie is a 400 before anything queries the database.
    "cmsync.middleware.RejectNulBytes",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "maintenance.middleware.AuditlogMiddleware",
    # Last, as django-axes asks: turns a login refused for too many failures into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cmsync.urls"
WSGI_APPLICATION = "cmsync.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cmsync.context_processors.tabs",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'cmsync.sqlite3'}")
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat share one SQLite file in `make run`: wait for locks, don't fail.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    # Tests use a file too, so a worker process started by a test sees the same database.
    # (One per process, so two test runs on one machine never share it.)
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "sync"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# The installation's time zone: schedules ("daily at 06:00") are read in it.
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production runs collectstatic and sets STATIC_MANIFEST=1 for hashed, compressed files;
# elsewhere WhiteNoise serves straight from the source folders, no collectstatic needed.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# HTTPS deployment: turn everything on at once with HTTPS=1 (docker-compose does).
HTTPS = env.bool("HTTPS", default=False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env.bool("BEHIND_PROXY", default=False):
    # Only behind a proxy that sets these headers itself: otherwise clients could forge them.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# Neither cookie is readable by scripts: pages send the CSRF token from the form's hidden input
# (static/*.js reads that, never document.cookie), so script injected by some future bug
# cannot lift either of them.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp) on every response: scripts, styles, images and
# connections (and frames) only from cmsync itself, no inline script or style, no plugins,
# never framed by another site.
# The Billing tab adds Stripe.js's origins (billing.stripe_client.csp_sources) and the API
# docs page Swagger UI's data: images; nothing else does. form-action is left out: connecting
# Campaign Monitor or Salesforce posts a form that redirects to their sign-in page.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Audit log: who changed which setting from where. X-Forwarded-For is only trusted behind
# a proxy (BEHIND_PROXY=1); see maintenance.middleware.
AUDITLOG_TRUST_FORWARDED_FOR = env.bool("BEHIND_PROXY", default=False)
BEHIND_PROXY = AUDITLOG_TRUST_FORWARDED_FOR

# Brute-force protection of /accounts/login/ and /admin/login/ (django-axes; see
# security/lockouts.py). LOGIN_FAILURE_LIMIT wrong passwords for one username from one address
# lock that pair out for LOGIN_LOCKOUT_MINUTES: by the pair, so nobody can lock an admin out
# from elsewhere and one person's typos do not lock out a whole office behind one NAT address.
# A Full access admin unlocks on the User security tab; `manage.py axes_reset` unlocks all.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Tries during a lockout are refused without moving its end: "try again in 15 minutes" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "security.lockouts.client_ip"
AXES_USERNAME_CALLABLE = "security.lockouts.attempted_username"
AXES_USERNAME_FORM_FIELD = "username"  # axes' default (the login form's field), read there
AXES_LOCKOUT_CALLABLE = "security.lockouts.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # failures are what counts; last_login says the rest
AXES_ENABLE_ADMIN = False  # unlocking goes through the User security tab, which audits it
AXES_VERBOSE = False  # no start-up banner in every management command's output

# Campaign Monitor and Salesforce credentials only travel over HTTPS. Plain HTTP to this
# machine (127.0.0.1, ::1, localhost) is for the local emulators: `make run` and the tests
# turn it on; production leaves it off (cmsync.endpoints).
ALLOW_INSECURE_LOOPBACK = env.bool("ALLOW_INSECURE_LOOPBACK", default=False)

# Salesforce: the pauses between retries of a request that met a 502/503/504 or a dropped
# connection grow as 0, 2×, 4×, 8× this many seconds (urllib3's backoff factor).
SALESFORCE_RETRY_BACKOFF_SECONDS = env.float("SALESFORCE_RETRY_BACKOFF_SECONDS", default=0.5)
# A write set of at least this many records goes to Salesforce as a Bulk API 2.0 ingest job
# (a handful of calls, whatever its size) rather than sObject Collections (one call per 200).
SALESFORCE_BULK_THRESHOLD = env.int("SALESFORCE_BULK_THRESHOLD", default=2000)
# How long a run waits for one Bulk API job before it stops (the rows stay pending).
SALESFORCE_BULK_TIMEOUT_SECONDS = env.float("SALESFORCE_BULK_TIMEOUT_SECONDS", default=3600)

# A primary sync's lists and campaigns are work items (sync/spread.py): at most this many of
# one run are worked at once, by the run's own worker and the helpers it calls in; 1 works
# them all in the run's own worker. An item whose worker is silent this long (killed, cut
# off) is taken back and done again by another.
SYNC_PARALLEL_ITEMS = max(env.int("SYNC_PARALLEL_ITEMS", default=4), 1)
SYNC_ITEM_STALE_SECONDS = max(env.float("SYNC_ITEM_STALE_SECONDS", default=60.0), 1.0)

# Campaign Monitor: the API the console connects to (the local emulator in `make run`), and
# the OAuth application, when one is registered, for "Connect with Campaign Monitor".
CAMPAIGN_MONITOR_BASE_URL = env.str(
    "CAMPAIGN_MONITOR_BASE_URL", default="https://api.createsend.com/api/v3.3"
)
# Demo mode (`make run`, with ALLOW_INSECURE_LOOPBACK): the Connect form offers the local
# Campaign Monitor emulator (run_emulators --cm-port) when it is listening there.
CAMPAIGN_MONITOR_DEMO_BASE_URL = env.str(
    "CAMPAIGN_MONITOR_DEMO_BASE_URL", default="http://127.0.0.1:8101/api/v3.3"
)
CAMPAIGN_MONITOR_OAUTH_CLIENT_ID = env.str("CAMPAIGN_MONITOR_OAUTH_CLIENT_ID", default="")
CAMPAIGN_MONITOR_OAUTH_CLIENT_SECRET = env.str("CAMPAIGN_MONITOR_OAUTH_CLIENT_SECRET", default="")
# Campaign Monitor's external session API asks who integrates (Open Campaign Monitor).
CAMPAIGN_MONITOR_INTEGRATOR_ID = env.str("CAMPAIGN_MONITOR_INTEGRATOR_ID", default="cmsync")

# The REST API (/api/v1/): API keys for integrations, the session for the console's pages.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cmsync.api_auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "cmsync.api_auth.RolePermission",
        "cmsync.api_auth.DocumentedQueryParameters",
    ],
    # Bodies are JSON, as the schema says: a form's "0" is not a boolean. Others are a 415.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # DRF's, but a cache (Redis) outage lets requests through instead of failing them all
    "DEFAULT_THROTTLE_CLASSES": ["cmsync.api_auth.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env.str("API_THROTTLE_RATE", default="600/minute")},
    "EXCEPTION_HANDLER": "cmsync.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "cmsync.api.ApiSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "cmsync API",
    "DESCRIPTION": "Settings, connected clients and their lists (with each list's subscription "
    "rules, custom field mappings and imports), sync runs, maintenance messages, audit log and "
    "users of a cmsync installation. Authenticate with `Authorization: Api-Key <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name: the runs' keep the names they had first.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "sync.models.SyncRun.Status",
        "KindEnum": "sync.models.SyncRun.Kind",
        "ImportStatusEnum": "subscriptions.models.ImportJob.Status",
        "ImportFailureKindEnum": "subscriptions.models.ImportFailure.Kind",
    },
}

# Billing (billing/): Stripe keys from the environment; without them the Billing tab says
# billing is not configured and nothing is enforced. STRIPE_API_BASE points the official client
# (and the page's Stripe.js) at localstripe in tests and `make run`.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="").rstrip("/")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
BILLING_TRIAL_DAYS = env.int("BILLING_TRIAL_DAYS", default=14)
BILLING_CURRENCY = env.str("BILLING_CURRENCY", default="usd")
# Monthly tiers by active subscribers summed across the synced lists: "up_to:cents,...".
# Above the last tier the Billing tab says "contact us".
BILLING_TIERS = [
    (int(up_to), int(cents))
    for up_to, cents in (
        tier.split(":")
        for tier in env.list(
            "BILLING_TIERS",
            default=[
                "2500:800",
                "5000:1500",
                "10000:2500",
                "15000:4000",
                "25000:6500",
                "50000:10000",
            ],
        )
    )
]

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="cmsync@localhost")
# The console's own address, for links in emails (alerts, invitations).
CMSYNC_URL = env.str("CMSYNC_URL", default="http://127.0.0.1:8000").rstrip("/")

# Celery. REDIS_URL (or CELERY_BROKER_URL) in production; otherwise kombu's filesystem
# transport under var/, which needs no server and works across processes.
REDIS_URL = env.str("REDIS_URL", default="")
# The cache holds API throttling counts: shared through Redis when there is one. Short socket
# timeouts: while Redis is unreachable the API goes on without rate limits (api_auth), and each
# request should learn that quickly.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
    }
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND", default=REDIS_URL or f"file://{VAR_DIR / 'celery-results'}"
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
if CELERY_RESULT_BACKEND.startswith("file://"):
    (VAR_DIR / "celery-results").mkdir(exist_ok=True)
# A task is acknowledged after it ran, so a worker that dies mid-task leaves it to another.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# One fixed beat entry; when a sync is due is data (sync.models.ScheduleState).
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-syncs": {
        "task": "sync.dispatch_due",
        "schedule": env.float("SYNC_DISPATCH_SECONDS", default=60.0),
    },
    # Polls Salesforce for changes when the Sync settings' interval (default 5 min) passed.
    "poll-salesforce-changes": {
        "task": "sync.poll_changes",
        "schedule": env.float("SYNC_DISPATCH_SECONDS", default=60.0),
    },
    # Queues the import wizard's scheduled imports whose time has come.
    "dispatch-scheduled-imports": {
        "task": "subscriptions.dispatch_imports",
        "schedule": env.float("SYNC_DISPATCH_SECONDS", default=60.0),
    },
}

# Every handler drops secrets from URLs (the Outbound Message and webhook endpoints'):
# runserver's access log (django.server) and django.request's "Bad Request: <path>" alike.
# gunicorn's access log: gunicorn.conf.py.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "cmsync.logs.RedactSecrets"},
        "one_line_refusals": {"()": "cmsync.logs.OneLineRefusals"},
    },
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
    },
    "loggers": {
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.request": {"filters": ["one_line_refusals"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
