"""Command line: ``python -m speechrec import|export|check-model|stats|check|upgrade|migrate|hash-password``.
Never imports streamlit (fast start)."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from speechrec.campaign import CAMPAIGN_ENV, NOISE_KEYWORD, Campaign, campaign_path, load_campaign
from speechrec.config import DATABASE_URL_ENV, STORAGE_URL_ENV, Settings, load_settings
from speechrec.errors import SpeechrecError, redact, redact_url

# How many skipped files the import summary lists one by one before it only counts them.
MAX_LISTED_SKIPS = 20


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code (0 success, 1 failure, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with _logging(args):
        try:
            return args.run(args)
        except BrokenPipeError:  # the reader stopped early (e.g. `| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (SpeechrecError, ValueError, OSError) as error:
            say(f"speechrec {args.command}: error: {redact(_one_line(error), *_urls(args))}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            say(f"speechrec {args.command}: interrupted", file=sys.stderr)
            return 130


def say(text: object = "", *, file: TextIO | None = None) -> None:
    """Print ``text`` with its control characters escaped (``escape_controls``)."""
    print(escape_controls(str(text)), file=file)


def escape_controls(text: str) -> str:
    """``text`` as it may be printed on a terminal: every character that is not printable (ESC,
    carriage return, backspace, bidirectional overrides, ...) written as its Python escape
    (``\\x1b``, ``\\r``, ``\\u202e``), line breaks kept. File names, keywords and audio keys come
    from disks and databases; an escape sequence in one must not clear, recolour or rewrite the
    terminal, nor hide a line of the summary."""
    return "".join(char if char == "\n" or char.isprintable() else repr(char)[1:-1] for char in text)


class _CommandLog(logging.Handler):
    """The log on the command line: speechrec's own warnings always; other libraries' lines (gcsfs
    and aiohttp log a traceback for each failed retry, boto its own) only with --verbose, as the
    error line already says what failed. Every line without credentials."""

    def __init__(self, verbose: bool, urls: Sequence[str | None]) -> None:
        super().__init__(logging.DEBUG if verbose else logging.WARNING)
        self.verbose, self.urls = verbose, urls
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def filter(self, record: logging.LogRecord) -> bool:
        return self.verbose or record.name.partition(".")[0] == "speechrec"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            say(redact(self.format(record), *self.urls), file=sys.stderr)
        except Exception:  # a log line must never end the command
            self.handleError(record)


@contextmanager
def _logging(args: argparse.Namespace) -> Iterator[None]:
    """Route every log record of this command through ``_CommandLog`` (none reaches Python's
    last-resort handler, which prints library tracebacks to stderr)."""
    root = logging.getLogger()
    handler, level = _CommandLog(args.verbose, _urls(args)), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its commands."""
    parser = argparse.ArgumentParser(
        prog="python -m speechrec", description="Collect keyword-spotting speech datasets."
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also print the log of the libraries speechrec uses (storage back-ends, database drivers), "
        "tracebacks included; for a bug report",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--store", type=_not_empty, metavar="DIR", help="data folder (default: $SPEECHREC_DATA or ./data)"
        )
        sub.add_argument(
            "--campaign",
            type=_not_empty,
            metavar="FILE",
            help=f"campaign file (default: ${CAMPAIGN_ENV} or ./campaign.toml)",
        )
        sub.set_defaults(run=run)
        return sub

    importer = command("import", "Import recordings of the old web apps or a Speech Commands folder.", run_import)
    importer.add_argument("folder", type=_not_empty, help="folder with the recordings (searched recursively)")
    importer.add_argument("--workers", type=int, metavar="N", help="decoding processes (default: one per core)")
    exporter = command("export", "Write the dataset as a Speech Commands zip.", run_export)
    exporter.add_argument(
        "--out",
        required=True,
        type=_not_empty,
        metavar="FILE",
        help="zip file to write, outside the store; an existing file is replaced only if it is an earlier export",
    )
    _export_arguments(exporter)
    exporter.add_argument(
        "--layout",
        choices=["speech-commands", "split-folders"],
        default="speech-commands",
        help="speech-commands: one folder per word with validation_list.txt and testing_list.txt (default); "
        "split-folders: train/, validation/ and test/, each with every word's folder and a metadata.jsonl "
        "(Hugging Face datasets' audiofolder, Keras)",
    )
    checker = command(
        "check-model",
        "Will it train? Train and test a small keyword model speaker by speaker on the clips an export "
        "would contain; print accuracy per keyword and per speaker, the confusions and the clips the "
        "model doubts most. The result is kept in the data folder and reused while nothing changes; "
        "the clips it doubts are kept in the database, where the Review page puts them first.",
        run_check_model,
    )
    _export_arguments(checker)
    checker.add_argument("--doubted", type=int, default=20, metavar="N", help="doubted clips to list (default 20)")
    stats = command(
        "stats",
        "Clips per word: total, accepted, pending (no quality flag), flagged (pending with a flag), rejected.",
        run_stats,
    )
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check_help = (
        "Compare the clip rows with the audio: list rows whose audio is missing and audio files no "
        "row names. --repair then rejects those rows (reason: audio missing) and deletes those "
        "files, after you confirm."
    )
    checker = command("check", check_help, run_check)
    checker.add_argument("--repair", action="store_true", help="fix what was found, after a confirmation")
    checker.add_argument("--yes", action="store_true", help="with --repair: do not ask (for scripts)")
    checker.add_argument(
        "--force",
        action="store_true",
        help="with --repair: repair even when most rows have no audio (normally refused: a wrong storage "
        "location looks like that)",
    )
    hasher = commands.add_parser(
        "hash-password",
        help="Print a salted hash of an organizer password, for [organizer] password in secrets.toml.",
        description="Print a salted hash of an organizer password, for [organizer] password in "
        ".streamlit/secrets.toml. Asks for the password (or reads one line from standard input).",
    )
    hasher.set_defaults(run=run_hash_password)
    upgrade_help = (
        "Bring the store's database to this speechrec's schema (opening a store does it too); "
        "--dry-run lists the pending steps and changes nothing."
    )
    upgrader = commands.add_parser("upgrade", help=upgrade_help, description=upgrade_help)
    upgrader.add_argument("--store", metavar="DIR", help="data folder (default: $SPEECHREC_DATA or ./data)")
    upgrader.add_argument("--dry-run", action="store_true", help="list the pending steps, change nothing")
    upgrader.set_defaults(run=run_upgrade)
    migrate_help = (
        "Copy a whole store (metadata and audio) into a new, empty one, e.g. from a data folder to "
        "PostgreSQL + S3 or back; verified by counts and SHA-256 checksums. Each side is a data "
        "folder (--from-store/--to-store) or a database URL plus a storage URL."
    )
    migrator = commands.add_parser("migrate", help=migrate_help, description=migrate_help)
    for side, where in (("from", "to copy"), ("to", "to fill; must be empty")):
        migrator.add_argument(f"--{side}-store", type=_not_empty, metavar="DIR", help=f"data folder {where}")
        migrator.add_argument(
            f"--{side}-database",
            type=_not_empty,
            metavar="URL",
            help="SQLAlchemy URL (default: the data folder's SQLite file)",
        )
        migrator.add_argument(
            f"--{side}-storage",
            type=_not_empty,
            metavar="URL",
            help="fsspec URL such as s3://bucket/prefix (default: DIR/audio)",
        )
    migrator.set_defaults(run=run_migrate)
    return parser


def run_import(args: argparse.Namespace) -> int:
    """``import FOLDER``: import, then print a summary with every skipped file and its reason."""
    from speechrec.importer import import_folder

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers!r}")
    store = _store(args, create=True)
    campaign = _campaign(args, store)
    with _progress_bar("importing", "file") as update:
        summary = import_folder(store, args.folder, campaign, workers=args.workers, progress=update)
    say(
        f"imported {summary.imported} clips ({summary.flagged} with a quality flag), "
        f"{summary.duplicates} already in the store, {len(summary.skipped)} skipped, "
        f"{summary.ignored} non-audio files ignored"
    )
    unknown = sorted(set(summary.words) - set(campaign.words) - {NOISE_KEYWORD})
    if unknown:
        say(f"words not in the campaign: {', '.join(unknown)}")
    for path, earlier in summary.same_audio[:MAX_LISTED_SKIPS]:
        say(f"  not imported {path}: the same audio as {earlier}, in another encoding")
    for path, reason in summary.skipped[:MAX_LISTED_SKIPS]:
        say(f"  skipped {path}: {reason}")
    if len(summary.skipped) > MAX_LISTED_SKIPS:
        say(f"  ... and {len(summary.skipped) - MAX_LISTED_SKIPS} more skipped files")
    nothing_usable = summary.imported == 0 and summary.duplicates == 0 and summary.skipped
    return 1 if nothing_usable else 0


def run_export(args: argparse.Namespace) -> int:
    """``export --out FILE``: write the zip and print what went in."""
    from speechrec.export import check_destination, export_dataset

    options = _export_options(args)
    store = _store(args)
    check_destination(store.settings, args.out)  # before the campaign: nothing is read for a refused path
    campaign = _campaign(args, store)
    with _progress_bar("exporting", "file") as update:
        summary = export_dataset(store, campaign, args.out, options, progress=update)
    words = ", ".join(f"{word} {count}" for word, count in sorted(summary.files_per_keyword.items()))
    noise = {"recorded": "recorded", "assembled": "assembled from the takes", "silence": "digital silence"}
    say(
        f"wrote {args.out}: {summary.files} clips from {summary.speakers} speakers"
        f" ({words or 'none'}), {summary.background_noise_files} background noise files"
        f" ({noise[summary.background_noise]})"
    )
    for clip_id, reason in summary.skipped:
        say(f"  left out clip {clip_id}: {reason}")
    return 0


def run_check_model(args: argparse.Namespace) -> int:
    """``check-model``: run (or reuse) the model check and print its tables."""
    from speechrec.modelcheck import check_model

    if args.doubted < 0:
        raise ValueError(f"--doubted must be 0 or more, got {args.doubted!r}")
    store = _store(args)
    campaign = _campaign(args, store)
    with _progress_bar("checking", "%") as update:
        check = check_model(
            store, campaign, _export_options(args), lambda fraction, _: update(round(fraction * 100), 100)
        )
    speakers = check.clips["speaker_id"].nunique()
    say(f"model check of {len(check.clips)} clips from {speakers} speakers, {check.scheme}")
    say(f"accuracy on speakers the model never heard: {check.accuracy:.1%}")
    for note in check.notes:
        say(f"note: {note}")
    keywords = check.keyword_table().assign(accuracy=lambda table: (table["accuracy"] * 100).round(1))
    say("\nper word (accuracy in %):\n" + keywords.to_string(index=False))
    speakers_table = check.speaker_table().assign(accuracy=lambda table: (table["accuracy"] * 100).round(1))
    say("\nper speaker, worst first (accuracy in %):\n" + speakers_table.to_string(index=False))
    say("\nconfusions (rows: filed as, columns: the model's guess):\n" + check.confusion_table().to_string())
    doubted = check.doubted(args.doubted)
    if len(doubted):
        shown = doubted[["clip_id", "keyword", "speaker_id", "guess", "own_probability"]].round(3)
        say("\nmost doubted clips (own_probability: the model's probability of the word it is filed as):")
        say(shown.to_string(index=False))
    return 0


def run_stats(args: argparse.Namespace) -> int:
    """``stats``: per-word counts as a table or JSON."""
    from speechrec.stats import keyword_counts, noise_duration_s

    store = _store(args)
    campaign = _campaign(args, store)
    table = keyword_counts(store, campaign)
    noise_s = noise_duration_s(store)
    if args.json:
        say(
            json.dumps({"keywords": table.to_dict(orient="records"), "background_noise_s": round(noise_s, 3)}, indent=2)
        )
        return 0
    shown = table.drop(columns=["progress"]).assign(
        progress=(table["progress"] * 100).round().astype(int).astype(str) + "%"
    )
    say(shown.to_string(index=False))
    say(f"background noise: {noise_s:.1f} s")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """``check [--repair [--yes]]``: list mismatches of rows and audio; repair after confirmation.
    Exit 0 when nothing needs repair (or it was repaired), 1 when something does."""
    store = _store(args, clean=False)  # audio without rows is listed before anything removes it
    check = store.check_audio()
    say(f"checked {check.clips:,} clip rows and {check.audio_files:,} audio files")
    say(f"rows without audio: {len(check.rows_without_audio)}")
    for clip_id, key in check.rows_without_audio[:MAX_LISTED_SKIPS]:
        say(f"  clip {clip_id}: {key} is missing")
    _more(check.rows_without_audio)
    if check.known_missing:
        say(f"  ({check.known_missing} more already rejected as audio missing)")
    say(f"audio without a row: {len(check.audio_without_rows)}")
    for key in check.audio_without_rows[:MAX_LISTED_SKIPS]:
        say(f"  {key}")
    _more(check.audio_without_rows)
    if check.recent_without_rows:
        say(f"  ({len(check.recent_without_rows)} written in the last minutes, maybe a take being stored: left alone)")
    if check.most_audio_missing:
        say(
            f"most clip rows have no audio in {store.audio.display_url}: is that the right storage location? "
            "(--store, SPEECHREC_STORAGE_URL)"
        )
    if not check.problems:
        return 0
    if args.repair and check.most_audio_missing and not args.force:
        store.repair_audio(check)  # refuses, saying why, before any question
    if not args.repair:
        say("run `python -m speechrec check --repair` to reject those rows and delete those files")
        return 1
    question = (
        f"Reject {len(check.rows_without_audio)} clips (reason: audio missing) and delete "
        f"{len(check.audio_without_rows)} audio files? [y/N] "
    )
    if not args.yes:
        if not sys.stdin.isatty():
            raise ValueError("--repair asks for a confirmation; not in a terminal, add --yes to repair without asking")
        if input(question).strip().lower() not in {"y", "yes"}:
            say("nothing changed")
            return 1
    rejected, deleted = store.repair_audio(check, force=args.force)
    say(f"rejected {rejected} clips (audio missing) and deleted {deleted} audio files")
    return 0


def _more(items: list) -> None:
    if len(items) > MAX_LISTED_SKIPS:
        say(f"  ... and {len(items) - MAX_LISTED_SKIPS} more")


def run_hash_password(args: argparse.Namespace) -> int:
    """``hash-password``: read a password without echoing it and print its hash."""
    from speechrec.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Organizer password: ")
        if getpass.getpass("Again: ") != password:
            raise ValueError("the two passwords differ; run the command again")
    else:
        password = sys.stdin.readline().rstrip("\n")
    say(hash_password(password))
    return 0


def run_upgrade(args: argparse.Namespace) -> int:
    """``upgrade [--dry-run]``: run or list the schema revisions the database lacks."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from speechrec.errors import StoreError
    from speechrec.migrations import pending_steps, schema_state, upgrade_schema
    from speechrec.schema import NO_STORE_HINT, SCHEMA_VERSION, create_engine, sqlite_file_exists, store_place

    settings = load_settings(args.store)
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    no_store = StoreError(f"no speechrec store in {store_place(settings)}: {NO_STORE_HINT}")
    if not sqlite_file_exists(settings.database_url):
        raise no_store  # before SQLite makes an empty file of a mistyped path
    try:
        engine = create_engine(settings.database_url)
        with engine.connect() as connection:
            state = schema_state(connection)
        if state.is_empty:
            engine.dispose()
            raise no_store
        steps = pending_steps(state)
        if steps and not args.dry_run:
            steps = upgrade_schema(engine)
        engine.dispose()
    except SQLAlchemyError as error:  # the message names the problem, never the URL's password
        # Not chained: a failed connection's traceback holds the connection arguments, password too.
        raise StoreError(f"cannot open the database: {getattr(error, 'orig', None) or error}") from None
    if not steps:
        say(f"{where}: up to date (schema version {SCHEMA_VERSION})")
        return 0
    say(f"{where}: {'would run' if args.dry_run else 'ran'} {len(steps)} step(s) to schema version {SCHEMA_VERSION}")
    for step in steps:
        kept = " (its tables are already there: only recorded)" if step.recorded_only else ""
        say(f"  {step.revision} {step.description}{kept}")
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    """``migrate``: copy one store into another and print what was copied (never a password)."""
    from sqlalchemy.engine import make_url

    from speechrec.migrate import migrate_store

    source, target = _migrate_side(args, "from"), _migrate_side(args, "to")
    with _progress_bar("migrating", "clip") as update:
        summary = migrate_store(source, target, progress=update)
    say(
        f"migrated {summary.speakers} speakers and {summary.clips} clips "
        f"({summary.audio_bytes / 1e6:.1f} MB of audio) to "
        f"{make_url(target.database_url).render_as_string(hide_password=True)} and {redact_url(target.storage_url)}; "
        "counts and SHA-256 checksums match"
    )
    return 0


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    """--select, --clip-duration and --sample-rate: which clips an export holds and how they are cut."""
    parser.add_argument(
        "--select",
        choices=["accepted", "default", "all"],
        default="default",
        help="accepted: accepted clips only; default: accepted plus pending without a quality flag; "
        "all: accepted plus every pending clip. Rejected clips are never exported.",
    )
    parser.add_argument("--clip-duration", type=float, metavar="S", help="clip length in seconds (default: campaign's)")
    parser.add_argument("--sample-rate", type=int, metavar="HZ", help="sample rate (default: campaign's)")
    parser.add_argument(
        "--cut",
        choices=["speech", "loudest"],
        default="speech",
        help="speech: each clip centred on the detected speech, short takes padded with their room noise "
        "(default); loudest: the loudest window, short takes padded with silence (the old cut)",
    )


def _export_options(args: argparse.Namespace):
    from speechrec.export import ExportOptions

    layout = getattr(args, "layout", "speech-commands").replace("-", "_")
    return ExportOptions(
        selection=args.select,
        clip_duration_s=args.clip_duration,
        sample_rate=args.sample_rate,
        cut=args.cut,
        layout=layout,
    )


def _migrate_side(args: argparse.Namespace, side: str) -> Settings:
    store, database, storage = (getattr(args, f"{side}_{name}") for name in ("store", "database", "storage"))
    if store is None and (database is None or storage is None):
        raise ValueError(
            f"say which store to migrate {side}: --{side}-store DIR, or both --{side}-database URL "
            f"and --{side}-storage URL"
        )
    # Only what is given here counts: SPEECHREC_* variables must not pick a side silently.
    return load_settings(store, database_url=database, storage_url=storage, environ={})


def _campaign(args: argparse.Namespace, store) -> Campaign:
    """``--campaign FILE`` if given, else the campaign organizers saved in the app, else the default file."""
    if args.campaign:
        return load_campaign(args.campaign)
    return store.saved_campaign() or load_campaign(campaign_path())


def _store(args: argparse.Namespace, *, create: bool = False, clean: bool = True):
    """The store of ``--store``; only ``create=True`` (import) makes one where there is none."""
    from speechrec.store import ClipStore

    return ClipStore(load_settings(args.store), create=create, clean=clean)


def _not_empty(value: str) -> str:
    """argparse type: a path or URL that is not empty (``--store ""`` must not mean ./data)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty; give a path, or leave the option out for the default")
    return value


class _progress_bar:
    """A tqdm bar on stderr fed by ``progress(done, total)`` callbacks (quiet when not a terminal)."""

    def __init__(self, description: str, unit: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(desc=description, unit=unit, disable=None, file=sys.stderr)

    def __enter__(self) -> Callable[[int, int], None]:
        def update(done: int, total: int) -> None:
            self._bar.total = total
            self._bar.update(done - self._bar.n)

        return update

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()


def _urls(args: argparse.Namespace) -> list[str | None]:
    """Every database and storage URL this command was given (options, then environment): secrets to redact."""
    given = [value for name, value in vars(args).items() if name.endswith(("_database", "_storage"))]
    return [*given, os.environ.get(DATABASE_URL_ENV), os.environ.get(STORAGE_URL_ENV)]


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
