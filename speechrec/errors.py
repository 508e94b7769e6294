"""The one family of errors speechrec raises for bad input and failed operations."""


class SpeechrecError(Exception):
    """Base of every error speechrec raises on purpose; its message is meant for the user."""


class CampaignError(SpeechrecError, ValueError):
    """A campaign file or campaign value is invalid."""


class SettingsError(SpeechrecError, ValueError):
    """Where to keep the data is given wrongly (e.g. a database URL SQLAlchemy cannot parse)."""


class AudioError(SpeechrecError, ValueError):
    """Audio could not be decoded or has no usable samples."""


class StoreError(SpeechrecError):
    """The clip store cannot do what was asked (unknown clip, bad status, storage failure)."""


class ConflictError(StoreError):
    """A write clashed with stored data (a duplicate import, an id taken by another process)."""


class StorageError(StoreError, OSError):
    """Audio could not be written, read, listed or deleted: on a local disk or on object storage
    alike (also an OSError, as the failure of a file operation is)."""
