"""HTML pages: sign-in, the agent console, the ticket page, the dashboard."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from agent_ui.client_address import client_address
from agent_ui.console.auth_session import (
    CSRF_FIELD,
    csrf_ok,
    csrf_token,
    login_url,
    safe_next,
    signed_in_actor,
    start_session,
)
from config.agent_states import NO_ANSWER
from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.errors import AuthenticationFailed
from ticketing.users import LoginThrottled

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

ROLE_TH = {"agent": "เจ้าหน้าที่รับเรื่อง", "supervisor": "หัวหน้างาน", "admin": "ผู้ดูแลระบบ"}
HOME_FOR_ROLE = {"agent": "/console", "supervisor": "/dashboard", "admin": "/admin/users"}
ROLE_TH["agency"] = "หน่วยงาน"
HOME_FOR_ROLE["agency"] = "/agency"
MSG_WRONG = "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง"
MSG_LOCKED = (
    "การเข้าสู่ระบบจากเครื่องนี้ถูกล็อกชั่วคราว เพราะใส่รหัสผ่านผิดหลายครั้ง"
    " กรุณารอ {seconds} วินาทีแล้วลองใหม่ หรือติดต่อผู้ดูแลระบบ"
)
MSG_EXPIRED = "หมดเวลาการใช้งาน กรุณาเข้าสู่ระบบอีกครั้ง"
MSG_CSRF = "แบบฟอร์มหมดอายุหรือไม่ถูกต้อง กรุณาโหลดหน้าใหม่แล้วลองอีกครั้ง"
MSG_SIGNED_OUT = "ออกจากระบบแล้ว"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.autoescape = True  # every template, whatever its name: caller text is data
    templates.env.globals["ROLE_TH"] = ROLE_TH
    return templates


class Pages:
    def __init__(self, templates: Jinja2Templates) -> None:
        self.templates = templates

    def render(
        self, request: Request, name: str, status_code: int = 200, **context: Any
    ) -> Response:
        context.setdefault("csrf", csrf_token(request))
        context.setdefault("csrf_field", CSRF_FIELD)
        response = self.templates.TemplateResponse(request, name, context, status_code=status_code)
        response.headers["Cache-Control"] = "no-store"
        return response

    def forbidden(self, request: Request, actor: Actor) -> Response:
        return self.render(
            request,
            "forbidden.html",
            status_code=403,
            actor=actor,
            home=HOME_FOR_ROLE.get(actor.role, "/"),
        )

    async def guard(self, request: Request, *roles: str) -> Actor | Response:
        """The signed-in actor with one of ``roles``; else a redirect to sign in, or 403."""
        actor = await signed_in_actor(request)
        if actor is None:
            return RedirectResponse(login_url(request), status_code=303)
        if actor.role not in roles:
            return self.forbidden(request, actor)
        return actor

    # --- sign-in ---------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        actor = await signed_in_actor(request)
        if actor is None:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse(HOME_FOR_ROLE.get(actor.role, "/login"), status_code=303)

    async def login_form(self, request: Request) -> Response:
        flash = request.session.pop("flash", None)
        message = {"expired": MSG_EXPIRED, "signed_out": MSG_SIGNED_OUT}.get(flash or "")
        return self.render(
            request,
            "login.html",
            next=safe_next(request.query_params.get("next")),
            error=None,
            notice=message,
            username="",
        )

    async def login(self, request: Request) -> Response:
        form = await request.form()
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        target = safe_next(str(form.get("next") or ""))
        if not csrf_ok(request, str(form.get(CSRF_FIELD) or "")):
            return self.render(
                request,
                "login.html",
                status_code=403,
                next=target,
                error=MSG_CSRF,
                notice=None,
                username=username,
            )
        if not username or not password:
            return self.render(
                request,
                "login.html",
                status_code=422,
                next=target,
                error="กรุณากรอกชื่อผู้ใช้และรหัสผ่าน",
                notice=None,
                username=username,
            )
        services: Services = request.app.state.services
        address = client_address(request, services.settings.trusted_proxies)
        try:
            actor = await run_in_threadpool(
                services.users.authenticate, username, password, address
            )
        except AuthenticationFailed as exc:
            # The same page for real and unknown names; only the throttle's wait differs.
            wait = exc.retry_after if isinstance(exc, LoginThrottled) else None
            throttled = wait is not None
            log.info("sign-in failed from %s (%s)", address, "throttled" if throttled else "wrong")
            response = self.render(
                request,
                "login.html",
                status_code=401,
                next=target,
                error=(MSG_LOCKED.format(seconds=f"{wait:.0f}") if wait is not None else MSG_WRONG),
                notice=None,
                username=username,
            )
            if wait is not None:
                response.headers["Retry-After"] = f"{max(1, round(wait))}"
            return response
        token = await run_in_threadpool(
            services.users.web_sessions.open, actor.user_id or 0, address
        )
        start_session(request, actor, token)
        log.info("user %s signed in (%s)", actor.name, actor.role)
        if target == "/console" and actor.role != "agent":
            target = HOME_FOR_ROLE.get(actor.role, "/console")
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, str(form.get(CSRF_FIELD) or "")):
            return self.render(
                request,
                "login.html",
                status_code=403,
                next="/console",
                error=MSG_CSRF,
                notice=None,
                username="",
            )
        token = str(request.session.get("sid") or "")
        if token:
            services: Services = request.app.state.services
            actor = await run_in_threadpool(services.users.web_sessions.actor, token)
            if actor is not None and actor.role == "agent":
                await run_in_threadpool(services.presence.sign_out, actor.name)
            await run_in_threadpool(services.users.web_sessions.close, token, "logout")
        request.session.clear()
        request.session["flash"] = "signed_out"
        return RedirectResponse("/login", status_code=303)

    # --- work pages ------------------------------------------------------------------------
    async def console(self, request: Request) -> Response:
        actor = await self.guard(request, "agent", "supervisor")
        if isinstance(actor, Response):
            return actor
        reference = request.path_params.get("reference", "")
        services: Services = request.app.state.services
        reasons = [r for r in services.presence.store.config.break_reasons if r.code != NO_ANSWER]
        hubs = list(services.call_commands.hubs.values())
        return self.render(
            request,
            "console.html",
            actor=actor,
            reference=reference,
            break_reasons=reasons,
            hubs=hubs,
        )

    async def dashboard(self, request: Request) -> Response:
        actor = await self.guard(request, "supervisor", "admin")
        if isinstance(actor, Response):
            return actor
        return self.render(request, "dashboard.html", actor=actor)
