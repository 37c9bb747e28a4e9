"""HTML pages: the login form and the live page shell.

The templates live in ``static/pages/`` but are *not* served by the static mount; they are
read once at start. The live page is a static shell: its data comes only through the
authenticated websocket, so the HTML itself holds nothing sensitive. Every value put into a
template is HTML-escaped; there are no inline scripts (the CSP forbids them).
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from starlette.responses import HTMLResponse, Response

PAGES_DIR = Path(__file__).resolve().parent / "static" / "pages"

LOGIN_ERRORS = {
    "invalid": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password."),
    "throttled": (
        "Quá nhiều lần thử. Vui lòng thử lại sau {s} giây.",
        "Too many attempts. Try again in {s} s.",
    ),
    "missing": ("Vui lòng nhập tên đăng nhập và mật khẩu.", "Enter a user name and a password."),
    "forbidden": (
        "Tài khoản không có quyền xem trang này.",
        "This account may not view that page.",
    ),
}


class Pages:
    def __init__(self, folder: Path = PAGES_DIR) -> None:
        self._login = Template((folder / "login.html").read_text(encoding="utf-8"))
        self._live = (folder / "live.html").read_text(encoding="utf-8")

    def live(self) -> Response:
        return HTMLResponse(self._live, headers={"Cache-Control": "no-store"})

    def login(
        self,
        *,
        next_path: str = "/",
        username: str = "",
        problem: str | None = None,
        retry_after: int | None = None,
        status: int = 200,
    ) -> Response:
        message = ""
        if problem is not None:
            vi, en = LOGIN_ERRORS[problem]
            seconds = str(retry_after or 0)
            message = (
                f'<p class="login-error" role="alert">{html.escape(vi.format(s=seconds))}'
                f'<br><span class="en">{html.escape(en.format(s=seconds))}</span></p>'
            )
        body = self._login.substitute(
            error=message,
            next=html.escape(next_path, quote=True),
            username=html.escape(username, quote=True),
        )
        headers = {"Cache-Control": "no-store"}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return HTMLResponse(body, status_code=status, headers=headers)
