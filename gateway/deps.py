"""FastAPI dependencies for what the app holds: settings, the database, the services' clients.

All `async def`: FastAPI runs a plain `def` dependency in a worker thread, and three thread
hops per request cost more than these attribute reads (measured in docs/customers-list.md)."""

from typing import Annotated

from fastapi import Depends, Request

from gateway.clients import ServiceClients
from gateway.identity.credential_cache import CredentialCaches
from gateway.identity.operator_cache import OperatorCache
from gateway.settings import GatewaySettings
from services.runtime.db import Database


async def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_services(request: Request) -> ServiceClients:
    # Set by the lifespan, which owns the one shared HTTP client.
    services: ServiceClients = request.app.state.services
    return services


async def get_operator_cache(request: Request) -> OperatorCache:
    cache: OperatorCache = request.app.state.operator_cache
    return cache


async def get_credential_caches(request: Request) -> CredentialCaches:
    caches: CredentialCaches = request.app.state.credential_caches
    return caches


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]
ServicesDep = Annotated[ServiceClients, Depends(get_services)]
OperatorCacheDep = Annotated[OperatorCache, Depends(get_operator_cache)]
CredentialCachesDep = Annotated[CredentialCaches, Depends(get_credential_caches)]
