"""Sign-in, CSRF, lockout, roles, session expiry, cookie flags and security headers."""

from __future__ import annotations

import stat
import time
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from agent_ui.app import create_app
from agent_ui.console import auth_session as session_module
from agent_ui.console.auth_session import IDLE_SECONDS
from agent_ui.console.secret import session_secret
from config.settings import Settings
from ticketing.container import Services

from .conftest import PASSWORD, csrf_from, sign_in


def test_login_page_is_thai_with_csrf_field(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "เข้าสู่ระบบ" in page.text
    assert 'name="csrf_token"' in page.text
    assert '<label for="username">' in page.text


def test_pages_redirect_to_login_keeping_the_target(client: TestClient) -> None:
    response = client.get("/tickets/680000011", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Ftickets%2F680000011"


def test_agent_signs_in_and_lands_on_the_target(client: TestClient) -> None:
    page = client.get("/login?next=/console")
    token = csrf_from(page.text)
    response = client.post(
        "/login",
        data={"username": "somchai", "password": PASSWORD, "csrf_token": token, "next": "/console"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()
    console = client.get("/console")
    assert console.status_code == 200
    assert "ร่างรอรับเรื่อง" in console.text


def test_open_redirects_are_refused(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": "somchai",
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/console"


def test_login_without_csrf_token_is_403(client: TestClient) -> None:
    client.get("/login")
    response = client.post(
        "/login", data={"username": "somchai", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "แบบฟอร์มหมดอายุ" in response.text
    assert client.get("/console", follow_redirects=False).status_code == 303  # not signed in


def test_wrong_password_then_lockout_message(client: TestClient) -> None:
    token = csrf_from(client.get("/login").text)
    messages = []
    for _ in range(5):
        response = client.post(
            "/login", data={"username": "malee", "password": "wrong-password", "csrf_token": token}
        )
        assert response.status_code == 401
        messages.append(response.text)
    assert "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง" in messages[0]
    assert "ถูกล็อกชั่วคราว" in messages[-1]
    # Even the right password is refused while locked.
    response = client.post(
        "/login", data={"username": "malee", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 401
    assert "ถูกล็อกชั่วคราว" in response.text


def test_api_write_without_csrf_header_is_403(client: TestClient) -> None:
    token = sign_in(client, "somchai")
    created = client.post(
        "/api/v1/tickets", json={"description": "ไฟถนนดับ"}, headers={"X-CSRF-Token": token}
    )
    assert created.status_code == 201
    reference = created.json()["reference"]
    response = client.patch(f"/api/v1/tickets/{reference}", json={"description": "แก้"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    claim = client.post(f"/console/api/tickets/{reference}/claim")
    assert claim.status_code == 403


def test_roles_without_rights_get_403(client: TestClient) -> None:
    sign_in(client, "somchai")
    assert client.get("/dashboard").status_code == 403
    assert client.get("/admin/users").status_code == 403
    assert client.get("/console/api/dashboard").status_code == 403
    assert client.get("/dashboard/export.csv").status_code == 403
    client.cookies.clear()
    sign_in(client, "root")
    assert client.get("/console").status_code == 403
    assert client.get("/admin/users").status_code == 200


def test_idle_session_expires_and_says_so(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(client, "somchai")
    assert client.get("/console").status_code == 200
    # Move only the expiry middleware's clock (the cookie signer keeps real time).
    later = time.time() + IDLE_SECONDS + 5
    monkeypatch.setattr(session_module, "time", SimpleNamespace(time=lambda: later))
    response = client.get("/console", follow_redirects=False)
    monkeypatch.undo()
    assert response.status_code == 303
    login = client.get(response.headers["location"])
    assert "หมดเวลาการใช้งาน" in login.text
    assert client.get("/console/api/queue").status_code == 401


def test_logout_needs_csrf_and_ends_the_session(client: TestClient) -> None:
    token = sign_in(client, "somchai")
    assert client.post("/logout", data={}).status_code == 403
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_security_headers_forbid_inline_script(client: TestClient) -> None:
    response = client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in response.text  # no inline script anywhere


def test_secure_cookie_flag_when_configured(settings: Settings, services: Services) -> None:
    secure = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        cookie_secure=True,
    )
    with TestClient(create_app(secure, services), base_url="https://testserver") as client:
        page = client.get("/login")
        assert "secure" in page.headers["set-cookie"].lower()


def test_generated_secret_is_persisted_private_and_stable(settings: Settings) -> None:
    first = session_secret(settings)
    path = settings.data_dir / "secret_key"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session_secret(settings) == first
    assert len(first) >= 40


def test_sessions_survive_a_restart(settings: Settings, services: Services) -> None:
    with TestClient(create_app(settings, services)) as one:
        sign_in(one, "somchai")
        cookies = dict(one.cookies)
    with TestClient(create_app(settings, services), cookies=cookies) as two:
        assert two.get("/console").status_code == 200


def test_admin_manages_users(client: TestClient, services: Services) -> None:
    token = sign_in(client, "root")
    bad = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "new", "role": "agent", "password": "short"},
    )
    assert bad.status_code == 422 and "อย่างน้อย 8" in bad.text
    added = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "noi",
            "display_name": "น้อย",
            "role": "agent",
            "provinces": "เชียงใหม่, 10",
            "password": "long-enough-1",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    noi = next(u for u in services.users.list_users() if u["username"] == "noi")
    assert noi["provinces"] == ["50", "10"]
    changed = client.post(
        "/admin/users/noi",
        data={"csrf_token": token, "role": "supervisor", "provinces": "", "display_name": "น้อย"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    noi = next(u for u in services.users.list_users() if u["username"] == "noi")
    assert noi["role"] == "supervisor" and noi["active"] is False and noi["provinces"] == []
    no_csrf = client.post("/admin/users/noi", data={"role": "admin", "active": "on"})
    assert no_csrf.status_code == 403
    page = client.get("/admin/users")
    assert "ปิดใช้งาน" in page.text
