from django.urls import path

from alerts import views

urlpatterns = [
    path("alerts", views.rules, name="alerts"),
    path("alerts/new", views.rule_new, name="alert-new"),
    path("alerts/targets", views.targets, name="alert-targets"),
    path("alerts/targets/<int:target_id>/edit", views.target_edit, name="alert-target-edit"),
    path("alerts/targets/<int:target_id>/test", views.target_test, name="alert-target-test"),
    path("alerts/targets/<int:target_id>/delete", views.target_delete, name="alert-target-delete"),
    path("alerts/<int:rule_id>", views.rule_detail, name="alert"),
    path("alerts/<int:rule_id>/edit", views.rule_edit, name="alert-edit"),
    path("alerts/<int:rule_id>/mute", views.rule_mute, name="alert-mute"),
    path("alerts/<int:rule_id>/delete", views.rule_delete, name="alert-delete"),
]
