"""What a container builds once (settings, database, token verifier, logger) and how a route gets it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from aws_lambda_powertools import Logger
from fastapi import Depends, Request

from todo_common.auth import TokenVerifier
from todo_common.db import Database
from todo_common.files import FileStore, file_store
from todo_common.logs import configure_logging
from todo_common.settings import Settings


@dataclass
class Services:
    settings: Settings
    database: Database
    verifier: TokenVerifier
    logger: Logger

    @cached_property
    def files(self) -> FileStore:
        """Where attachments' bytes are: made on first use (a request that touches no file never builds it)."""
        return file_store(self.settings)

    @classmethod
    def from_settings(cls, settings: Settings, service: str) -> Services:
        return cls(
            settings=settings,
            database=Database.from_url(settings.database_url),
            verifier=TokenVerifier(settings),
            logger=configure_logging(service, settings.log_level),
        )

    @classmethod
    def from_environment(cls, service: str) -> Services:
        return cls.from_settings(Settings.from_environ(), service)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def services_dependency(request: Request) -> Services:
    """`get_services` as a dependency: `async`, so FastAPI runs it inline rather than hopping to its thread pool
    (which costs more than the attribute read)."""
    return get_services(request)


ServicesDep = Annotated[Services, Depends(services_dependency)]
