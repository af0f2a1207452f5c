"""The domain: tables, the encrypted cache, settings and pure domain rules.

Importing `models` registers every table on `Base.metadata` (Alembic relies on it).
"""

from models.api_clients import ApiClient
from models.audit import AuditLog
from models.backfills import Backfill, BackfillWindow
from models.base import Base
from models.consents import EnedisConsent
from models.contributions import Contribution
from models.ecowatt import EcoWattSignal
from models.national_consumption import NationalConsumption
from models.offers import Offer, Provider
from models.sessions import UserSession
from models.tempo import TempoDay
from models.transfers import TransferRequest
from models.unsent_tasks import UnsentTask
from models.usage_points import KnownPdl, UsagePoint
from models.users import Permission, Role, User

__all__ = [
    "ApiClient", "AuditLog", "Backfill", "BackfillWindow", "Base", "Contribution", "EcoWattSignal", "EnedisConsent",
    "KnownPdl", "NationalConsumption", "Offer", "Permission", "Provider", "Role", "TempoDay", "TransferRequest",
    "UnsentTask", "UsagePoint", "User", "UserSession",
]
