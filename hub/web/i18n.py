"""The two languages of the pages people read: Simplified Chinese and English.

Source strings are English; ``translations/zh/LC_MESSAGES/messages.po`` holds the
Chinese, compiled to ``messages.mo`` beside it (see docs/rider-page.md for updating
them). The language comes from ``?lang=zh|en`` (remembered in a cookie), else that
cookie, else the browser's ``Accept-Language``; Chinese when none of them says.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_babel import Babel, get_locale

#: Language codes the pages speak, with the tag for ``<html lang>``.
LANGUAGES = {"zh": "zh-CN", "en": "en"}
DEFAULT_LANGUAGE = "zh"
COOKIE = "last100_lang"
_COOKIE_AGE_S = 365 * 24 * 3600

babel = Babel()


def select_language() -> str:
    asked = request.args.get("lang") or request.cookies.get(COOKIE)
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LANGUAGE)


def language() -> str:
    """The language of the current request: ``"zh"`` or ``"en"``."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT_LANGUAGE


def _remember(response: Response) -> Response:
    asked = request.args.get("lang")
    if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
        response.set_cookie(
            COOKIE, asked, max_age=_COOKIE_AGE_S, samesite="Lax", httponly=True, secure=request.is_secure
        )
    return response


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_language, default_locale=DEFAULT_LANGUAGE)
    app.after_request(_remember)
    app.jinja_env.globals.update(language=language, html_lang=lambda: LANGUAGES[language()])
