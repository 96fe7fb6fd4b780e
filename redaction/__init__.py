"""Redaction: find secrets, PII and license markers; mask them with placeholders; restore them.

A pure library: no network, no disk writes, no module-level mutable state.
"""
from .config import ScannerConfig
from .findings import Finding
from .masking import mask
from .restore import StreamRestorer
from .scanner import Scanner
from .vault import Vault, VaultStore

__all__ = ["Finding", "Scanner", "ScannerConfig", "StreamRestorer", "Vault", "VaultStore", "mask"]
