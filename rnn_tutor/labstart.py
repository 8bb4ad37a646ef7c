"""The start page of ``rnn-tutor lab``: a notebook open, the file browser at the course root.

JupyterLab's ``/lab/tree/<path>`` opens a notebook and moves the file browser to the
notebook's folder, unless the URL also says ``?file-browser-path=/``.  That query cannot
go in ``default_url`` itself: the server prints ``<default_url>?token=...`` for the learner
to copy, and a second ``?`` would break the token.  So the launcher's ``default_url`` is
``/rnn-tutor/open/<path>`` (no query), served here by a redirect to
``/lab/tree/<path>?file-browser-path=/`` that keeps the request's own query (the token).

Loaded by the server through ``--ServerApp.extra_services=rnn_tutor.labstart``, which
reads :data:`default_handlers`.  The redirect reveals nothing and runs nothing, so it needs
no login (like jupyter_server's own redirect from ``/``); the page it leads to does.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.utils import url_escape, url_path_join
from tornado import web

from rnn_tutor.lab import START_PREFIX

__all__ = ["OPEN_PREFIX", "OpenAtCourseRoot", "default_handlers", "lab_url"]

#: URL path (below the server's base_url) whose rest is the notebook to open.
OPEN_PREFIX = START_PREFIX

#: The query that makes JupyterLab show the served root in its file browser.
BROWSER_AT_ROOT = "file-browser-path=/"


def lab_url(base_url: str, path: str, query: str = "") -> str:
    """``<base_url>lab/tree/<path>?file-browser-path=/`` followed by ``query`` (if any)."""
    target = url_path_join(base_url or "/", "lab/tree", url_escape(path))
    return f"{target}?{BROWSER_AT_ROOT}" + (f"&{query}" if query else "")


class OpenAtCourseRoot(web.RequestHandler):
    """``GET /rnn-tutor/open/<path>?q`` -> 302 to ``/lab/tree/<path>?file-browser-path=/&q``."""

    @allow_unauthenticated
    def get(self, path: str) -> None:
        self.redirect(lab_url(self.settings.get("base_url", "/"), path, self.request.query), permanent=False)


default_handlers = [(OPEN_PREFIX + "(.*)", OpenAtCourseRoot)]
