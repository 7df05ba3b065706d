"""The pages: /sessions, /sessions/<session_id>, /users and /users/<user_id>."""

from datetime import datetime, timezone

from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from conversations import listing
from conversations.forms import ListForm, PageForm, problems
from conversations.people import Person, UnknownUser
from conversations.turns import Conversation, UnknownSession
from traces.query_limits import QueryTimeout
from ui.links import SITE


def session_list(request):
    return _list(request, "sessions", listing.sessions)


def user_list(request):
    return _list(request, "users", listing.users)


def _list(request, name, rows):
    form = ListForm(request.GET)
    template = f"conversations/{name}.html"
    if not form.is_valid():
        return render(request, template, {"nav": name, "form": form, "problems": problems(form)}, status=400)
    here = reverse(name)
    data = form.cleaned_data
    now = datetime.now(timezone.utc)
    try:
        page = listing.listed(rows(listing.in_window(form.start(now), now), data["q"], data["sort"]), form.page_number)
    except QueryTimeout as timeout:
        return render(request, template, {"nav": name, "form": form, "problems": [f"{timeout}."]}, status=503)
    context = {
        "nav": name, "form": form, "page": page, "sorts": form.sorts(here), "windows": form.windows(here),
        "next_url": page.has_next and form.url(here, page=page.next_number),
        "previous_url": page.previous_number and form.url(here, page=page.previous_number),
    }
    partial = request.htmx and not request.htmx.history_restore_request
    response = render(request, f"{template}#results" if partial else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def session_detail(request, session_id):
    form = PageForm(request.GET)
    if not form.is_valid():
        return render(request, "conversations/session.html", {"nav": "sessions", "problems": problems(form)}, status=400)
    try:
        conversation = Conversation.load(session_id, form.page_number)
    except UnknownSession:
        return render(request, "conversations/not_found.html", {"nav": "sessions", "what": "session", "id": session_id},
                      status=404)
    context = {"nav": "sessions", "conversation": conversation, "traces_url": SITE.traces_with(session=session_id)}
    return render(request, "conversations/session.html", context)


def user_detail(request, user_id):
    form = PageForm(request.GET)
    if not form.is_valid():
        return render(request, "conversations/user.html", {"nav": "users", "problems": problems(form)}, status=400)
    try:
        person = Person.load(user_id, form.page_number)
    except UnknownUser:
        return render(request, "conversations/not_found.html", {"nav": "users", "what": "user", "id": user_id},
                      status=404)
    context = {"nav": "users", "person": person, "traces_url": SITE.traces_with(user=user_id)}
    return render(request, "conversations/user.html", context)
