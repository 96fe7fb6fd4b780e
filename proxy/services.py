"""The long-lived parts one proxy process holds, opened once from the Config and passed down."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from audit import AuditConfig, Auditor, open_auditor
from proxy.budgets import BudgetConfig, Ledger, open_ledger
from proxy.config import Config
from proxy.decision_cache import CachedPolicy
from proxy.identity import Directory
from proxy.metrics import Metrics
from proxy.policy import PolicyConfig, load_engine
from redaction import Scanner, ScannerConfig, VaultStore


@dataclass(slots=True)
class Services:
    config: Config
    directory: Directory
    scanner: Scanner
    response_scanner: Scanner  # secrets only: what the guard masks in model output
    vaults: VaultStore
    policy: CachedPolicy
    policy_config: PolicyConfig
    ledger: Ledger
    budget_config: BudgetConfig
    auditor: Auditor
    audit_config: AuditConfig
    metrics: Metrics

    def close(self) -> None:
        for closer in (self.auditor.close, self.ledger.close, self.policy.close):
            try:
                closer()
            except Exception:  # noqa: BLE001 - shutdown must close every part even if one fails
                pass


def open_services(config: Config) -> Services:
    """Open every component; slow starts (detector engines, chDB) happen here, never per request."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    policy_config = PolicyConfig.from_dict(config.policy)
    budget_config = BudgetConfig.from_dict(config.budgets)
    audit_config = AuditConfig.from_dict(config.audit)
    policy = CachedPolicy(load_engine(policy_config), Path(policy_config.dir))
    scanner_config = ScannerConfig.from_dict(config.redaction)
    return Services(
        config=config,
        directory=Directory(Path(config.users_file)),
        scanner=Scanner(scanner_config),
        response_scanner=Scanner(dataclasses.replace(scanner_config, pii=False, license=False)),
        vaults=VaultStore(),
        policy=policy,
        policy_config=policy_config,
        ledger=open_ledger(budget_config, config.data_dir),
        budget_config=budget_config,
        auditor=open_auditor(audit_config, config.data_dir),
        audit_config=audit_config,
        metrics=Metrics(),
    )
