"""SQLAlchemy 2.0 typed models: the system of record, one module per bounded context.

Every model is re-exported here: migrations do ``import campaigns.models`` and code does
``from campaigns.models import ...``; importing the package registers every table on ``Base.metadata``.
"""

from campaigns.clock import utcnow
from campaigns.models.access import ApiKey, Provider, StaffUser
from campaigns.models.accounts import (
    CustomerBalance,
    CustomerGroup,
    GroupEvent,
    GroupMember,
    LedgerEntry,
    LotConsumption,
    PointLot,
    Redemption,
    Reward,
    TierChange,
)
from campaigns.models.accrual import CampaignCounter, CampaignUsage, Reversal, Transaction
from campaigns.models.base import NAMING, Base, BigId, UTCDateTime
from campaigns.models.care import Alert, CampaignHourly, Claim, ClaimEvent, SlaDaily, TxnHourly, VelocityHourly
from campaigns.models.catalog import Campaign, CampaignVersion, Setting
from campaigns.models.channels import CustomerToken, OtpCode, SmsInbound
from campaigns.models.customers import (
    Customer,
    CustomerDaily,
    CustomerIdentity,
    CustomerMerge,
    CustomerProvider,
    CustomerTag,
    IdentityEvent,
    IdentityHistory,
    PhoneState,
)
from campaigns.models.imports import Import, ImportProblem
from campaigns.models.notify import Outbox, WebhookSubscription
from campaigns.models.reporting import DailyStat
from campaigns.models.shared import AuditEvent, Counter

__all__ = [
    "NAMING",
    "Alert",
    "ApiKey",
    "AuditEvent",
    "Base",
    "BigId",
    "Campaign",
    "CampaignCounter",
    "CampaignHourly",
    "CampaignUsage",
    "CampaignVersion",
    "Claim",
    "ClaimEvent",
    "Counter",
    "Customer",
    "CustomerBalance",
    "CustomerDaily",
    "CustomerGroup",
    "CustomerIdentity",
    "CustomerMerge",
    "CustomerProvider",
    "CustomerTag",
    "CustomerToken",
    "DailyStat",
    "GroupEvent",
    "GroupMember",
    "IdentityEvent",
    "IdentityHistory",
    "Import",
    "ImportProblem",
    "LedgerEntry",
    "LotConsumption",
    "OtpCode",
    "Outbox",
    "PhoneState",
    "PointLot",
    "Provider",
    "Redemption",
    "Reversal",
    "Reward",
    "Setting",
    "SlaDaily",
    "SmsInbound",
    "StaffUser",
    "TierChange",
    "Transaction",
    "TxnHourly",
    "UTCDateTime",
    "VelocityHourly",
    "WebhookSubscription",
    "utcnow",
]
