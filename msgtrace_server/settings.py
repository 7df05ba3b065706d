"""msgtrace settings: every knob is an environment variable, with defaults that let
`python manage.py runserver` work with none set."""

import os
import secrets
import socket
import sys
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent
# A checkout has manage.py beside this package and templates/, static/ and deploy/ beside it; the wheel
# (`pip install msgtrace-server`, pyproject.toml) carries those three inside this package instead.
MSGTRACE_INSTALLED = not (PACKAGE_DIR.parent / "manage.py").is_file()
BASE_DIR = PACKAGE_DIR if MSGTRACE_INSTALLED else PACKAGE_DIR.parent


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return int(value)


def env_list(name, default=""):
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def _data_dir():
    """Where the database, its secret.key and the collected static files go unless told otherwise:
    beside the code in a checkout; installed, the per-user data directory of the XDG base directory
    specification ($XDG_DATA_HOME/msgtrace, else ~/.local/share/msgtrace), never site-packages."""
    if not MSGTRACE_INSTALLED:
        return BASE_DIR
    xdg_data_home = env_str("XDG_DATA_HOME")
    if xdg_data_home and Path(xdg_data_home).is_absolute():  # the specification ignores relative ones
        return Path(xdg_data_home) / "msgtrace"
    return Path.home() / ".local" / "share" / "msgtrace"


MSGTRACE_DATA_DIR = _data_dir()
MSGTRACE_DB_PATH = Path(env_str("MSGTRACE_DB_PATH", str(MSGTRACE_DATA_DIR / "msgtrace.sqlite3")))
MSGTRACE_HOST = env_str("MSGTRACE_HOST", "127.0.0.1")
MSGTRACE_PORT = env_int("MSGTRACE_PORT", 4321)
MSGTRACE_GRPC_PORT = env_int("MSGTRACE_GRPC_PORT", 4317)  # OTLP/gRPC, on MSGTRACE_HOST too; 0: off
# OTLP request bodies, compressed and decompressed, may not exceed this.
MSGTRACE_MAX_BODY_BYTES = env_int("MSGTRACE_MAX_BODY_BYTES", 32 * 1024 * 1024)
MSGTRACE_BODY_TIMEOUT_SECONDS = env_int("MSGTRACE_BODY_TIMEOUT_SECONDS", 30)  # whole body, or 408
# String and bytes attribute values longer than this are truncated with a visible marker.
MSGTRACE_MAX_ATTRIBUTE_BYTES = env_int("MSGTRACE_MAX_ATTRIBUTE_BYTES", 1024 * 1024)
# When set, ingest requests must carry one of these as a bearer token or x-api-key.
MSGTRACE_INGEST_KEYS = env_list("MSGTRACE_INGEST_KEYS")
# GET /metrics (Prometheus) answers a scrape sending Authorization: Bearer <this token>; without one it is
# closed, unless MSGTRACE_METRICS_PUBLIC opens it to anyone who reaches the server.
MSGTRACE_METRICS_TOKEN = env_str("MSGTRACE_METRICS_TOKEN")
MSGTRACE_METRICS_PUBLIC = env_bool("MSGTRACE_METRICS_PUBLIC", False)
# Traces that started longer ago than this are removed while the server runs (0: keep forever).
MSGTRACE_RETENTION_DAYS = env_int("MSGTRACE_RETENTION_DAYS", 0)
# At most this many traces are kept, the oldest removed first (0: no limit).
MSGTRACE_RETENTION_MAX_TRACES = env_int("MSGTRACE_RETENTION_MAX_TRACES", 0)
MSGTRACE_RETENTION_INTERVAL_SECONDS = env_int("MSGTRACE_RETENTION_INTERVAL_SECONDS", 300)
# Alert rules (alerts/): evaluated this often by `manage.py start` (MSGTRACE_ALERTS=off: not at all).
MSGTRACE_ALERTS = env_bool("MSGTRACE_ALERTS", True)
MSGTRACE_ALERTS_INTERVAL_SECONDS = env_int("MSGTRACE_ALERTS_INTERVAL_SECONDS", 30)
MSGTRACE_WEBHOOK_TIMEOUT_SECONDS = env_int("MSGTRACE_WEBHOOK_TIMEOUT_SECONDS", 10)
# The address people reach msgtrace at (https://msgtrace.example.com), for links in notifications.
MSGTRACE_PUBLIC_URL = env_str("MSGTRACE_PUBLIC_URL")
# Email targets send through Django's email settings once EMAIL_HOST is set.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "msgtrace@localhost")
MSGTRACE_QUERY_TIMEOUT_SECONDS = env_int("MSGTRACE_QUERY_TIMEOUT_SECONDS", 10)  # a list, search or stats read; 0: none
MSGTRACE_WORKERS = env_int("MSGTRACE_WORKERS", 2)
MSGTRACE_STITCH_RUNS = env_bool("MSGTRACE_STITCH_RUNS", True)  # group one-span traces into runs (traces.runs)
# How often a worker checks whether custom prices changed (one indexed read).
MSGTRACE_PRICE_REFRESH_SECONDS = env_int("MSGTRACE_PRICE_REFRESH_SECONDS", 5)
# How often live pages (the trace list, the dashboard, a trace) ask whether anything changed.
MSGTRACE_LIVE_POLL_SECONDS = env_int("MSGTRACE_LIVE_POLL_SECONDS", 2)
# FULL survives power loss as well as a killed process; NORMAL only the latter, but is faster.
MSGTRACE_SQLITE_SYNCHRONOUS = env_str("MSGTRACE_SQLITE_SYNCHRONOUS", "FULL").upper()


def _secret_key():
    """SECRET_KEY from the environment, else one generated once and kept beside the database, so
    sessions survive restarts without anyone having to invent a key. Every process must read the
    same key: when it cannot be kept, msgtrace refuses to start rather than sign with a key of its own."""
    if env_str("SECRET_KEY"):
        return env_str("SECRET_KEY")
    key_file = MSGTRACE_DB_PATH.parent / "secret.key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ImproperlyConfigured(f"msgtrace cannot read {key_file}: {exc.strerror}. Set SECRET_KEY instead.") from None
    key = secrets.token_urlsafe(50)
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key
    except FileExistsError:  # another process wrote it first
        return key_file.read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"msgtrace cannot write its secret key to {key_file}: {exc.strerror}. "
            "Make that directory writable, or set SECRET_KEY (the same value for every process)."
        ) from None


def _private_database_file(path):
    """Creates the SQLite file readable by its owner only, before SQLite creates it with the umask's
    permissions (its -wal and -shm files take the database file's)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        pass  # SQLite reports an unwritable location itself, with the path, when it opens the file


def _default_allowed_hosts():
    """The names msgtrace is served on: loopback names, plus the machine's own names and addresses
    when it listens on every interface. Never "*": a page elsewhere could reach a local msgtrace
    through DNS rebinding and read every trace."""
    hosts = [".localhost", "localhost", "127.0.0.1", "[::1]"]
    if MSGTRACE_HOST in ("0.0.0.0", "::", ""):
        names = {socket.gethostname(), socket.getfqdn()}
        for name in list(names):
            try:
                names.update(socket.gethostbyname_ex(name)[2])
            except OSError:
                pass
        hosts += sorted(name for name in names if name)
    elif MSGTRACE_HOST not in hosts:
        hosts.append(f"[{MSGTRACE_HOST}]" if ":" in MSGTRACE_HOST else MSGTRACE_HOST)
    return hosts


SECRET_KEY = _secret_key()
DEBUG = env_bool("MSGTRACE_DEBUG", False)
ALLOWED_HOSTS = env_list("MSGTRACE_ALLOWED_HOSTS") or _default_allowed_hosts()
CSRF_TRUSTED_ORIGINS = env_list("MSGTRACE_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # First, so that its runserver (on MSGTRACE_HOST:MSGTRACE_PORT) is the one manage.py finds.
    "traces",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "corsheaders",
    "template_partials",
    "pricing",
    "ui",
    "ingest_health",
    "csp",
    "ninja",  # its Swagger UI from its own static files, where the Content-Security-Policy lets it load
    "accounts",
    "audit",
    "saved_views",
    "compare",
    "conversations",
    "reports",
    "alerts",
    "monitoring",
    "axes",
]

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Above WhiteNoise, so that static files carry the policy and X-Frame-Options too.
    "csp.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    *(["accounts.middleware.ProxyUserMiddleware"] if env_str("MSGTRACE_REMOTE_USER_HEADER") else []),
    "accounts.middleware.AccessControlMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "traces.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: counts failed sign-ins and answers locked-out ones.
    "axes.middleware.AxesMiddleware",
]

# Access control (accounts): on unless MSGTRACE_AUTH=off, for a machine only you can reach or an
# authenticating proxy in front. MSGTRACE_REMOTE_USER_HEADER names the header in which such a proxy
# puts the signed-in user's name (e.g. X-Forwarded-User); msgtrace then trusts it, so nothing else may
# reach msgtrace's port. Users it names are created on first sight with MSGTRACE_REMOTE_USER_ROLE.
MSGTRACE_AUTH = env_str("MSGTRACE_AUTH", "on").strip().lower() not in ("off", "false", "0", "no")
MSGTRACE_REMOTE_USER_HEADER = env_str("MSGTRACE_REMOTE_USER_HEADER")
MSGTRACE_REMOTE_USER_ROLE = env_str("MSGTRACE_REMOTE_USER_ROLE", "viewer")
if MSGTRACE_REMOTE_USER_ROLE not in ("viewer", "member", "admin"):
    raise ImproperlyConfigured("MSGTRACE_REMOTE_USER_ROLE must be viewer, member or admin")
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    *(["accounts.backends.ProxyUserBackend"] if MSGTRACE_REMOTE_USER_HEADER else []),
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "signin"
LOGIN_REDIRECT_URL = "dashboard"
SESSION_COOKIE_AGE = env_int("MSGTRACE_SESSION_HOURS", 7 * 24) * 3600  # then sign in again
# Sign-in attempts: after MSGTRACE_SIGNIN_ATTEMPTS failures for one user name, or from one address,
# further attempts are refused for MSGTRACE_SIGNIN_LOCKOUT_MINUTES (django-axes).
AXES_FAILURE_LIMIT = env_int("MSGTRACE_SIGNIN_ATTEMPTS", 5)
AXES_COOLOFF_TIME = env_int("MSGTRACE_SIGNIN_LOCKOUT_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "accounts.addresses.client_address"

# Browser-based exporters (OpenTelemetry JS in a web page) post from other origins: the OTLP ingest
# paths answer CORS for MSGTRACE_CORS_ORIGINS ("*": every origin), the REST API only for the origins
# named in MSGTRACE_CORS_API_ORIGINS, never with credentials. traces.cors decides per request.
MSGTRACE_CORS_ORIGINS = env_list("MSGTRACE_CORS_ORIGINS")
MSGTRACE_CORS_API_ORIGINS = env_list("MSGTRACE_CORS_API_ORIGINS")
CORS_URLS_REGEX = r"(?!)"  # no path by the library's own rule: see traces.cors
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["content-type", "content-encoding", "authorization", "x-api-key", "traceparent"]
CORS_PREFLIGHT_MAX_AGE = 3600

# Behind a proxy such as nginx that sets X-Forwarded-Proto and X-Forwarded-Host.
MSGTRACE_BEHIND_PROXY = env_bool("MSGTRACE_BEHIND_PROXY", False)
if MSGTRACE_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

# --- Security headers and HTTPS ------------------------------------------------------------------
# Content-Security-Policy (django-csp) on every response: scripts and stylesheets come from msgtrace's
# own static files only, so that markup a span's text might ever smuggle into a page cannot run. The
# one inline thing allowed is the style="" attribute, which carries the bars' widths and positions the
# server computes. htmx is told not to evaluate code either (the htmx-config tag in base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "object-src": ["'none'"],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
# MSGTRACE_HTTPS=true: browsers reach msgtrace over HTTPS only, through a proxy that terminates TLS and
# sends X-Forwarded-Proto (docs/deployment.md). Cookies then travel over HTTPS only, and browsers are
# told to use nothing else for a year (HSTS). msgtrace never redirects plain HTTP itself: the proxy's
# port-80 server does that, while exporters and health checks on the machine keep posting to msgtrace's
# own port over plain HTTP, which a redirect would break (an exporter does not follow one with its body).
MSGTRACE_HTTPS = env_bool("MSGTRACE_HTTPS", False)
if MSGTRACE_HTTPS:
    # Implied, as with MSGTRACE_BEHIND_PROXY: only the proxy knows that a request came over HTTPS, and
    # without its word HSTS would never be sent and CSRF checks would expect http:// origins.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    # Off unless asked for: HSTS with includeSubDomains binds every host of the domain, msgtrace's or not.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("MSGTRACE_HSTS_INCLUDE_SUBDOMAINS", False)
    SILENCED_SYSTEM_CHECKS = [
        "security.W008",  # SECURE_SSL_REDIRECT: the proxy redirects, see above
        "security.W021",  # SECURE_HSTS_PRELOAD: a domain owner's request to browser vendors, not a setting
        *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),  # off by choice, see above
    ]

ROOT_URLCONF = "msgtrace_server.urls"
WSGI_APPLICATION = "msgtrace_server.wsgi.application"

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
                "accounts.context_processors.access",
            ],
        },
    },
]

if env_str("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL"), conn_max_age=600)}
else:
    _private_database_file(MSGTRACE_DB_PATH)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": MSGTRACE_DB_PATH,
            "OPTIONS": {
                # Writers queue for the lock instead of failing with "database is locked":
                # IMMEDIATE takes it at BEGIN, so no transaction has to be retried midway.
                "transaction_mode": "IMMEDIATE",
                "timeout": env_int("MSGTRACE_SQLITE_TIMEOUT", 30),
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    f"PRAGMA synchronous={MSGTRACE_SQLITE_SYNCHRONOUS};"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA cache_size=-65536;"
                ),
            },
            "TEST": {"NAME": env_str("MSGTRACE_TEST_DB_PATH") or None},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("MSGTRACE_STATIC_ROOT", str(MSGTRACE_DATA_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
# Hashed, compressed file names once collectstatic has run (`manage.py start` and the Docker image run
# it); plain names served from the source folders before that (runserver, tests).
_HASHED_STATIC = (STATIC_ROOT / "staticfiles.json").exists() or sys.argv[1:2] == ["collectstatic"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _HASHED_STATIC
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Serve straight from the app folders when collectstatic has not been run (runserver, tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False
warnings.filterwarnings("ignore", message="No directory at")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("MSGTRACE_LOG_LEVEL", "INFO")},
    # WeasyPrint logs each step of each PDF report at INFO.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "weasyprint": {"level": "WARNING"}},
}
