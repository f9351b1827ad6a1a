"""The task tools over MCP streamable HTTP, for any MCP client (Claude Desktop, MCP Inspector).

Stateless with JSON responses (each request stands alone, as Lambda wants). The bearer token (Better Auth or a chat
token) is verified first and binds the user for the request; without one the answer is 401. Works without a
lifespan: each request runs its own short-lived session manager."""

from __future__ import annotations

import asyncio

from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from functions.chat.caller import Caller
from functions.chat.mcp_server import build_task_server, current_caller
from functions.chat.settings import ChatSettings
from todo_common.errors import ApiError, error_response
from todo_common.web import Services, bearer_token


class McpHttpApp:
    def __init__(self, services: Services, settings: ChatSettings, server: MCPServer | None = None) -> None:
        self.services = services
        self.server = server or build_task_server()
        hosts = list(settings.mcp_allowed_hosts)
        self.security = TransportSecuritySettings(
            enable_dns_rebinding_protection=bool(hosts),
            allowed_hosts=hosts,
            allowed_origins=[f"https://{host}" for host in hosts],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            token = bearer_token(Request(scope))
            principal = await asyncio.to_thread(self.services.verifier.verify, token)
        except ApiError as exc:
            await error_response(exc.status, exc.code, exc.message, exc.headers)(scope, receive, send)
            return
        manager = StreamableHTTPSessionManager(
            # The public factory (streamable_http_app) needs a lifespan to run its manager; this runs one per request.
            app=self.server._lowlevel_server,
            json_response=True,
            stateless=True,
            security_settings=self.security,
        )
        binding = current_caller.set(Caller(principal.user_id, self.services.database))
        try:
            async with manager.run():
                await manager.handle_request(scope, receive, send)
        finally:
            current_caller.reset(binding)


def build_mcp_http_app(services: Services, settings: ChatSettings, server: MCPServer | None = None) -> McpHttpApp:
    return McpHttpApp(services, settings, server)


def mount_mcp(
    app: Starlette,
    services: Services,
    settings: ChatSettings,
    server: MCPServer | None = None,
    path: str = "/mcp",
) -> None:
    """Serve MCP at exactly `path` (a Mount would answer the bare path with a redirect, which clients dislike)."""
    endpoint = build_mcp_http_app(services, settings, server)
    app.router.routes.append(Route(path, endpoint=endpoint, methods=["GET", "POST", "DELETE"]))
