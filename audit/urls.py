from django.urls import path

from audit.views import audit_log

urlpatterns = [
    path("settings/audit", audit_log, name="audit"),
]
