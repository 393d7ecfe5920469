"""FastAPI dependencies for what the app holds: settings, the database, the services' client."""

from typing import Annotated

from fastapi import Depends, Request

from gateway.downstream import Downstream
from gateway.settings import GatewaySettings
from services.runtime.db import Database


def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_downstream(request: Request) -> Downstream:
    # Set by the lifespan, which owns the one shared HTTP client.
    downstream: Downstream = request.app.state.downstream
    return downstream


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]
DownstreamDep = Annotated[Downstream, Depends(get_downstream)]
