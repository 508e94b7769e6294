"""speechrec: collect keyword-spotting speech datasets (store, quality checks, export, import)."""

from speechrec.errors import (
    AudioError,
    CampaignError,
    ConflictError,
    SettingsError,
    SpeechrecError,
    StorageError,
    StoreError,
)

__all__ = [
    "AudioError",
    "CampaignError",
    "ConflictError",
    "SettingsError",
    "SpeechrecError",
    "StorageError",
    "StoreError",
]
__version__ = "0.1.0"
