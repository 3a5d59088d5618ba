"""What people see when something goes wrong, and the session's quiet upkeep, in Chromium.

A wrong password and a GIF are refused in the manual's words and the page keeps working;
an access token that expired, or one the server refuses, is replaced through
``/api/auth/refresh`` without the user noticing; models the service reports as unavailable
can't be chosen; the enhance form can be used with the keyboard alone.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from playwright.sync_api import Page, Route, expect

from tests.common.media.clips import make_clip
from tests.embedded import Service
from tests.image_samples import gif, photo
from tests.web.conftest import (
    DESKTOP,
    OpenPage,
    Shoot,
    api_headers,
    jwt_key,
    new_account,
    register,
    sign_in,
    signed_in_page,
)

SESSION_KEY = "enhancer.session"


def _stored_session(page: Page) -> dict[str, Any]:
    return dict(page.evaluate(f"JSON.parse(sessionStorage.getItem('{SESSION_KEY}'))"))


def _store_access_token(page: Page, token: str) -> None:
    page.evaluate("""([key, token]) => {
        const state = JSON.parse(sessionStorage.getItem(key));
        sessionStorage.setItem(key, JSON.stringify({ ...state, access: token }));
    }""", [SESSION_KEY, token])


def test_a_wrong_password_shows_the_manuals_message_and_the_right_one_still_works(
        web: Service, open_page: OpenPage, shoot: Shoot) -> None:
    account = new_account()
    register(web, account)
    page, watch = open_page(DESKTOP)
    watch.allow(401, "/api/auth/login")
    page.goto(f"{web.url}/")
    # Keyboard only: the email field has the focus, Tab moves on, Enter submits.
    expect(page.get_by_label("Correo electrónico")).to_be_focused()
    page.keyboard.type(account.email)
    page.keyboard.press("Tab")
    page.keyboard.type("not-the-password")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Credenciales inválidas")
    shoot(page, "login-error")
    page.get_by_label("Contraseña").fill(account.password)
    page.get_by_label("Contraseña").press("Enter")
    expect(page.get_by_role("heading", name="Mejorar una foto")).to_be_visible()
    watch.assert_clean()


def test_a_gif_is_refused_in_words_and_the_form_keeps_working(
        web: Service, open_page: OpenPage, shoot: Shoot, tmp_path: Path) -> None:
    page, watch, _account = signed_in_page(open_page, web)
    watch.allow(400, "/api/images/enhance")
    animation = tmp_path / "animacion.gif"
    animation.write_bytes(gif())
    page.set_input_files("#image-file", animation)
    page.select_option("#image-model", "anime_video")
    page.get_by_role("button", name="Mejorar foto").click()
    expect(page.get_by_role("alert")).to_have_text("Formato no soportado: gif")
    shoot(page, "image-error")
    submit = page.get_by_role("button", name="Mejorar foto")
    expect(submit).to_be_enabled()
    picture = tmp_path / "foto.png"
    picture.write_bytes(photo(64, 48))
    page.set_input_files("#image-file", picture)
    expect(page.get_by_role("alert")).to_be_hidden()
    # An exact width alone: the height follows the aspect ratio.
    page.get_by_text("Tamaño exacto").click()
    page.get_by_label("Ancho (px)").fill("100")
    submit.click()
    expect(page.locator("[data-role=result]")).to_be_visible()
    natural = "() => [document.querySelector('[data-role=after]').naturalWidth, " \
              "document.querySelector('[data-role=after]').naturalHeight]"
    assert page.evaluate(natural) == [100, 75]
    watch.assert_clean()


def test_a_running_video_can_be_cancelled(
        web: Service, open_page: OpenPage, tmp_path: Path) -> None:
    page, watch, account = signed_in_page(open_page, web)
    watch.allow(404, "/events")
    page.get_by_role("link", name="Vídeo", exact=True).click()
    # Long enough (on this CPU, tens of seconds) to be cancelled while it runs.
    page.set_input_files("#video-file", make_clip(tmp_path / "largo.mp4", frames=240,
                                                 size=(160, 120)))
    with page.expect_response(f"{web.url}/api/videos/enhance") as answered:
        page.get_by_role("button", name="Enviar vídeo").click()
    video_id = answered.value.json()["video"]["id"]
    page.get_by_role("button", name="Cancelar y eliminar").click()
    page.get_by_role("dialog").get_by_role("button", name="Sí, eliminar").click()
    cancelled = page.get_by_role("status").filter(has_text="Vídeo cancelado y eliminado.")
    expect(cancelled).to_be_visible()
    expect(page.get_by_text("Todavía no hay vídeos aquí.")).to_be_visible()
    gone = httpx.get(f"{web.url}/api/videos/{video_id}", headers=api_headers(web, account),
                     timeout=30)
    assert gone.status_code == 404
    watch.assert_clean()


def test_an_expired_access_token_is_refreshed_silently(
        web: Service, open_page: OpenPage) -> None:
    page, watch, _account = signed_in_page(open_page, web)
    refreshes: list[int] = []
    page.on("response", lambda r: refreshes.append(r.status)
            if r.url.endswith("/api/auth/refresh") else None)
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status)
            if "/api/images?" in r.url else None)
    key = jwt_key(web)
    first = _stored_session(page)
    claims = jwt.decode(first["access"], key, algorithms=["HS256"],
                        options={"verify_aud": False})
    now = int(time.time())

    # 1. A real token of this session, signed by the service, that expired a minute ago:
    # replaced before it is used (no request is sent with it).
    expired = jwt.encode({**claims, "iat": now - 3600, "exp": now - 60}, key, algorithm="HS256")
    page.goto(f"{web.url}/#/history")
    expect(page.get_by_text("Todavía no hay fotos aquí.")).to_be_visible()
    statuses.clear()
    _store_access_token(page, expired)
    page.reload()
    expect(page.get_by_text("Todavía no hay fotos aquí.")).to_be_visible()
    expect(page.get_by_role("heading", name="Iniciar sesión")).to_have_count(0)
    assert refreshes == [200]
    assert statuses == [200]
    second = _stored_session(page)
    assert second["refresh"] != first["refresh"]  # rotated
    assert jwt.decode(second["access"], key, algorithms=["HS256"],
                      options={"verify_aud": False})["exp"] > now

    # 2. A token that looks fine to the page but the server refuses: 401, refresh, retry.
    watch.allow(401, "/api/images")
    statuses.clear()
    forged = jwt.encode({**claims, "iat": now, "exp": now + 3600}, "x" * 64, algorithm="HS256")
    _store_access_token(page, forged)
    page.reload()
    expect(page.get_by_text("Todavía no hay fotos aquí.")).to_be_visible()
    assert statuses == [401, 200]
    assert refreshes == [200, 200]
    assert _stored_session(page)["refresh"] != second["refresh"]

    # 3. A session the server ended (its refresh token revoked): back to sign in, in words.
    _store_access_token(page, forged)
    page.evaluate("""(key) => { const state = JSON.parse(sessionStorage.getItem(key));
        sessionStorage.setItem(key, JSON.stringify({ ...state, refresh: 'revoked' })); }""",
                  SESSION_KEY)
    watch.allow(401, "/api/auth/refresh")
    page.reload()
    expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="sesión ha caducado")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{SESSION_KEY}')") is None
    watch.assert_clean()


def test_models_the_service_reports_unavailable_cannot_be_chosen(
        web: Service, open_page: OpenPage) -> None:
    """``available``/``weights`` (added to ``GET /api/models`` by a later change): the real
    answer with those fields set is what the page gets; absent fields mean available."""
    account = new_account()
    register(web, account)
    page, watch = open_page(DESKTOP)

    def with_availability(route: Route) -> None:
        real = route.fetch()
        body = real.json()
        for model in body["models"]:
            if model["id"] == "general_x4":
                model.update(available=False, weights="missing")
            if model["id"] == "general_v3":
                model.update(available=True, weights="downloads on first use")
        route.fulfill(response=real, body=json.dumps(body))

    page.route("**/api/models", with_availability)
    sign_in(page, web, account)
    model = page.get_by_label("Modelo")
    expect(model.locator("option[value=general_x4]")).to_be_disabled()
    expect(model.locator("option[value=general_x4]")).to_have_text("general_x4 (no disponible)")
    expect(model.locator("option[value=general_v3]")).to_have_text(
        "general_v3 (se descarga al primer uso)")
    expect(model.locator("option[value=anime]")).to_be_enabled()
    assert model.input_value() != "general_x4"  # the default moved to one that works
    watch.assert_clean()


@pytest.mark.parametrize("screen", ["image", "video"])
def test_the_forms_can_be_used_with_the_keyboard_alone(
        web: Service, open_page: OpenPage, screen: str) -> None:
    page, watch, _account = signed_in_page(open_page, web)
    page.goto(f"{web.url}/#/{screen}")
    expect(page.locator("[data-role=model-hint]")).not_to_be_empty()
    reached: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("""() => { const e = document.activeElement;
            return e.id || e.getAttribute('name') || `${e.tagName}:${e.textContent.trim()}`; }"""))
    wanted = {f"{screen}-file", f"{screen}-model", f"{screen}-scale", f"{screen}-face",
              "BUTTON:" + ("Mejorar foto" if screen == "image" else "Enviar vídeo"), "logout"}
    if screen == "image":
        wanted |= {"image-format", "size_mode"}
    assert wanted <= set(reached), sorted(wanted - set(reached))
    watch.assert_clean()
