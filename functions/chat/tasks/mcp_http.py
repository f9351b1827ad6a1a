"""The task tools over MCP streamable HTTP, for any MCP client (Claude Desktop, MCP Inspector).

Stateless with JSON responses (each request stands alone, as Lambda wants), so only POST is served: GET (the
standalone SSE stream, which never ends) and DELETE (ending a session) answer 405. Before the SDK sees a request,
its Host and Origin must be ones this deployment answers to (DNS rebinding protection), its Content-Type JSON, and
its bearer token (Better Auth or a chat token) valid; the token binds the user for the request. Refusals of the MCP
transport are JSON-RPC errors; a missing or bad token is a 401 in the project's error shape whose
`WWW-Authenticate` names the protected resource metadata (RFC 9728), served under `/.well-known/`."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from functions.chat.caller import Caller
from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_server import build_task_server, current_caller
from functions.chat.tasks.rate_limit import RateLimit
from todo_common.errors import ApiError, error_response
from todo_common.web import Services, bearer_token

MCP_PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource"
INVALID_REQUEST = -32600  # JSON-RPC
RATE_LIMITED = -32000  # JSON-RPC: the range left to servers
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")


def jsonrpc_error(
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    code: int = INVALID_REQUEST,
    request_id: object = None,
    data: object = None,
) -> JSONResponse:
    error: dict[str, object] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    body = {"jsonrpc": "2.0", "id": request_id, "error": error}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def tool_call_id(body: bytes) -> tuple[bool, object]:
    """Whether a JSON-RPC body calls a tool (a batch counts once), and the id of the (first) call."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return False, None  # the SDK answers malformed JSON itself
    messages = parsed if isinstance(parsed, list) else [parsed]
    calls = [m for m in messages if isinstance(m, dict) and m.get("method") == "tools/call"]
    return (True, calls[0].get("id")) if calls else (False, None)


class HostPolicy:
    """The Host names (and so the Origins) the MCP endpoint answers to.

    Exact names, or `*.suffix` patterns; on Lambda the Function URL's own `*.lambda-url.<region>.on.aws` is always
    one: Lambda routes a Function URL request by its Host, so a request with such a Host is addressed to this
    function. Origins are also allowed when they are CORS origins (`ALLOWED_ORIGINS`)."""

    def __init__(self, hosts: tuple[str, ...], origins: tuple[str, ...], *, local: bool) -> None:
        self.hosts = tuple(h.lower() for h in hosts)
        self.origins = frozenset(origins)
        self.local = local

    @classmethod
    def of(cls, services: Services, settings: ChatSettings, environ: Mapping[str, str] | None = None) -> HostPolicy:
        env = os.environ if environ is None else environ
        hosts = list(settings.mcp_allowed_hosts)
        if services.settings.chat_base_url:
            hosts.append(_hostname(urlsplit(services.settings.chat_base_url).netloc))
        region = env.get("AWS_REGION")
        if region and env.get("AWS_LAMBDA_FUNCTION_NAME"):
            hosts.append(f"*.lambda-url.{region}.on.aws")
        return cls(tuple(hosts), services.settings.allowed_origins, local=services.settings.environment != "production")

    def allows_host(self, host: str | None) -> bool:
        if not host:
            return False
        name = _hostname(host)
        if self.local and name in LOCAL_HOSTS:
            return True
        return any(
            name == allowed or (allowed.startswith("*.") and name.endswith(allowed[1:])) for allowed in self.hosts
        )

    def allows_origin(self, origin: str | None) -> bool:
        if not origin:
            return True  # not a browser, or same-origin
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme == "http" and not (self.local and _hostname(parts.netloc) in LOCAL_HOSTS):
            return False
        return parts.scheme in ("http", "https") and self.allows_host(parts.netloc)


def _hostname(netloc: str) -> str:
    host = netloc.lower().rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[: host.index("]") + 1] if "]" in host else host
    return host.split(":", 1)[0]


def base_url(services: Services, request: Request) -> str:
    return services.settings.chat_base_url or str(request.base_url).rstrip("/")


class McpHttpApp:
    def __init__(
        self,
        services: Services,
        settings: ChatSettings,
        server: MCPServer | None = None,
        policy: HostPolicy | None = None,
    ) -> None:
        self.services = services
        self.server = server or build_task_server()
        self.tool_calls = RateLimit(services.database, "tool_call", settings.tool_calls_per_minute)
        self.policy = policy or HostPolicy.of(services, settings)
        # Host and Origin are checked above, against patterns the SDK's exact-match lists cannot express.
        self.security = TransportSecuritySettings(enable_dns_rebinding_protection=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope)
        refusal = self._refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        try:
            token = bearer_token(request)
            principal = await asyncio.to_thread(self.services.verifier.verify, token)
        except ApiError as exc:
            headers = dict(exc.headers)
            if exc.status == 401:
                metadata = f"{base_url(self.services, request)}{METADATA_PATH}{MCP_PATH}"
                headers["WWW-Authenticate"] = f'Bearer realm="todo-chat", resource_metadata="{metadata}"'
            await error_response(exc.status, exc.code, exc.message, headers)(scope, receive, send)
            return
        body = await Request(scope, receive).body()
        is_call, call_id = tool_call_id(body)
        if is_call:
            try:
                await asyncio.to_thread(self.tool_calls.spend, principal.user_id)
            except ApiError as over:
                data = {"code": over.code, "message": over.message}
                refused = jsonrpc_error(
                    429, over.message, over.headers, code=RATE_LIMITED, request_id=call_id, data=data
                )
                await refused(scope, receive, send)
                return
        receive = _replaying(body, receive)
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

    def _refusal(self, request: Request) -> Response | None:
        if not self.policy.allows_host(request.headers.get("host")):
            return jsonrpc_error(421, "This server does not answer to that Host.")
        if not self.policy.allows_origin(request.headers.get("origin")):
            return jsonrpc_error(403, "Requests from that Origin are not allowed.")
        if request.method != "POST":
            return jsonrpc_error(
                405, "This MCP server is stateless: send each JSON-RPC message as a POST.", {"Allow": "POST"}
            )
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            return jsonrpc_error(415, "Content-Type must be application/json.")
        return None


def _replaying(body: bytes, rest: Receive) -> Receive:
    """The request's body again, for the SDK (it was read here to see whether it calls a tool), then whatever
    the server says next (a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await rest()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def protected_resource_metadata(services: Services, request: Request) -> ProtectedResourceMetadata | None:
    """RFC 9728: the MCP endpoint is a resource protected by Better Auth's tokens."""
    auth_server = services.settings.better_auth_url
    if not auth_server:
        return None
    return ProtectedResourceMetadata(
        resource=AnyHttpUrl(f"{base_url(services, request)}{MCP_PATH}"),
        authorization_servers=[AnyHttpUrl(auth_server)],
        bearer_methods_supported=["header"],
        resource_name="todo-chat tasks",
    )


def build_mcp_http_app(services: Services, settings: ChatSettings, server: MCPServer | None = None) -> McpHttpApp:
    return McpHttpApp(services, settings, server)


def mount_mcp(
    app: Starlette,
    services: Services,
    settings: ChatSettings,
    server: MCPServer | None = None,
    path: str = MCP_PATH,
) -> None:
    """Serve MCP at exactly `path` (a Mount would answer the bare path with a redirect, which clients dislike),
    and its protected resource metadata at the root and path-suffixed well-known URLs."""
    endpoint = build_mcp_http_app(services, settings, server)

    async def metadata(request: Request) -> Response:
        # The Hosts /mcp answers, nothing else: the document names a URL, which must never be one a client made up.
        if not endpoint.policy.allows_host(request.headers.get("host")):
            return error_response(421, "misdirected_request", "This server does not answer to that Host.")
        document = protected_resource_metadata(services, request)
        if document is None:
            return error_response(404, "not_found", "No authorization server is configured (BETTER_AUTH_URL).")
        # Made from the configured base URL, the document is the same for everyone; made from the Host, it is not.
        cache = "public, max-age=300" if services.settings.chat_base_url else "no-store"
        return JSONResponse(document.model_dump(mode="json", exclude_none=True), headers={"Cache-Control": cache})

    app.router.routes.append(Route(path, endpoint=endpoint, methods=["GET", "POST", "DELETE"]))
    app.router.routes.append(Route(METADATA_PATH, endpoint=metadata, methods=["GET"]))
    app.router.routes.append(Route(f"{METADATA_PATH}{path}", endpoint=metadata, methods=["GET"]))
