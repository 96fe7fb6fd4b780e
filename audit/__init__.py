"""Audit trail: durable spool, hash chain, ClickHouse (chDB or server) and the named queries."""
from audit.auditor import Auditor, open_auditor
from audit.chain import VerifyResult
from audit.config import AuditConfig
from audit.event import AuditEvent
from audit.spool import SpoolUnavailable

__all__ = ["AuditConfig", "AuditEvent", "Auditor", "SpoolUnavailable", "VerifyResult", "open_auditor"]
