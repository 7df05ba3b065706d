"""Session and user ids in URLs: any text the client chose, newlines included."""

from django.urls import register_converter


class AnyText:
    """Django's `path` converter stops at a newline; an id is the client's own text and may hold one."""

    regex = "(?s:.+)"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(AnyText, "anytext")
