"""The store (opened once per server process, shared by every session) and the campaign in force."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import streamlit as st

from speechrec.campaign import Campaign, campaign_path, load_campaign
from speechrec.config import DATABASE_URL_ENV, STORAGE_URL_ENV, Settings, load_settings
from speechrec.errors import SettingsError, SpeechrecError, redact
from speechrec.store import ClipStore
from speechrec.ui.text import plain

LOGGER = logging.getLogger(__name__)
# Streamlit Community Cloud checks out every app under this folder.
COMMUNITY_CLOUD_APPS = Path("/mount/src")


def app_settings() -> Settings:
    """Where the app keeps its data: $SPEECHREC_DATABASE_URL / $SPEECHREC_STORAGE_URL, else
    ``[storage] database_url`` / ``audio_url`` from secrets.toml, else the local defaults under data/."""
    return load_settings(
        database_url=os.environ.get(DATABASE_URL_ENV) or secret_text("storage", "database_url"),
        storage_url=os.environ.get(STORAGE_URL_ENV) or secret_text("storage", "audio_url"),
    )


@st.cache_resource(show_spinner=False)
def open_store() -> ClipStore:
    """The ClipStore of ``app_settings()``, shared by every session of this process."""
    return ClipStore(app_settings())


@st.cache_resource(show_spinner=False)
def seed_campaign() -> Campaign:
    """The campaign file ($SPEECHREC_CAMPAIGN or ./campaign.toml), in force until organizers save one."""
    return load_campaign(campaign_path())


# What opening the store or reading the campaign raises when the setup is wrong.
STARTUP_ERRORS = (SpeechrecError, ValueError, OSError)


def campaign_and_store() -> tuple[Campaign, ClipStore]:
    """The campaign in force and the store; raises one of STARTUP_ERRORS when they cannot be had.

    The campaign saved in the store (by the Campaign page) wins over the seed file; it is read on
    every run, so an edit reaches every session and every app process at once.
    """
    store = open_store()
    return store.saved_campaign() or seed_campaign(), store


def campaign_and_store_ui() -> tuple[Campaign, ClipStore]:
    """``campaign_and_store()``, or a clear error on the page (and the page stops)."""
    try:
        return campaign_and_store()
    except STARTUP_ERRORS as error:
        message = f"speechrec cannot start: {redact(str(error), *configured_urls())}"
        LOGGER.error("%s", message)
        st.error(plain(message))
        st.stop()


def storage_notice_ui() -> None:
    """For organizers: where the data lives, and a warning when that is a disk that hosting wipes."""
    settings = app_settings()
    if not settings.on_local_disk:
        return
    if Path.cwd().is_relative_to(COMMUNITY_CLOUD_APPS):
        st.warning(
            "Clips and metadata are on this app's local disk, which Streamlit Community Cloud wipes at every "
            "reboot, redeploy or sleep: they will be lost. Set [storage] database_url and audio_url in the "
            "app's secrets (README: Deploying on Streamlit Community Cloud) before volunteers record.",
            icon="⚠️",
        )
    else:
        st.sidebar.caption(f"Data on this machine: {settings.data_dir}")


def exports_folder(store: ClipStore) -> Path:
    """Where the app builds dataset zips for download: ``exports/`` in the data folder."""
    return store.settings.exports_dir


def secret(section: str, key: str) -> object | None:
    """``[section] key`` from .streamlit/secrets.toml, or None (also when there is no secrets file)."""
    try:
        return st.secrets.get(section, {}).get(key)
    except FileNotFoundError:
        return None


def secret_text(section: str, key: str) -> str | None:
    """``secret(section, key)`` where it must be a string; SettingsError naming it otherwise."""
    value = secret(section, key)
    if value is not None and not isinstance(value, str):
        raise SettingsError(f"[{section}] {key} in secrets.toml must be a string in quotes, got {value!r:.40}")
    return value


def configured_urls() -> tuple[str | None, ...]:
    """The database and storage URLs as configured (environment, then secrets): the credentials to redact."""
    return (
        os.environ.get(DATABASE_URL_ENV) or _text_or_none(secret("storage", "database_url")),
        os.environ.get(STORAGE_URL_ENV) or _text_or_none(secret("storage", "audio_url")),
    )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


class RedactingFormatter(logging.Formatter):
    """Log lines without credentials: URLs lose their user:password@, the configured ones' secrets go too."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), *configured_urls())


def setup_logging() -> None:
    """Send speechrec's own log lines (INFO and up) to the server log, once per process."""
    logger = logging.getLogger("speechrec")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
