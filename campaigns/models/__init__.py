"""SQLAlchemy 2.0 typed models: the system of record, one module per bounded context.

Every model is re-exported here: migrations do ``import campaigns.models`` and code does
``from campaigns.models import ...``; importing the package registers every table on ``Base.metadata``.
"""

from campaigns.clock import utcnow
from campaigns.models.access import ApiKey, Provider, StaffLanguage, StaffUser
from campaigns.models.accounts import (
    CustomerBalance,
    CustomerGroup,
    GroupEvent,
    GroupMember,
    LedgerEntry,
    LotConsumption,
    LotStatus,
    MemberStatus,
    PointLot,
    Redemption,
    RedemptionStatus,
    Reward,
    TierChange,
)
from campaigns.models.accrual import CampaignCounter, CampaignUsage, Reversal, ReversalStatus, Transaction, TxStatus
from campaigns.models.base import NAMING, Base, BigId, UTCDateTime
from campaigns.models.care import (
    Alert,
    AlertStatus,
    CampaignHourly,
    Claim,
    ClaimEvent,
    ClaimState,
    SlaDaily,
    TxnHourly,
    VelocityHourly,
)
from campaigns.models.catalog import Campaign, CampaignStatus, CampaignVersion, ReviewState, Setting
from campaigns.models.channels import CustomerToken, OtpCode, SmsInbound
from campaigns.models.clearing import ProviderRate, SettlementLine, SettlementPeriod
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
from campaigns.models.imports import Import, ImportProblem, ImportStatus
from campaigns.models.notify import Outbox, OutboxStatus, WebhookSubscription
from campaigns.models.reporting import DailyStat
from campaigns.models.shared import AuditEvent, Counter

__all__ = [
    "NAMING",
    "Alert",
    "AlertStatus",
    "ApiKey",
    "AuditEvent",
    "Base",
    "BigId",
    "Campaign",
    "CampaignCounter",
    "CampaignHourly",
    "CampaignStatus",
    "CampaignUsage",
    "CampaignVersion",
    "Claim",
    "ClaimEvent",
    "ClaimState",
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
    "ImportStatus",
    "LedgerEntry",
    "LotConsumption",
    "LotStatus",
    "MemberStatus",
    "OtpCode",
    "Outbox",
    "OutboxStatus",
    "PhoneState",
    "PointLot",
    "Provider",
    "ProviderRate",
    "Redemption",
    "RedemptionStatus",
    "Reversal",
    "ReversalStatus",
    "ReviewState",
    "Reward",
    "Setting",
    "SettlementLine",
    "SettlementPeriod",
    "SlaDaily",
    "SmsInbound",
    "StaffLanguage",
    "StaffUser",
    "TierChange",
    "Transaction",
    "TxStatus",
    "TxnHourly",
    "UTCDateTime",
    "VelocityHourly",
    "WebhookSubscription",
    "utcnow",
]
