from django.urls import path

from conversations import ids, views  # noqa: F401  (ids registers the anytext converter)

# Ids are the client's own text: <anytext:> takes any of it, "/" and newlines included.
urlpatterns = [
    path("sessions", views.session_list, name="sessions"),
    path("sessions/<anytext:session_id>", views.session_detail, name="session"),
    path("users", views.user_list, name="users"),
    path("users/<anytext:user_id>", views.user_detail, name="user"),
]
