"""A new user's whole visit, in a real Chromium against the real embedded service.

Sign up → enhance a real photo with ``anime_video`` → the slider shows both images at the
same size, the enhanced one at its true size → both downloads are the API's bytes → submit
a real video → its progress reaches 100 % and the result plays → every screen at phone size
→ delete both from the history → the history is empty.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.common.media.clips import make_clip
from tests.embedded import Service
from tests.image_samples import face_photo
from tests.web.conftest import (
    DESKTOP,
    PHONE,
    Account,
    OpenPage,
    Shoot,
    api_headers,
    assert_usable,
    new_account,
    sign_in,
    wait_until,
)

PHOTO_SIZE = (96, 96)  # the astronaut's head and shoulders
VIDEO_FRAMES, VIDEO_SIZE, VIDEO_SCALE = 36, (96, 64), 2
PERCENT_100 = re.compile(r"100\s%")  # "100 %" in Spanish, with a no-break space

_STAGE = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  const [before, after] = ['before', 'after'].map(
    (role) => document.querySelector(`[data-role=${role}]`));
  return {
    before: [before.naturalWidth, before.naturalHeight, ...box(before)],
    after: [after.naturalWidth, after.naturalHeight, ...box(after)],
    position: document.querySelector('[data-role=stage]').style.getPropertyValue('--pos'),
    clip: getComputedStyle(before).clipPath,
  };
}"""


def _downloaded(page: Page, link_name: str) -> tuple[str, bytes]:
    with page.expect_download() as started:
        page.get_by_role("link", name=link_name).click()
    download = started.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def _enhance_photo(page: Page, web: Service, shoot: Shoot, source: Path) -> str:
    page.set_input_files("#image-file", source)
    page.select_option("#image-model", "anime_video")
    expect(page.get_by_text("astronauta.png")).to_be_visible()
    assert_usable(page)
    shoot(page, "image")
    with page.expect_response(f"{web.url}/api/images/enhance") as answered:
        page.get_by_role("button", name="Mejorar foto").click()
    assert answered.value.status == 201
    image_id: str = answered.value.json()["image"]["id"]
    expect(page).to_have_url(re.compile(f"#/image/{image_id}$"))
    expect(page.locator("[data-role=result]")).to_be_visible()
    return image_id


def _check_compare(page: Page) -> None:
    width, height = PHOTO_SIZE
    stage = page.evaluate(_STAGE)
    assert stage["after"][:2] == [width * 4, height * 4]  # anime_video is a 4x model
    assert stage["before"][:2] == [width, height]
    assert stage["before"][2:] == stage["after"][2:]  # shown at the same size
    assert stage["after"][2] > 300
    assert stage["position"] == "50%" and "inset" in stage["clip"]
    slider = page.get_by_role("slider", name=re.compile("Comparar"))
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    assert page.evaluate(_STAGE)["position"] == "40%"
    box = page.locator("[data-role=stage]").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    expect(slider).to_have_value("25")
    zoom = page.get_by_role("button", name="Ver a 1:1")
    zoom.click()
    expect(page.get_by_role("button", name="Ajustar a la pantalla")).to_have_attribute(
        "aria-pressed", "true")
    assert page.evaluate(_STAGE)["after"][2:] == [width * 4, height * 4]  # 1:1
    page.get_by_role("button", name="Ajustar a la pantalla").click()


def _follow_video(page: Page, web: Service, source: Path) -> str:
    page.get_by_role("link", name="Vídeo", exact=True).click()
    page.set_input_files("#video-file", source)
    page.select_option("#video-model", "anime_video")
    page.select_option("#video-scale", str(VIDEO_SCALE))
    with page.expect_response(f"{web.url}/api/videos/enhance") as answered:
        page.get_by_role("button", name="Enviar vídeo").click()
    assert answered.value.status == 202
    video_id: str = answered.value.json()["video"]["id"]
    expect(page).to_have_url(re.compile(f"#/video/{video_id}$"))
    # The probe is shown at once, before any frame is processed.
    expect(page.locator("[data-role=probe]")).to_contain_text(str(VIDEO_FRAMES))
    expect(page.locator("[data-role=probe]")).to_contain_text("96×64")
    seen: list[float] = []
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        seen.append(page.evaluate("document.querySelector('[data-role=bar]').value"))
        if seen[-1] >= 100:
            break
        time.sleep(0.1)
    assert seen[-1] == 100, seen[-20:]
    assert seen == sorted(seen)  # it only ever moves forward
    expect(page.locator("[data-role=frames]")).to_have_text(
        re.compile(f"^{VIDEO_FRAMES} de {VIDEO_FRAMES} fotogramas · 100\\s%$"))
    expect(page.locator("[data-role=status]")).to_have_text("Completado")
    wait_until(page, "() => document.querySelector('[data-role=video]').readyState >= 2")
    # The page heard it too (its "loading" line is gone): the first frame is on screen.
    expect(page.locator("[data-role=player-status]")).to_be_empty()
    played = page.evaluate("""() => { const v = document.querySelector('[data-role=video]');
        return [v.videoWidth, v.videoHeight, v.duration, v.error]; }""")
    assert played[:2] == [VIDEO_SIZE[0] * VIDEO_SCALE, VIDEO_SIZE[1] * VIDEO_SCALE]
    assert played[2] > 1.0 and played[3] is None
    return video_id


def _phone_screens(open_page: OpenPage, web: Service, shoot: Shoot, account: Account,
                   image_id: str, video_id: str, photo_file: Path) -> None:
    """Every screen at phone size, usable there (labelled, no sideways scrolling)."""
    page, _ = open_page(PHONE)
    page.goto(f"{web.url}/")
    expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    assert_usable(page)
    shoot(page, "login")
    page.get_by_role("link", name="Crear una cuenta").click()
    expect(page.get_by_role("heading", name="Crear cuenta")).to_be_visible()
    assert_usable(page)
    shoot(page, "register")
    sign_in(page, web, account)
    page.set_input_files("#image-file", photo_file)
    expect(page.locator("[data-role=preview]")).to_be_visible()
    screens = {  # route: (screen name, heading, what shows it is ready)
        "image": ("image", "Mejorar una foto", None),
        f"image/{image_id}": ("compare", "Resultado", "[data-role=result]"),
        "video": ("video", "Mejorar un vídeo", None),
        f"video/{video_id}": ("video-job", "clip.mp4", "[data-role=video]"),
        "history/images": ("history-images", "Historial", ".item"),
        "history/videos": ("history-videos", "Historial", ".item"),
    }
    for route, (screen, heading, ready) in screens.items():
        if route != "image":
            page.goto(f"{web.url}/#/{route}")
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        if ready:
            expect(page.locator(ready).first).to_be_visible()
        assert_usable(page)
        shoot(page, screen)


def _delete_from_history(page: Page, kind: str, name: str, empty: str) -> None:
    page.get_by_role("link", name=kind, exact=True).click()
    expect(page.locator(".item")).to_have_count(1)
    page.get_by_role("button", name=f"Eliminar: {name}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(name)
    dialog.get_by_role("button", name="Sí, eliminar").click()
    expect(page.get_by_text(empty)).to_be_visible()
    expect(page.locator(".item")).to_have_count(0)


@pytest.mark.timeout(280)
def test_a_new_user_enhances_a_photo_and_a_video_then_clears_the_history(
        web: Service, open_page: OpenPage, shoot: Shoot, tmp_path: Path) -> None:
    photo_file = tmp_path / "astronauta.png"
    photo_file.write_bytes(face_photo(PHOTO_SIZE[0]))
    clip = make_clip(tmp_path / "clip.mp4", frames=VIDEO_FRAMES, size=VIDEO_SIZE)
    account = new_account()
    page, watch = open_page(DESKTOP)
    streams: list[tuple[str, int, str]] = []  # the page follows the video over its events
    page.on("response", lambda r: streams.append(
        (r.url, r.status, r.headers.get("content-type", ""))) if "/events" in r.url else None)

    page.goto(f"{web.url}/")
    expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    assert_usable(page)
    shoot(page, "login")
    page.get_by_role("link", name="Crear una cuenta").click()
    page.get_by_label("Nombre de usuario").fill(account.username)
    page.get_by_label("Correo electrónico").fill(account.email)
    page.get_by_label("Contraseña").fill(account.password)
    assert_usable(page)
    shoot(page, "register")
    page.get_by_label("Contraseña").press("Enter")
    expect(page.get_by_role("heading", name="Mejorar una foto")).to_be_visible()
    expect(page.locator("#account-name")).to_have_text(account.username)

    image_id = _enhance_photo(page, web, shoot, photo_file)
    assert_usable(page)
    shoot(page, "compare")
    _check_compare(page)
    headers = api_headers(web, account)
    with httpx.Client(base_url=web.url, headers=headers, timeout=60) as api:
        enhanced = api.get(f"/api/images/{image_id}/enhanced")
        assert enhanced.status_code == 200
        assert _downloaded(page, "Descargar mejorada") == (
            "astronauta_mejorado.png", enhanced.content)
        assert _downloaded(page, "Descargar original") == (
            "astronauta.png", photo_file.read_bytes())

        page.get_by_role("link", name="Vídeo", exact=True).click()
        expect(page.get_by_role("heading", name="Mejorar un vídeo")).to_be_visible()
        assert_usable(page)
        shoot(page, "video")
        video_id = _follow_video(page, web, clip)
        assert [(url.split("?")[0], status, kind.split(";")[0]) for url, status, kind in
                streams][:1] == [(f"{web.url}/api/videos/{video_id}/events", 200,
                                  "text/event-stream")], streams
        assert_usable(page)
        shoot(page, "video-job")
        result = api.get(f"/api/videos/{video_id}/enhanced")
        assert result.status_code == 200
        assert _downloaded(page, "Descargar vídeo mejorado (MKV)") == (
            "clip_mejorado.mkv", result.content)

        _phone_screens(open_page, web, shoot, account, image_id, video_id, photo_file)

        page.get_by_role("link", name="Historial").click()
        expect(page.get_by_role("img", name="Miniatura de astronauta.png")).to_be_visible()
        thumb = "() => document.querySelector('.item-thumb img').naturalWidth"
        assert wait_until(page, thumb) == 96
        assert_usable(page)
        shoot(page, "history-images")
        status = page.get_by_label("Estado")
        status.select_option("failed")
        expect(page.get_by_text("Todavía no hay fotos aquí.")).to_be_visible()
        status.select_option("completed")
        expect(page.locator(".item")).to_have_count(1)
        _delete_from_history(page, "Fotos", "astronauta.png", "Todavía no hay fotos aquí.")
        page.get_by_role("link", name="Vídeos", exact=True).click()
        expect(page.locator(".item")).to_have_count(1)
        shoot(page, "history-videos")
        _delete_from_history(page, "Vídeos", "clip.mp4", "Todavía no hay vídeos aquí.")
        shoot(page, "history-empty")
        assert api.get("/api/images").json()["total"] == 0
        assert api.get("/api/videos").json()["total"] == 0

    refresh_token = page.evaluate("JSON.parse(sessionStorage.getItem('enhancer.session')).refresh")
    page.get_by_role("button", name="Salir").click()
    expect(page.get_by_role("status").filter(has_text="Has cerrado la sesión.")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    # The session is over on the server too, not just forgotten by the page.
    assert httpx.post(f"{web.url}/api/auth/refresh", json={"refresh_token": refresh_token},
                      timeout=30).status_code == 401
    watch.assert_clean()
