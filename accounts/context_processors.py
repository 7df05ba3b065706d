from accounts.access import caller_of
from accounts.roles import READ


def access(request):
    """`show_nav`: whether the page may show the navigation (not to anonymous visitors of the sign-in
    page or of a share link, for whom every other page is closed)."""
    try:
        return {"show_nav": caller_of(request).may(READ)}
    except Exception:  # an unavailable database: the 503 page shows no navigation either
        return {"show_nav": False}
