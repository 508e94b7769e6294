"""speechrec: collect keyword-spotting speech datasets (store, quality checks, export, import)."""

from speechrec.errors import AudioError, CampaignError, SpeechrecError, StoreError

__all__ = ["AudioError", "CampaignError", "SpeechrecError", "StoreError"]
__version__ = "0.1.0"
