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
from models.day_calendars import CalendarCoverage, SpecialDay
from models.offers import Offer, OfferEnergyPrice, OfferPrice, Provider
from models.offpeak_history import OffPeakSchedule
from models.sessions import UserSession
from models.tempo import TempoDay
from models.transfers import TransferRequest
from models.unsent_tasks import UnsentTask
from models.usage_points import KnownPdl, UsagePoint
from models.users import Permission, Role, User

__all__ = [
    "ApiClient", "AuditLog", "Backfill", "BackfillWindow", "Base", "CalendarCoverage", "Contribution",
    "EcoWattSignal", "EnedisConsent", "KnownPdl", "NationalConsumption", "Offer", "OfferEnergyPrice", "OfferPrice",
    "OffPeakSchedule", "Permission", "Provider", "Role", "SpecialDay", "TempoDay", "TransferRequest", "UnsentTask",
    "UsagePoint", "User", "UserSession",
]
