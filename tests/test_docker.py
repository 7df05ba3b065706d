"""The Docker image builds and answers /health from a container (needs a Docker daemon)."""

import json
import shutil
import subprocess
import time
import urllib.request
import uuid

import pytest

from tests import servers


def docker_daemon():
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return "no Docker daemon answers on this machine (docker info: " + probe.stderr.strip().splitlines()[-1] + ")"
    return None


reason = docker_daemon()


@pytest.mark.skipif(reason is not None, reason=f"Docker image not built: {reason}")
def test_image_builds_and_the_container_answers_health():
    tag = f"msgtrace-test:{uuid.uuid4().hex[:8]}"
    name = f"msgtrace-test-{uuid.uuid4().hex[:8]}"
    port = servers.free_port()
    subprocess.run(["docker", "build", "-t", tag, "."], cwd=servers.ROOT, check=True, timeout=1800)
    try:
        subprocess.run(["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:4321", tag], check=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                    health = json.load(response)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        assert health == {"status": "ok", "database": {"vendor": "sqlite", "ok": True}}
        user = subprocess.run(["docker", "exec", name, "id", "-u"], capture_output=True, text=True, check=True)
        assert user.stdout.strip() != "0", "the container runs as a non-root user"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
