"""msgtrace installs like its peers: `pip install msgtrace-server` gives a `msgtrace-server` command that
serves traces, with its templates, static files and migrations inside the wheel and its data in the
per-user data directory; and the project's own packages shadow no package a traced program imports."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import helpers as h
from tests import servers
from tests.web import WebSession

ROOT = servers.ROOT
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def pins(lines):
    """Requirement lines without comments and blank lines."""
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_pyproject_pins_the_same_dependencies_as_requirements_txt():
    requirements = pins((ROOT / "requirements.txt").read_text().splitlines())
    assert all("==" in line for line in requirements), "requirements.txt pins every version"
    assert sorted(PYPROJECT["project"]["dependencies"]) == sorted(requirements)


def test_the_wheel_holds_every_package_and_data_file_of_the_checkout():
    """pyproject.toml lists its packages (three are folders mapped into msgtrace_server): a new app, or a
    data file in one, must be listed there too, or the installed server misses it."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    apps = sorted(folder for folder in ROOT.iterdir() if (folder / "__init__.py").is_file() and folder.name != "tests")
    found = sorted(".".join(init.parent.relative_to(ROOT).parts) for app in apps for init in app.rglob("__init__.py"))
    assert [name for name in found if name not in setuptools["packages"]] == []

    def folder(package):
        return ROOT / setuptools["package-dir"].get(package, package.replace(".", "/"))

    packaged = {
        path for package, patterns in setuptools["package-data"].items() for pattern in patterns
        for path in folder(package).glob(pattern)
    }
    data_files = [path for app in apps for path in app.rglob("*")
                  if path.is_file() and path.suffix not in (".py", ".pyc")]
    assert [str(path.relative_to(ROOT)) for path in data_files if path not in packaged] == []
    # templates/, static/ and deploy/ stay where they are in the checkout; the wheel maps them into the package.
    assert setuptools["package-dir"] == {
        "msgtrace_server.templates": "templates",
        "msgtrace_server.static": "static",
        "msgtrace_server.deploy": "deploy",
    }
    assert PYPROJECT["project"]["scripts"] == {"msgtrace-server": "msgtrace_server.__main__:main"}


def test_import_msgtrace_sdk_from_the_repository_root_finds_msgtrace_sdk():
    """A program traced with msgtrace-sdk, run from a checkout, imports msgtrace-sdk's `msgtrace` and not a
    package of the checkout (`-c` puts the working directory first on sys.path)."""
    result = subprocess.run(
        [sys.executable, "-c", "import msgtrace.sdk; print(msgtrace.sdk.__file__)"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    module_file = Path(result.stdout.strip())
    assert module_file.is_relative_to(sysconfig.get_paths()["purelib"]), module_file
    assert module_file.parts[-3:] == ("msgtrace", "sdk", "__init__.py")
    assert not (ROOT / "msgtrace").exists()


def settings_of(python, names, cwd, env):
    """Values of msgtrace settings, as `python` imports them in a process of its own."""
    code = (
        "import json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'msgtrace_server.settings'\n"
        "from django.conf import settings\n"
        f"print(json.dumps({{name: str(getattr(settings, name)) for name in {names!r}}}))"
    )
    result = subprocess.run([str(python), "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def clean_env(**extra):
    """The environment without anything that points msgtrace at a database, data or a key of its own."""
    drop = ("DATABASE_URL", "MSGTRACE_DB_PATH", "MSGTRACE_STATIC_ROOT", "SECRET_KEY", "XDG_DATA_HOME",
            "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop} | extra


def test_a_checkout_keeps_its_database_and_static_files_beside_the_code(tmp_path):
    # DATABASE_URL and SECRET_KEY only keep settings from touching the checkout's database and key.
    env = clean_env(HOME=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/unused.sqlite3", SECRET_KEY="tests")
    values = settings_of(sys.executable, ["MSGTRACE_INSTALLED", "MSGTRACE_DB_PATH", "STATIC_ROOT", "TEMPLATES"],
                         cwd=ROOT, env=env)
    assert values["MSGTRACE_INSTALLED"] == "False"
    assert values["MSGTRACE_DB_PATH"] == str(ROOT / "msgtrace.sqlite3")
    assert values["STATIC_ROOT"] == str(ROOT / "staticfiles")
    assert str(ROOT / "templates") in values["TEMPLATES"]


# --- the installed wheel ---------------------------------------------------------------------------------


def wheelhouse():
    """Wheels of every pinned requirement and of the build backend, built once per set of pins (into the
    user's cache) so that building and installing msgtrace-server afterwards needs no registry."""
    build_requires = PYPROJECT["build-system"]["requires"]
    text = (ROOT / "requirements.txt").read_text() + "\n".join(build_requires)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "msgtrace-tests"
    folder = cache / f"wheelhouse-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    if not folder.is_dir():
        partial = cache / f"{folder.name}.{os.getpid()}"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "-w", str(partial),
             "-r", str(ROOT / "requirements.txt"), *build_requires],
            check=True,
        )
        try:
            partial.rename(folder)
        except OSError:  # another run finished first
            shutil.rmtree(partial)
    return folder


def build_wheel(tmp_path, wheels):
    """msgtrace-server's wheel, built offline from a copy of the checkout (a build in the checkout itself
    would leave build/ and *.egg-info behind, and reuse stale files from an earlier build/)."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist", "*.egg-info",
        "staticfiles", "*.sqlite3*", "secret.key", "node_modules",
    ))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-index",
         "--find-links", str(wheels), "-w", str(tmp_path / "dist"), str(source)],
        check=True,
    )
    (wheel,) = (tmp_path / "dist").glob("msgtrace_server-0.2.0-*.whl")
    return wheel


@contextmanager
def own_database(tmp_path):
    """Nothing on SQLite (the installed server picks its default); on PostgreSQL, a database of its own."""
    if not os.environ.get("DATABASE_URL"):
        yield {}
        return
    with servers.database(tmp_path) as (db_env, _):
        yield db_env


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


@pytest.mark.slow
def test_installed_msgtrace_server_serves_and_stores_a_trace(tmp_path):
    wheels = wheelhouse()
    wheel = build_wheel(tmp_path, wheels)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-index", "--find-links", str(wheels), str(wheel)],
        check=True,
    )
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    data_dir = home / ".local" / "share" / "msgtrace"

    with own_database(tmp_path) as db_env:
        # With retention on, gunicorn's master starts `msgtrace-server retention`'s process beside the workers.
        env = clean_env(HOME=str(home), MSGTRACE_RETENTION_DAYS="30", **db_env)
        port = servers.free_port()
        log_path = tmp_path / "server.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(venv / "bin" / "msgtrace-server"), "start", "--port", str(port), "--workers", "1"],
                cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            servers.wait_for_port(port, process, timeout=90)
            base = f"http://127.0.0.1:{port}"
            a_minute_ago_ms = int(time.time() * 1000) - h.T0 // h.MS - 60_000  # well within retention
            exported = h.span(trace=42, name="installed agent run", start_ms=a_minute_ago_ms)
            request = urllib.request.Request(
                base + "/v1/traces",
                data=h.body(exported, service="pip-svc"),
                method="POST",
                headers={"Content-Type": h.PROTOBUF},
            )
            assert urllib.request.urlopen(request, timeout=10).status == 200
            trace_id = h.trace_id(42).hex()

            # Access control is on, as installed: an operator makes an admin and signs in.
            subprocess.run([str(venv / "bin" / "msgtrace-server"), "createsuperuser", "--noinput", "--username", "ops",
                            "--email", "ops@example.com"], cwd=work, check=True, capture_output=True,
                           env={**env, "DJANGO_SUPERUSER_PASSWORD": "a long passphrase 1"})
            visitor = WebSession(base)
            assert visitor.get(f"/traces/{trace_id}").url.startswith(f"{base}/signin")
            visitor.sign_in("ops", "a long passphrase 1")
            trace = visitor.get_json(f"/api/v1/traces/{trace_id}")
            assert (trace["root_span_name"], trace["service_name"]) == ("installed agent run", "pip-svc")
            assert [span["name"] for span in trace["spans"]] == ["installed agent run"]

            page = visitor.get(f"/traces/{trace_id}").text
            assert "installed agent run" in page
            stylesheets = re.findall(r'href="(/static/[^"]+\.css)"', page)
            assert stylesheets, "the page links its stylesheets"
            status, content_type, css = get(base + stylesheets[0])
            assert status == 200 and content_type.startswith("text/css") and len(css) > 100

            deadline = time.monotonic() + 15
            while "retention: removing" not in log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert "retention: removing traces older than 30 days" in log_path.read_text()
        except BaseException:
            print(log_path.read_text(errors="replace"))
            raise
        finally:
            process.terminate()
            process.wait(timeout=30)

        # The data lies in the per-user data directory, none of it in the working directory or the venv.
        if "DATABASE_URL" not in db_env:
            assert (data_dir / "msgtrace.sqlite3").stat().st_size > 0
        assert (data_dir / "secret.key").stat().st_mode & 0o777 == 0o600
        assert (data_dir / "staticfiles" / "staticfiles.json").is_file()
        assert list(work.iterdir()) == []
        assert list(venv.rglob("*.sqlite3")) == []

        listing = subprocess.run([str(venv / "bin" / "msgtrace-server"), "traces", "list"], cwd=work, env=env,
                                 capture_output=True, text=True, check=True)
        assert trace_id in listing.stdout and "installed agent run" in listing.stdout
        assert listing.stdout.splitlines()[-1] == "1 trace"

    # Templates and static files come from the installed package, not from a checkout.
    python = venv / "bin" / "python"
    xdg = tmp_path / "xdg"
    values = settings_of(python, ["MSGTRACE_INSTALLED", "MSGTRACE_DB_PATH", "STATIC_ROOT", "BASE_DIR"], cwd=work,
                         env=clean_env(HOME=str(home), XDG_DATA_HOME=str(xdg)))
    site_packages = Path(values["BASE_DIR"]).parent
    assert values["MSGTRACE_INSTALLED"] == "True" and site_packages.is_relative_to(venv)
    assert values["MSGTRACE_DB_PATH"] == str(xdg / "msgtrace" / "msgtrace.sqlite3"), "XDG_DATA_HOME wins over HOME"
    assert values["STATIC_ROOT"] == str(xdg / "msgtrace" / "staticfiles")
    assert (site_packages / "msgtrace_server" / "templates" / "ui" / "trace_detail.html").is_file()
    assert (site_packages / "msgtrace_server" / "static" / "css" / "base.css").is_file()
    assert (site_packages / "msgtrace_server" / "deploy" / "gunicorn.conf.py").is_file()
    assert (site_packages / "traces" / "migrations" / "0001_initial.py").is_file()
