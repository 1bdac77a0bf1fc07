"""Where views find the application's services (built once by the factory)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from cloud.accounts import Accounts
    from cloud.audit import AuditLog
    from cloud.auth import ApiKeys, TokenSigner
    from cloud.directory import Directory
    from cloud.fog_client import FogClient
    from cloud.invoicing import Billing
    from cloud.settings import CloudSettings
    from cloud.supply import SupplyControl
    from cloud.utility import Utility


@dataclass(frozen=True, slots=True)
class Services:
    settings: CloudSettings
    directory: Directory
    fogs: FogClient
    accounts: Accounts
    tokens: TokenSigner
    api_keys: ApiKeys
    audit: AuditLog
    billing: Billing
    supply: SupplyControl
    utility: Utility


def services() -> Services:
    found: Services = current_app.extensions["nevoa.services"]
    return found


def accounts() -> Accounts:
    return services().accounts


def now() -> float:
    """The one "now" of the cloud (settings.clock)."""
    return services().settings.clock.now()
