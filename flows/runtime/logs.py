"""Console and log file for the command line: one line per failure on screen, traces in the file.

Prefect logs a failing task or flow with its whole traceback, once per level of nesting; on the
console that buried the one line that mattered. Here the console keeps Prefect's progress lines
but shows each record on one line without its traceback, and a log file (settings.storage.log_path)
receives everything, traces included. No secret reaches either: the formatters scrub them.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flows.settings import Settings
from flows.sources.contract import scrub

FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def secrets_of(settings: Settings) -> list[str]:
    """Values that must never be printed or written: passwords and secret keys."""
    values = [settings.s3.secret_access_key.get_secret_value()]
    for url in (
        settings.sources.source_db_url.get_secret_value(),
        settings.sources.catalog_api_url,
    ):
        values.append(urlsplit(url).password or "")
    return [value for value in values if value]


class _Scrubbing(logging.Formatter):
    def __init__(self, inner: logging.Formatter, secrets: list[str], one_line: bool) -> None:
        super().__init__()
        self.inner, self.secrets, self.one_line = inner, secrets, one_line

    def format(self, record: logging.LogRecord) -> str:
        if self.one_line:
            record = logging.makeLogRecord(record.__dict__)
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        text = scrub(self.inner.format(record), self.secrets)
        return " ".join(text.split("\n")) if self.one_line else text


class _RoutineTaskEnds(logging.Filter):
    """Drops, on the console only, Prefect's "Finished in state Completed()" of each task run:
    the catalog alone ran 25 fetch tasks, 25 lines; each source's flow says what it landed in
    one line instead. Failures, retries and the log file keep every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name == "prefect.task_runs"
            and record.levelno == logging.INFO
            and record.getMessage().startswith("Finished in state Completed")
        )


class _LogFile(logging.FileHandler):
    """The command line's log file (a class of its own, so it is added once)."""


def configure(settings: Settings) -> None:
    """Console handlers print one scrubbed line per record; a file handler keeps everything."""
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()  # Prefect's handlers first, so that theirs are the ones adjusted
    if any(isinstance(h, _LogFile) for h in logging.getLogger().handlers):
        return
    secrets = secrets_of(settings)
    settings.storage.log_path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = _LogFile(settings.storage.log_path, encoding="utf-8")
    file_handler.setFormatter(_Scrubbing(logging.Formatter(FILE_FORMAT), secrets, one_line=False))
    loggers = [logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and logger.name.startswith("prefect")
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                inner = handler.formatter or logging.Formatter()
                if not isinstance(inner, _Scrubbing):
                    handler.setFormatter(_Scrubbing(inner, secrets, one_line=True))
                    handler.addFilter(_RoutineTaskEnds())
        if logger is logging.getLogger() or (logger.handlers and not logger.propagate):
            logger.addHandler(file_handler)
    own = logging.getLogger("lakehouse")  # the command's own records: the file only
    own.setLevel(logging.INFO)
    own.propagate = False
    own.addHandler(file_handler)
