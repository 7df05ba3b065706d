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
# Traces that started longer ago than this are removed while the server runs (0: keep forever).
MSGTRACE_RETENTION_DAYS = env_int("MSGTRACE_RETENTION_DAYS", 0)
# At most this many traces are kept, the oldest removed first (0: no limit).
MSGTRACE_RETENTION_MAX_TRACES = env_int("MSGTRACE_RETENTION_MAX_TRACES", 0)
MSGTRACE_RETENTION_INTERVAL_SECONDS = env_int("MSGTRACE_RETENTION_INTERVAL_SECONDS", 300)
MSGTRACE_QUERY_TIMEOUT_SECONDS = env_int("MSGTRACE_QUERY_TIMEOUT_SECONDS", 10)  # a list, search or stats read; 0: none
MSGTRACE_WORKERS = env_int("MSGTRACE_WORKERS", 2)
MSGTRACE_STITCH_RUNS = env_bool("MSGTRACE_STITCH_RUNS", True)  # group one-span traces into runs (traces.runs)
# How often a worker checks whether custom prices changed (one indexed read).
MSGTRACE_PRICE_REFRESH_SECONDS = env_int("MSGTRACE_PRICE_REFRESH_SECONDS", 5)
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
]

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "traces.middleware.DatabaseUnavailableMiddleware",
]

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
if env_bool("MSGTRACE_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

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
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
