"""Campaign files and Settings: every bad campaign is refused with a message saying what and where."""

from __future__ import annotations

import re
import tomllib
import traceback
import unicodedata
from pathlib import Path

import pytest

from speechrec.campaign import (
    CAMPAIGN_ENV,
    MAX_KEYWORD_LENGTH,
    Campaign,
    CampaignTexts,
    Variation,
    campaign_from_dict,
    campaign_path,
    campaign_to_dict,
    check_keyword,
    fold_keyword,
    folder_spellings,
    format_near_misses,
    format_variations,
    load_campaign,
    parse_near_misses,
    parse_variations,
    parse_word_list,
    revise_campaign,
)
from speechrec.config import DATABASE_FILE_NAME, Settings, load_settings
from speechrec.errors import CampaignError, SettingsError, SpeechrecError

SHIPPED_CAMPAIGN = Path(__file__).resolve().parent.parent / "campaign.toml"

VALID_TOML = """
title = "test campaign"
keywords = ["yes", "no"]
consent_text = "I agree."
"""


def write_campaign(tmp_path: Path, text: str, name: str = "campaign.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def campaign_toml(**values: str) -> str:
    """VALID_TOML with some lines replaced or added: ``keywords='["a"]'`` sets ``keywords = ["a"]``."""
    lines = {"title": '"test campaign"', "keywords": '["yes", "no"]', "consent_text": '"I agree."'}
    lines.update(values)
    return "\n".join(f"{key} = {value}" for key, value in lines.items()) + "\n"


def base(**values: object) -> dict[str, object]:
    data: dict[str, object] = {"title": "t", "keywords": ["yes", "no"], "consent_text": "I agree."}
    data.update(values)
    return data


# ---- the shipped campaign and good campaigns ----------------------------------------------------


def test_shipped_campaign_loads():
    campaign = load_campaign(SHIPPED_CAMPAIGN)
    assert campaign.keywords == ("yes", "no", "up", "down", "tum")
    assert set(campaign.filler_words).isdisjoint(campaign.keywords)
    assert campaign.words == campaign.keywords + campaign.filler_words
    assert campaign.consent_text.strip()
    assert campaign.takes_per_keyword >= 1


def test_minimal_campaign_gets_defaults(tmp_path):
    campaign = load_campaign(write_campaign(tmp_path, VALID_TOML))
    assert campaign == Campaign(title="test campaign", keywords=("yes", "no"), consent_text="I agree.")
    assert campaign.takes_per_keyword == 5
    assert campaign.clip_duration_s == 1.0
    assert campaign.export_sample_rate == 16000
    assert campaign.filler_words == ()


@pytest.mark.parametrize("word", ["hey robot", "okay-computer", "très", "ja.nein", "x" * MAX_KEYWORD_LENGTH])
def test_plain_words_are_accepted(tmp_path, word):
    campaign = load_campaign(write_campaign(tmp_path, campaign_toml(keywords=f'["{word}", "no"]')))
    assert campaign.keywords == (word, "no")
    assert check_keyword(word) == word


def test_campaign_given_lists_stores_tuples():
    campaign = Campaign(title="t", keywords=["yes"], consent_text="c", filler_words=["cat"])
    assert campaign.keywords == ("yes",)
    assert campaign.words == ("yes", "cat")


# ---- bad campaigns ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ("[]", "keywords is empty"),
        ('["yes", "yes"]', "keyword 'yes' is listed twice"),
        ('["yes", "Yes"]', "keyword 'Yes' is listed twice \\(also as 'yes'\\)"),
        ('["Straße", "STRASSE"]', "keyword 'STRASSE' is listed twice"),
        ('"yes"', "keywords must be a list of words, got 'yes'"),
        ("[1, 2]", "keyword must be a string, got 1"),
    ],
)
def test_bad_keyword_lists(tmp_path, keywords, message):
    path = write_campaign(tmp_path, campaign_toml(keywords=keywords))
    with pytest.raises(CampaignError, match=message):
        load_campaign(path)


@pytest.mark.parametrize(
    ("filler", "message"),
    [
        ('["yes"]', "filler word 'yes' is listed twice \\(also as 'yes'\\)"),
        ('["NO"]', "filler word 'NO' is listed twice \\(also as 'no'\\)"),
        ('["cat", "Cat"]', "filler word 'Cat' is listed twice"),
        ('["_unknown_"]', "filler word '_unknown_' starts with '_'"),
    ],
)
def test_bad_filler_words(tmp_path, filler, message):
    path = write_campaign(tmp_path, campaign_toml(filler_words=filler))
    with pytest.raises(CampaignError, match=message):
        load_campaign(path)


UNSAFE_WORDS = [
    *(
        (f"{start}1", f"starts with {re.escape(repr(start))}, which a spreadsheet runs as a formula when it opens")
        for start in ("=", "+", "-", "@", "\uff1d", "\ufe66", "\uff0b", "\ufe62", "\uff0d", "\ufe63", "\u2212", "\uff20", "\ufe6b")
    ),
    ("yes/no", "contains '/'"),
    ("yes\\no", re.escape("contains '\\\\'")),
    ("a:b", "contains ':'"),
    ("what?", re.escape("contains '?'")),
    ("..", "contains '..'"),
    ("a..b", "contains '..'"),
    (".hidden", "starts with a dot"),
    ("_background_noise_", "starts with '_', which Speech Commands reserves"),
    ("_x", "starts with '_'"),
    ("bell\x07", "contains a control character"),
    ("tab\there", "contains a control character"),
    ("zero\u200bwidth", "contains a control character"),
    ("x" * (MAX_KEYWORD_LENGTH + 1), f"is longer than {MAX_KEYWORD_LENGTH} characters"),
    ("", "is empty"),
    ("   ", "is empty"),
    (" yes", "starts or ends with white space"),
    ("yes ", "starts or ends with white space"),
    ("yes\n", "starts or ends with white space"),
    ("yes.", "ends with a dot"),
    ("okay...", "ends with a dot|contains '..'"),
    ("con", "is a name Windows keeps for a device"),
    ("CON", "is a name Windows keeps for a device"),
    ("Nul", "is a name Windows keeps for a device"),
    ("aux.txt", "is a name Windows keeps for a device"),
    ("prn ", "starts or ends with white space"),
    ("com1", "is a name Windows keeps for a device"),
    ("LPT9", "is a name Windows keeps for a device"),
    ("com\u00b9", "is a name Windows keeps for a device"),
    ("\U0001f600" * 64, "takes more than 255 bytes in UTF-8"),
]


@pytest.mark.parametrize(("word", "message"), UNSAFE_WORDS)
def test_unsafe_keywords(word, message):
    with pytest.raises(CampaignError, match=message):
        campaign_from_dict(base(keywords=["no", word]))
    with pytest.raises(CampaignError, match=message):
        check_keyword(word)


@pytest.mark.parametrize(
    ("key", "word", "reason"),
    [
        ("keywords", "con", "a name Windows keeps for a device"),
        ("filler_words", "nul.wav", "a name Windows keeps for a device"),
        ("keywords", "hello.", "ends with a dot"),
        ("filler_words", "\U0001f600" * 64, "more than 255 bytes"),
    ],
)
def test_a_name_that_cannot_be_a_folder_is_refused_with_its_key_in_the_file_and_the_editor(tmp_path, key, word, reason):
    other = {"keywords": '["yes"]', "filler_words": "[]"}
    path = write_campaign(tmp_path, campaign_toml(**{**other, key: f'["{word}"]'}))
    with pytest.raises(CampaignError, match=re.escape(f"{path}: {key}: ") + ".*" + re.escape(repr(word)) + ".*" + reason):
        load_campaign(path)
    with pytest.raises(CampaignError, match=f"^{key}: .*{reason}"):
        revise_campaign(campaign_from_dict(base()), {key: (word,) if key == "filler_words" else ("yes", word)})


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_words_are_kept_in_nfc_whatever_form_they_are_typed_in(tmp_path, form):
    uber = unicodedata.normalize(form, "über")
    path = write_campaign(tmp_path, campaign_toml(keywords=f'["{uber}", "yes"]', filler_words=f'["{unicodedata.normalize(form, "Größe")}"]'))
    campaign = load_campaign(path)
    assert campaign.keywords == ("\u00fcber", "yes") and campaign.filler_words == ("Gr\u00f6\u00dfe",)
    edited = revise_campaign(campaign, {"keywords": (unicodedata.normalize(form, "Ärger"), "yes")})
    assert edited.keywords == ("\u00c4rger", "yes")


@pytest.mark.parametrize(
    ("first", "second"),
    [("yes", "YES"), ("über", unicodedata.normalize("NFD", "über")), ("Über", unicodedata.normalize("NFD", "über")), ("straße", "STRASSE")],
)
def test_one_word_in_two_spellings_is_listed_twice(first, second):
    shown = repr(unicodedata.normalize("NFC", second))
    with pytest.raises(CampaignError, match=f"keywords: keyword {re.escape(shown)} is listed twice"):
        campaign_from_dict(base(keywords=[first, second]))
    with pytest.raises(CampaignError, match="filler_words: filler word .* is listed twice"):
        campaign_from_dict(base(keywords=[first], filler_words=[second]))


def test_folder_spellings_give_one_folder_per_word():
    stored = ["Yes", "yes", "yes", unicodedata.normalize("NFD", "über"), "Dog", "dog", "cat"]
    spellings = folder_spellings(stored)
    assert spellings == {
        "Yes": "yes",
        "yes": "yes",
        unicodedata.normalize("NFD", "über"): "\u00fcber",
        "Dog": "Dog",  # a tie: the first in sorted order
        "dog": "Dog",
        "cat": "cat",
    }
    assert fold_keyword("Über") == fold_keyword(unicodedata.normalize("NFD", "über")) == "\u00fcber"


@pytest.mark.parametrize(("word", "message"), UNSAFE_WORDS[:3])
def test_unsafe_keyword_in_file_names_the_file(tmp_path, word, message):
    toml_word = word.replace("\\", "\\\\")
    path = write_campaign(tmp_path, campaign_toml(keywords=f'["{toml_word}"]'))
    with pytest.raises(CampaignError, match=re.escape(str(path)) + ".*" + message):
        load_campaign(path)


def test_check_word_refuses_non_strings():
    with pytest.raises(TypeError, match="keyword must be a string, got 5"):
        check_keyword(5)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "takes_per_keyword must be at least 1 and at most 100, got 0"),
        ("-3", "takes_per_keyword must be at least 1 and at most 100, got -3"),
        ("101", "takes_per_keyword must be at least 1 and at most 100, got 101"),
        ("2.5", "takes_per_keyword must be a whole number, got 2.5"),
        ('"5"', "takes_per_keyword must be a whole number, got '5'"),
        ("true", "takes_per_keyword must be a whole number, got True"),
    ],
)
def test_bad_takes_per_keyword(tmp_path, value, message):
    path = write_campaign(tmp_path, campaign_toml(takes_per_keyword=value))
    with pytest.raises(CampaignError, match=message):
        load_campaign(path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("clip_duration_s", "0.05", "clip_duration_s must be at least 0.1 and at most 10, got 0.05"),
        ("clip_duration_s", '"1s"', "clip_duration_s must be a number, got '1s'"),
        ("export_sample_rate", "4000", "export_sample_rate must be at least 8000 and at most 48000, got 4000"),
        ("target_per_keyword", "0", "target_per_keyword must be at least 1, got 0"),
        ("consent_version", "0", "consent_version must be at least 1, got 0"),
        ("background_noise_s", "-1", "background_noise_s must be at least 0 and at most 600, got -1"),
        ("rounds", "0", "rounds must be at least 1 and at most 20, got 0"),
        ("rounds", "2.5", "rounds must be a whole number, got 2.5"),
        ("title", '"  "', "title is empty"),
        ("consent_text", '""', "consent_text is empty"),
        ("title", "3", "title must be a string, got 3"),
    ],
)
def test_bad_numbers_and_texts(tmp_path, key, value, message):
    path = write_campaign(tmp_path, campaign_toml(**{key: value}))
    with pytest.raises(CampaignError, match=message):
        load_campaign(path)


@pytest.mark.parametrize("key", ["takes", "keyword", "Title"])
def test_unknown_key_names_key_and_file(tmp_path, key):
    path = write_campaign(tmp_path, campaign_toml(**{key: "1"}), name="my-campaign.toml")
    with pytest.raises(CampaignError, match=f"{re.escape(str(path))}: unknown key '{key}'; known keys are"):
        load_campaign(path)


@pytest.mark.parametrize("missing", ["title", "keywords", "consent_text"])
def test_missing_required_key(tmp_path, missing):
    text = "\n".join(line for line in VALID_TOML.splitlines() if not line.startswith(missing))
    path = write_campaign(tmp_path, text)
    with pytest.raises(CampaignError, match=f"{re.escape(str(path))}: missing key '{missing}'"):
        load_campaign(path)


@pytest.mark.parametrize(
    "text",
    [
        'title = "unterminated\nkeywords = ["yes"]\n',
        "keywords = [yes]\n",
        'title = "a"\ntitle = "b"\n',
        "= 3\n",
    ],
)
def test_invalid_toml(tmp_path, text):
    path = write_campaign(tmp_path, text)
    with pytest.raises(CampaignError, match=f"{re.escape(str(path))}: not valid TOML"):
        load_campaign(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "campaign.toml"
    with pytest.raises(CampaignError, match=f"campaign file '{re.escape(str(path))}' does not exist"):
        load_campaign(path)


def test_unreadable_file_is_a_campaign_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('title = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(CampaignError, match="cannot read campaign file"):
        load_campaign(path)


@pytest.mark.parametrize("key", ["clip_duration_s", "background_noise_s"])
@pytest.mark.parametrize("value", ["nan", "+nan", "-nan", "inf", "-inf"])
def test_numbers_that_are_not_finite_are_refused_with_the_key(tmp_path, key, value):
    path = write_campaign(tmp_path, campaign_toml(**{key: value}))
    with pytest.raises(CampaignError, match=rf"^{re.escape(str(path))}: {key} must be (a finite number|at least)"):
        load_campaign(path)


@pytest.mark.parametrize("key", ["takes_per_keyword", "target_per_keyword", "export_sample_rate", "consent_version"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_whole_numbers_that_are_not_finite_are_refused_with_the_key(tmp_path, key, value):
    path = write_campaign(tmp_path, campaign_toml(**{key: value}))
    with pytest.raises(CampaignError, match=rf"{key} must be a whole number, got {value}"):
        load_campaign(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_campaign_saved_with_nan_is_refused_when_read(value):
    with pytest.raises(CampaignError, match="the campaign saved in the database: clip_duration_s must be"):
        campaign_from_dict(base(clip_duration_s=value), source="the campaign saved in the database")
    with pytest.raises(CampaignError, match="target_per_keyword must be a whole number"):
        campaign_from_dict(base(target_per_keyword=value))


def test_a_nan_campaign_in_the_database_gives_a_plain_error(store):
    import json

    from speechrec.schema import CAMPAIGN_KEY, meta_table

    with store._write() as connection:
        connection.execute(
            meta_table.insert().values(key=CAMPAIGN_KEY, value=json.dumps({**base(), "clip_duration_s": float("nan")}))
        )
    with pytest.raises(CampaignError, match="clip_duration_s must be a finite number, got nan"):
        store.saved_campaign()


def test_a_byte_order_mark_is_read_as_utf8(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID_TOML.replace("test campaign", "caf\u00e9").encode("utf-8"))
    assert load_campaign(path).title == "caf\u00e9"
    path.write_bytes(b"\xef\xbb\xbf" + campaign_toml(takes_per_keyword="0").encode())
    with pytest.raises(CampaignError, match=r"takes_per_keyword must be at least 1"):  # the key, not "line 1, column 1"
        load_campaign(path)


INVISIBLE = {
    "bom_mid_file": (lambda text: text.replace("consent_text", "\ufeffconsent_text"), 3, 1, "U+FEFF (a byte order mark"),
    "double_bom": (lambda text: "\ufeff\ufeff" + text, 1, 1, "U+FEFF (a byte order mark"),
    "bom_after_key": (lambda text: text.replace("keywords =", "keywords\ufeff ="), 2, 9, "U+FEFF (a byte order mark"),
    "zero_width_space": (lambda text: text.replace("title", "\u200btitle"), 1, 1, "U+200B (zero width space)"),
    "no_break_space": (lambda text: text.replace("title =", "title\u00a0="), 1, 6, "U+00A0 (no-break space)"),
}


@pytest.mark.parametrize("name", INVISIBLE)
def test_an_invisible_character_in_the_file_is_named_with_its_place_and_the_fix(tmp_path, name):
    change, line, column, said = INVISIBLE[name]
    path = tmp_path / "campaign.toml"
    path.write_bytes(b"\xef\xbb\xbf" + change(campaign_toml()).encode("utf-8"))  # a BOM at the start is fine
    with pytest.raises(CampaignError) as raised:
        load_campaign(path)
    message = str(raised.value)
    assert f"(at line {line}, column " in message
    assert f"; column {column} of that line holds an invisible character, {said}" in message, message
    assert "most editors do not show: delete it, or retype the line" in message


def test_a_syntax_error_without_an_invisible_character_says_only_the_syntax_error(tmp_path):
    path = write_campaign(tmp_path, campaign_toml(title='"x'))
    with pytest.raises(CampaignError) as raised:
        load_campaign(path)
    assert "invisible" not in str(raised.value)


def test_a_utf16_file_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "utf16.toml"
    path.write_bytes(VALID_TOML.encode("utf-16"))
    with pytest.raises(CampaignError, match=r"is not UTF-8 text .*; save it as UTF-8"):
        load_campaign(path)


def test_campaign_error_is_a_value_error():
    with pytest.raises(ValueError, match="keywords is empty"):
        campaign_from_dict(base(keywords=[]))


def test_campaign_from_dict_names_the_source():
    with pytest.raises(CampaignError, match=r"^web form: takes_per_keyword must be at least 1"):
        campaign_from_dict(base(takes_per_keyword=0), source="web form")


@pytest.mark.parametrize("keywords", ["yes", {"yes"}, None])
def test_campaign_refuses_keywords_that_are_not_a_list(keywords):
    with pytest.raises(TypeError, match=f"keywords must be a list or tuple of words, got {re.escape(repr(keywords))}"):
        Campaign(title="t", keywords=keywords, consent_text="c")


# ---- settings -----------------------------------------------------------------------------------


def test_settings_default_to_data_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    folder = (tmp_path / "data").resolve()
    assert settings == Settings(
        data_dir=folder,
        database_url=f"sqlite:///{folder / DATABASE_FILE_NAME}",
        storage_url=str(folder / "audio"),
    )


def test_settings_from_environment(tmp_path):
    environ = {"SPEECHREC_DATA": str(tmp_path / "from-env")}
    settings = load_settings(environ=environ)
    assert settings.data_dir == (tmp_path / "from-env").resolve()
    assert settings.database_url == f"sqlite:///{settings.data_dir / DATABASE_FILE_NAME}"
    assert settings.storage_url == str(settings.data_dir / "audio")


def test_explicit_folder_wins_over_environment(tmp_path):
    environ = {"SPEECHREC_DATA": str(tmp_path / "from-env")}
    settings = load_settings(tmp_path / "explicit", environ=environ)
    assert settings.data_dir == (tmp_path / "explicit").resolve()
    assert "from-env" not in settings.database_url
    assert "from-env" not in settings.storage_url


def test_database_and_storage_urls_from_environment(tmp_path):
    environ = {
        "SPEECHREC_DATABASE_URL": "postgresql+psycopg://user:pw@db.example/speech",
        "SPEECHREC_STORAGE_URL": "s3://bucket/audio",
    }
    settings = load_settings(tmp_path, environ=environ)
    assert settings.data_dir == tmp_path.resolve()
    assert settings.database_url == "postgresql+psycopg://user:pw@db.example/speech"
    assert settings.storage_url == "s3://bucket/audio"


def test_explicit_urls_win_over_environment(tmp_path):
    environ = {"SPEECHREC_DATABASE_URL": "sqlite:///env.sqlite3", "SPEECHREC_STORAGE_URL": "/env/audio"}
    settings = load_settings(
        tmp_path, database_url="sqlite:///explicit.sqlite3", storage_url="memory://audio", environ=environ
    )
    assert settings.database_url == "sqlite:///explicit.sqlite3"
    assert settings.storage_url == "memory://audio"


def test_settings_read_os_environ_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHREC_DATA", str(tmp_path / "os-env"))
    monkeypatch.delenv("SPEECHREC_DATABASE_URL", raising=False)
    monkeypatch.delenv("SPEECHREC_STORAGE_URL", raising=False)
    assert load_settings().data_dir == (tmp_path / "os-env").resolve()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("user:hunter2@db.example/speech", "database URL starting 'user:' is not a SQLAlchemy URL"),
        ("postgresql://admin:hunter2@db.example:port/speech", "database URL starting 'postgresql:' is not"),
        ("postgresql//admin:hunter2@db.example/speech", "does not start with a scheme"),
        ("hunter2 not a url", "does not start with a scheme"),
        ("host=127.0.0.1 port=1 password=hunter2", "a key=value connection string"),
        ("host=db user=u password='hunter2 x' dbname=speech", "a key=value connection string"),
        ("Server=db;Uid=u;Pwd=hunter2;", "a key=value connection string"),
    ],
)
def test_bad_database_url_quotes_no_more_than_its_scheme(tmp_path, url, said):
    with pytest.raises(ValueError, match=re.escape(said)) as caught:
        load_settings(tmp_path, database_url=url, environ={})
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ValueError) as caught:  # from the environment, as a deployment sets it
        load_settings(tmp_path, environ={"SPEECHREC_DATABASE_URL": url})
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("name", ["SPEECHREC_DATA", "SPEECHREC_DATABASE_URL", "SPEECHREC_STORAGE_URL"])
@pytest.mark.parametrize("value", ["", "  "])
def test_a_variable_set_but_empty_is_refused_not_read_as_the_default(tmp_path, monkeypatch, name, value):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match=f"{name} is set but empty; give .*, or unset it for the default"):
        load_settings(environ={name: value})
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"{name} is set but empty"):
        load_settings()  # os.environ, as the app reads it
    assert list(tmp_path.iterdir()) == []  # no ./data made


def test_an_empty_data_folder_argument_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match="the data folder is empty"):
        load_settings("", environ={})


def test_a_variable_an_explicit_value_overrides_may_be_empty(tmp_path):
    settings = load_settings(tmp_path, storage_url="s3://bucket/x", environ={"SPEECHREC_DATA": "", "SPEECHREC_STORAGE_URL": ""})
    assert settings.data_dir == tmp_path.resolve() and settings.storage_url == "s3://bucket/x"


def test_a_bad_database_url_is_a_settings_error_without_the_url_in_its_chain(tmp_path):
    url = "postgresql://admin:hunter2@db.example:port/speech"
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, database_url=url, environ={})
    assert isinstance(caught.value, SpeechrecError) and isinstance(caught.value, ValueError)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # SQLAlchemy's message has the URL
    assert "hunter2" not in "".join(traceback.format_exception(caught.value))


def test_campaign_errors_keep_their_cause(tmp_path):
    path = tmp_path / "campaign.toml"
    path.write_text("title = [unclosed", encoding="utf-8")
    with pytest.raises(CampaignError, match="not valid TOML") as caught:
        load_campaign(path)
    assert isinstance(caught.value.__cause__, tomllib.TOMLDecodeError)


def test_bad_database_url_from_environment(tmp_path):
    with pytest.raises(ValueError, match="is not a SQLAlchemy URL") as caught:
        load_settings(tmp_path, environ={"SPEECHREC_DATABASE_URL": "admin:hunter2@host/db"})
    assert "hunter2" not in str(caught.value)


def test_campaign_path_precedence(tmp_path):
    assert campaign_path(environ={}) == Path("campaign.toml")
    assert campaign_path(environ={CAMPAIGN_ENV: "other.toml"}) == Path("other.toml")
    assert campaign_path(tmp_path / "mine.toml", environ={CAMPAIGN_ENV: "other.toml"}) == tmp_path / "mine.toml"


# ---- editing a campaign in the app ---------------------------------------------------------------


def test_campaign_to_dict_reads_back_unchanged():
    campaign = campaign_from_dict(base(filler_words=["bed"], clip_duration_s=1.5))
    assert campaign_from_dict(campaign_to_dict(campaign)) == campaign
    assert campaign_to_dict(campaign)["keywords"] == ["yes", "no"]


@pytest.mark.parametrize(
    ("text", "words"),
    [("yes\nno", ("yes", "no")), ("yes, no ,\n\n hey robot ", ("yes", "no", "hey robot")), ("", ())],
)
def test_parse_word_list(text, words):
    assert parse_word_list(text) == words


def test_revise_campaign_bumps_the_consent_version_only_when_the_text_changes():
    campaign = campaign_from_dict(base(consent_version=2))
    retitled = revise_campaign(campaign, {"title": "new", "consent_text": "  I agree.\n"})
    assert (retitled.title, retitled.consent_version) == ("new", 2)
    reworded = revise_campaign(campaign, {"consent_text": "I agree to more."})
    assert (reworded.consent_text, reworded.consent_version) == ("I agree to more.", 3)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"keywords": ()}, "keywords is empty"),
        ({"keywords": ("yes", "Yes")}, "listed twice"),
        ({"keywords": ("a/b",)}, "cannot be in a folder name"),
        ({"takes_per_keyword": 0}, "takes_per_keyword must be at least 1"),
        ({"consent_version": 7}, "unknown campaign setting 'consent_version'"),
        ({"colour": "red"}, "unknown campaign setting 'colour'"),
        ({"target_per_keyword": "many"}, "target_per_keyword must be a whole number"),
    ],
)
def test_revise_campaign_refuses_bad_values(changes, message):
    with pytest.raises(CampaignError, match=re.escape(message)):
        revise_campaign(campaign_from_dict(base()), changes)


@pytest.mark.parametrize(
    ("database_url", "storage_url", "local"),
    [
        (None, None, True),
        ("postgresql+psycopg://u:p@db.example.org/speech", "s3://bucket/campaign", False),
        ("postgresql+psycopg://u:p@db.example.org/speech", None, True),
        ("postgresql+psycopg://u:p@db.example.org/speech", "file:///srv/audio", True),
        (None, "gs://bucket/campaign", True),
    ],
)
def test_settings_say_whether_data_is_on_the_local_disk(tmp_path, database_url, storage_url, local):
    settings = load_settings(tmp_path, database_url=database_url, storage_url=storage_url, environ={})
    assert settings.on_local_disk is local


# ---- variations, near misses, languages (issue 14) ----------------------------------------------

FULL_TOML = """
title = "Hey Jarvis"
keywords = ["hey jarvis", "stop"]
consent_text = "I agree."
filler_words = ["cat"]
languages = ["en", "de-DE"]

[[variations]]
name = "normal"
instruction = "Say it in your normal voice."

[[variations]]
name = "soft"
instruction = "Say it softly, as if someone sleeps nearby."

[near_misses]
"hey jarvis" = ["hey", "jarvis", "hey jar"]
stop = ["top"]

[translations.de_DE]
title = "Hey Jarvis (deutsch)"
consent_text = "Ich stimme zu."
variations = { soft = "Sag es leise." }
"""


def test_a_campaign_with_variations_near_misses_and_languages_loads(tmp_path):
    campaign = load_campaign(write_campaign(tmp_path, FULL_TOML))
    assert [variation.name for variation in campaign.variations] == ["normal", "soft"]
    assert campaign.near_misses == {"hey jarvis": ("hey", "jarvis", "hey jar"), "stop": ("top",)}
    assert campaign.words == ("hey jarvis", "stop", "cat", "hey", "jarvis", "hey jar", "top")
    assert campaign.near_miss_of("hey jar") == ("hey jarvis",) and campaign.near_miss_of("cat") == ()
    assert campaign.languages == ("en", "de_DE")  # browsers' tags are read as Babel's codes
    german = campaign.texts("de_DE")
    assert (german.title, german.consent_text, german.description) == ("Hey Jarvis (deutsch)", "Ich stimme zu.", "")
    assert german.instructions == {"normal": "Say it in your normal voice.", "soft": "Sag es leise."}
    assert campaign.texts("en").consent_text == "I agree." and campaign.texts("fr").title == "Hey Jarvis"
    assert campaign_from_dict(campaign_to_dict(campaign)) == campaign


OLDER_CAMPAIGN_FILE = """
title = "speechrec demo: yes, no, up, down, tum"
description = "Help us build a small open dataset of spoken keywords."
consent_version = 1
consent_text = "By taking part you agree that the recordings of the words you speak are published."
licence = "CC-BY-4.0"
keywords = ["yes", "no", "up", "down", "tum"]
takes_per_keyword = 5
filler_words = ["bed", "bird", "cat", "dog", "house", "tree"]
target_per_keyword = 1000
clip_duration_s = 1.0
export_sample_rate = 16000
background_noise_s = 20
rounds = 2
"""  # the demo campaign's keys before variations, near misses and languages


def test_an_older_campaign_file_reads_and_writes_as_before(tmp_path):
    (tmp_path / "campaign.toml").write_text(OLDER_CAMPAIGN_FILE, encoding="utf-8")
    campaign = load_campaign(tmp_path / "campaign.toml")
    assert campaign.languages == ("en",)
    assert (campaign.variations, campaign.near_misses, campaign.translations) == ((), {}, {})
    assert set(campaign_to_dict(campaign)) == {
        "title", "keywords", "consent_text", "description", "consent_version", "licence", "takes_per_keyword",
        "filler_words", "target_per_keyword", "clip_duration_s", "export_sample_rate", "background_noise_s", "rounds",
    }  # fmt: skip


def test_a_near_miss_phrase_may_belong_to_several_keywords():
    campaign = campaign_from_dict(
        base(keywords=["hey jarvis", "hey robot"], near_misses={"hey jarvis": ["hey"], "hey robot": ["hey", "robot"]})
    )
    assert campaign.near_miss_phrases == ("hey", "robot")
    assert campaign.near_miss_label("hey") == "hey jarvis|hey robot"
    assert campaign.near_miss_label("robot") == "hey robot" and campaign.near_miss_label("stop") is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"variations": [{"name": "Soft", "instruction": "x"}]}, "variation name 'Soft' must be up to 32 lower-case"),
        ({"variations": [{"name": "arm length", "instruction": "x"}]}, "variation name 'arm length'"),
        ({"variations": [{"name": "soft", "instruction": " "}]}, "variation 'soft' has no instruction"),
        ({"variations": [{"name": "soft", "instruction": "x" * 301}]}, "longer than 300 characters"),
        ({"variations": [{"name": "soft", "instruction": "a"}, {"name": "soft", "instruction": "b"}]},
         "variation 'soft' is listed twice"),
        ({"variations": [{"name": "soft"}]}, "each variation needs exactly a name and an instruction"),
        ({"variations": "soft"}, "variations must be a list of tables"),
        ({"variations": [{"name": f"v{n}", "instruction": "x"} for n in range(21)]}, "at most 20 are allowed"),
        ({"near_misses": {"hey": ["he"]}}, "near_misses lists phrases for 'hey', which is not a keyword"),
        ({"near_misses": {"yes": ["ye/s"]}}, "near-miss phrase of 'yes' 'ye/s' contains '/'"),
        ({"near_misses": {"yes": ["YES"]}}, "near-miss phrase 'YES' is the keyword itself"),
        ({"near_misses": {"yes": ["no"]}}, "near-miss phrase 'no' of 'yes' is also listed as 'no'"),
        ({"near_misses": {"yes": ["ye", "ye"]}}, "a near-miss phrase of 'yes' is listed twice"),
        ({"near_misses": {"yes": ["ye"], "no": ["Ye"]}}, "near-miss phrase 'Ye' is also listed as 'ye'"),
        ({"near_misses": {"yes": "ye"}}, "the near misses of 'yes' must be a list of phrases"),
        ({"near_misses": ["ye"]}, "near_misses must be a table"),
        ({"languages": []}, "languages must list at least one language code"),
        ({"languages": ["en", "klingon"]}, "'klingon' is not a language code"),
        ({"languages": ["en", "en"]}, "languages lists a language twice"),
        ({"languages": ["en", "fr"], "translations": {"fr": {"consent_text": "J'accepte."}}},
         "languages lists 'fr', but the volunteer pages have no catalog for it"),
        ({"languages": ["en", "de"]}, "languages offers 'de', but translations.de has no consent_text"),
        ({"languages": ["en", "de"], "translations": {"de": {"title": "x"}}}, "translations.de has no consent_text"),
        ({"languages": ["en", "de"], "translations": {"de": {"consent_text": " "}}}, "translations.de has no consent"),
        ({"translations": {"de": {"consent_text": "Ja."}}}, "translations has texts for 'de', which is not one of"),
        ({"languages": ["en", "de"], "translations": {"de": {"consent_text": "Ja.", "colour": "x"}}},
         "translations.de: unknown key 'colour'"),
        ({"languages": ["en", "de"], "translations": {"de": {"consent_text": "Ja.", "variations": {"soft": "x"}}}},
         "translations.de gives an instruction for variation 'soft', which the campaign does not list"),
    ],
)  # fmt: skip
def test_bad_variations_near_misses_and_languages(values, message):
    with pytest.raises(CampaignError, match=re.escape(message)):
        campaign_from_dict(base(**values), source="campaign.toml")


def test_a_bad_variation_in_a_file_names_the_file(tmp_path):
    path = write_campaign(tmp_path, FULL_TOML.replace('name = "soft"', 'name = "Soft"'))
    with pytest.raises(CampaignError, match=re.escape(f"{path}: variation name 'Soft'")):
        load_campaign(path)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("soft: Say it softly.\n\nloud : Say it: LOUD ", (Variation("soft", "Say it softly."), Variation("loud", "Say it: LOUD"))),
        ("", ()),
    ],
)  # fmt: skip
def test_parse_variations_reads_what_format_variations_writes(text, parsed):
    assert parse_variations(text) == parsed
    assert parse_variations(format_variations(parsed)) == parsed


def test_parse_near_misses_reads_what_format_near_misses_writes():
    parsed = parse_near_misses("hey jarvis: hey, jarvis\n\n stop : top\nhey jarvis: hey jar")
    assert parsed == {"hey jarvis": ("hey", "jarvis", "hey jar"), "stop": ("top",)}
    assert parse_near_misses(format_near_misses(parsed)) == parsed


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_variations, "soft: Say it softly.\nloud", "variation line 2 ('loud') has no ':'"),
        (parse_near_misses, "hey jarvis hey", "near-miss line 1 ('hey jarvis hey') has no ':'"),
    ],
)
def test_lines_without_a_colon_are_named(parse, text, message):
    with pytest.raises(CampaignError, match=re.escape(message)):
        parse(text)


def test_a_changed_consent_text_in_any_language_bumps_the_version_once():
    campaign = campaign_from_dict(
        base(languages=["en", "de"], translations={"de": {"consent_text": "Ich stimme zu."}}, consent_version=4)
    )
    german = CampaignTexts(consent_text="Ich stimme allem zu.")
    assert revise_campaign(campaign, {"translations": {"de": german}}).consent_version == 5
    same = CampaignTexts(consent_text=" Ich stimme zu.\n", title="Neu")
    assert revise_campaign(campaign, {"translations": {"de": same}}).consent_version == 4
    english_only = revise_campaign(campaign, {"languages": ("en",), "translations": {}})
    assert english_only.consent_version == 4  # a language dropped: nobody's agreement changed
    added = revise_campaign(english_only, {"languages": ("en", "de"), "translations": {"de": german}})
    assert added.consent_version == 4  # a language added: nobody agreed in it yet
