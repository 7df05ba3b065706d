from django.urls import path

from conversations import views

# Ids are the client's own text: <path:> takes any of it, "/" included (sent as %2F or as it is).
urlpatterns = [
    path("sessions", views.session_list, name="sessions"),
    path("sessions/<path:session_id>", views.session_detail, name="session"),
    path("users", views.user_list, name="users"),
    path("users/<path:user_id>", views.user_detail, name="user"),
]
