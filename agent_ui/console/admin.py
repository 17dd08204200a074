"""The admin's user page: add users, change role and provinces, disable, reset passwords."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from agent_ui.console.auth_session import CSRF_FIELD, csrf_ok
from agent_ui.console.pages import Pages
from ticketing.container import Services
from ticketing.errors import Conflict, InvalidInput, NotFound
from ticketing.models import Role

log = logging.getLogger(__name__)

FIELD_TH = {
    "username": "ชื่อผู้ใช้ต้องเป็นตัวอักษรอังกฤษ ตัวเลข หรือ . _ - ไม่เกิน 64 ตัว",
    "password": "รหัสผ่านต้องยาวอย่างน้อย 8 ตัวอักษร ไม่ซ้ำกับชื่อผู้ใช้ และไม่ใช่รหัสผ่านที่ใช้กันบ่อย",
    "role": "บทบาทไม่ถูกต้อง",
}


class ProvinceError(ValueError):
    pass


def parse_provinces(text: str, provinces: dict[str, str]) -> list[str]:
    """Codes or Thai names, separated by commas or spaces; empty means every province."""
    by_name = {name: code for code, name in provinces.items()}
    codes: list[str] = []
    for part in text.replace("\n", ",").replace(" ", ",").split(","):
        item = part.strip()
        if not item:
            continue
        code = item if item in provinces else by_name.get(item)
        if code is None:
            raise ProvinceError(f"ไม่รู้จักจังหวัด “{item}” (ใช้รหัส 2 หลัก หรือชื่อจังหวัดภาษาไทย)")
        if code not in codes:
            codes.append(code)
    return codes


class AdminPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    async def users(self, request: Request) -> Response:
        actor = await self.pages.guard(request, "admin")
        if isinstance(actor, Response):
            return actor
        return await self._render(request, actor.name)

    async def _render(
        self,
        request: Request,
        me: str,
        status_code: int = 200,
        error: str | None = None,
        form: dict[str, Any] | None = None,
    ) -> Response:
        services: Services = request.app.state.services
        users = await run_in_threadpool(services.users.list_users)
        return self.pages.render(
            request,
            "admin_users.html",
            status_code=status_code,
            users=users,
            me=me,
            roles=Role.ALL,
            provinces=services.catalog.provinces,
            error=error,
            notice=request.session.pop("notice", None),
            form=form or {},
        )

    async def add_user(self, request: Request) -> Response:
        actor = await self.pages.guard(request, "admin")
        if isinstance(actor, Response):
            return actor
        form = await request.form()
        values = {k: str(form.get(k) or "") for k in ("username", "display_name", "role")}
        values["provinces"] = str(form.get("provinces") or "")
        if not csrf_ok(request, str(form.get(CSRF_FIELD) or "")):
            return await self._render(request, actor.name, 403, "แบบฟอร์มหมดอายุ กรุณาลองอีกครั้ง")
        services: Services = request.app.state.services
        try:
            provinces = parse_provinces(values["provinces"], services.catalog.provinces)
            await run_in_threadpool(
                lambda: services.users.add_user(
                    values["username"],
                    str(form.get("password") or ""),
                    values["role"],
                    display_name=values["display_name"].strip(),
                    provinces=provinces,
                )
            )
        except ProvinceError as exc:
            return await self._render(request, actor.name, 422, str(exc), values)
        except InvalidInput as exc:
            message = FIELD_TH.get(exc.field or "", "ข้อมูลไม่ถูกต้อง")
            return await self._render(request, actor.name, 422, message, values)
        except Conflict:
            message = f"มีผู้ใช้ชื่อ “{values['username']}” อยู่แล้ว"
            return await self._render(request, actor.name, 409, message, values)
        log.info("user %s added by %s as %s", values["username"], actor.name, values["role"])
        request.session["notice"] = f"เพิ่มผู้ใช้ {values['username']} แล้ว"
        return RedirectResponse("/admin/users", status_code=303)

    async def update_user(self, request: Request) -> Response:
        actor = await self.pages.guard(request, "admin")
        if isinstance(actor, Response):
            return actor
        username = request.path_params["username"]
        form = await request.form()
        if not csrf_ok(request, str(form.get(CSRF_FIELD) or "")):
            return await self._render(request, actor.name, 403, "แบบฟอร์มหมดอายุ กรุณาลองอีกครั้ง")
        services: Services = request.app.state.services
        active = form.get("active") == "on"
        role = str(form.get("role") or "")
        if username == actor.name and (not active or role != "admin"):
            return await self._render(request, actor.name, 422, "ไม่สามารถปิดบัญชีหรือลดสิทธิ์ของตัวเองได้")
        password = str(form.get("new_password") or "") or None
        try:
            provinces = parse_provinces(
                str(form.get("provinces") or ""), services.catalog.provinces
            )
            await run_in_threadpool(
                lambda: services.users.update_user(
                    username,
                    role=role,
                    active=active,
                    provinces=provinces,
                    password=password,
                    display_name=str(form.get("display_name") or "").strip() or None,
                )
            )
        except ProvinceError as exc:
            return await self._render(request, actor.name, 422, str(exc))
        except InvalidInput as exc:
            return await self._render(
                request, actor.name, 422, FIELD_TH.get(exc.field or "", "ข้อมูลไม่ถูกต้อง")
            )
        except NotFound:
            return await self._render(request, actor.name, 404, f"ไม่พบผู้ใช้ {username}")
        log.info("user %s updated by %s", username, actor.name)
        notice = f"บันทึกผู้ใช้ {username} แล้ว"
        if password:
            notice += " (ตั้งรหัสผ่านใหม่และปลดล็อกแล้ว)"
        request.session["notice"] = notice
        return RedirectResponse("/admin/users", status_code=303)

    async def sign_out_everywhere(self, request: Request) -> Response:
        actor = await self.pages.guard(request, "admin")
        if isinstance(actor, Response):
            return actor
        username = request.path_params["username"]
        form = await request.form()
        if not csrf_ok(request, str(form.get(CSRF_FIELD) or "")):
            return await self._render(request, actor.name, 403, "แบบฟอร์มหมดอายุ กรุณาลองอีกครั้ง")
        services: Services = request.app.state.services
        try:
            count = await run_in_threadpool(services.users.sign_out_everywhere, username)
        except NotFound:
            return await self._render(request, actor.name, 404, f"ไม่พบผู้ใช้ {username}")
        log.info("user %s signed out everywhere by %s (%d sessions)", username, actor.name, count)
        request.session["notice"] = f"ให้ {username} ออกจากระบบทุกเครื่องแล้ว ({count} รายการ)"
        return RedirectResponse("/admin/users", status_code=303)
