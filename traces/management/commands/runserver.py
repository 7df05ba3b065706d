"""`manage.py runserver` on msgtrace's own address (MSGTRACE_HOST:MSGTRACE_PORT, 127.0.0.1:4321 by
default), where OTLP exporters configured for msgtrace will look for it."""

from django.conf import settings
from whitenoise.runserver_nostatic.management.commands.runserver import Command as RunserverCommand


class Command(RunserverCommand):
    default_addr = settings.MSGTRACE_HOST
    default_port = str(settings.MSGTRACE_PORT)
