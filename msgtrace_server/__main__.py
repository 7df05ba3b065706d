"""`msgtrace-server`, the command an installed msgtrace gives (pyproject.toml), and `python -m
msgtrace_server`: every management command, as `manage.py` runs them in a checkout.

    msgtrace-server start --port 4321    # migrations, static files, then gunicorn
    msgtrace-server traces list
    msgtrace-server createsuperuser
"""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "msgtrace_server.settings")
    from django.core.management import execute_from_command_line

    # Django names the program after argv[0]: "__main__.py" under `python -m` would read badly in --help.
    execute_from_command_line(["msgtrace-server", *sys.argv[1:]])


if __name__ == "__main__":
    main()
