from django.urls import path

from saved_views import views

urlpatterns = [
    path("traces/views", views.save_view, name="saved-view-save"),
    path("traces/views/<int:view_id>/rename", views.rename_view, name="saved-view-rename"),
    path("traces/views/<int:view_id>/delete", views.delete_view, name="saved-view-delete"),
]
