from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.access import caller_of
from accounts.roles import ADMIN, WRITE
from traces.timeframe import WINDOWS

NAME_LENGTH = 100
HISTORY_KEPT = 20  # searches remembered per user
# Longer queries are run but not remembered: the (user, q) unique index has to fit a PostgreSQL btree entry.
HISTORY_QUERY_LENGTH = 500
# What a view filters that the dashboard's figures can follow; its status, durations and sort are the list's.
DASHBOARD_FILTERS = ["q", "service", "workflow", "model"]


class SavedViewQuerySet(models.QuerySet):
    def visible_to(self, caller):
        """The caller's own views and every shared one; callers without a user (API keys, access control
        off) see the shared ones, which is every view saved without an owner."""
        if caller.user is None:
            return self.filter(shared=True)
        return self.filter(Q(owner=caller.user) | Q(shared=True))

    def named_in(self, request):
        """The view the request's ?view= names, if the caller may see it."""
        view_id = request.GET.get("view", "")
        return self.visible_to(caller_of(request)).filter(pk=view_id).first() if view_id.isdigit() else None

    def by_name(self):
        return self.select_related("owner").order_by("name", "id")


class SavedView(models.Model):
    name = models.CharField(max_length=NAME_LENGTH)
    # None: saved by an API key or while access control was off. Such a view belongs to the team: it is shared.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="saved_views")
    shared = models.BooleanField(default=False)
    # The trace list's parameters as saved_views.parameters.normalized() keeps them: {"service": "api", ...}.
    params = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SavedViewQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["owner", "name"], name="saved_view_owner_name"),  # "My views"
            models.Index(fields=["shared", "name"], name="saved_view_shared_name"),  # "Shared views"
        ]

    def __str__(self):
        return self.name

    def may_change(self, caller):
        """Renaming, sharing and deleting: the owner, an admin, or for a view without an owner anyone who may write."""
        if not caller.may(WRITE):
            return False
        if caller.may(ADMIN) and caller.user is not None:
            return True
        return self.owner_id is None or (caller.user is not None and self.owner_id == caller.user.pk)

    def is_mine(self, caller):
        return caller.user is not None and self.owner_id == caller.user.pk

    @property
    def owner_name(self):
        return self.owner.get_username() if self.owner_id else None

    def dashboard_filters(self):
        """The view's filters that the dashboard applies: TraceQuerySet.search() keyword arguments."""
        return {name: self.params[name] for name in DASHBOARD_FILTERS if self.params.get(name)}

    @property
    def dashboard_window(self):
        """The dashboard window the view's "since" names, if it is one of them (24h is; 2h or a date is not)."""
        start = self.params.get("start")
        return start if start in WINDOWS else None

    @property
    def url(self):
        from saved_views.parameters import list_url

        return list_url(self.params)


class RecentSearchQuerySet(models.QuerySet):
    def of(self, user):
        return self.filter(user=user).order_by("-searched_at", "-id")

    def record(self, user, q):
        """Remembers that `user` ran the search `q` now: one row per distinct query, the newest HISTORY_KEPT kept."""
        q = q.strip()
        if not q or len(q) > HISTORY_QUERY_LENGTH:
            return
        with transaction.atomic():
            self.update_or_create(user=user, q=q, defaults={"searched_at": timezone.now()})
            older = list(self.of(user).values_list("pk", flat=True)[HISTORY_KEPT:])
            if older:
                self.filter(pk__in=older).delete()


class RecentSearch(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recent_searches")
    q = models.CharField(max_length=HISTORY_QUERY_LENGTH)
    searched_at = models.DateTimeField(default=timezone.now)

    objects = RecentSearchQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "q"], name="recent_search_once_per_user")]
        indexes = [
            models.Index(fields=["user", "-searched_at"], name="recent_search_newest"),  # the search box's list
        ]
