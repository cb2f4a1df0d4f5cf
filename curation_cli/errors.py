"""One-line error messages: the root cause of an exception or of a Dagster step failure, never a wrapper's text."""


class CliError(Exception):
    """An error the user can fix (bad flag, missing crawl root, instance in use); printed as one line."""


def _line(text: str) -> str:
    from curation.core.credentials import redact_text

    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return redact_text(" ".join(lines))[:400] if lines else ""


def exception_line(exc: BaseException) -> str:
    """``Type: message`` of the innermost cause of ``exc``, on one line."""
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__
    msg = _line(str(exc))
    if isinstance(exc, (CliError,)) or type(exc).__name__ in ("Failure", "SettingsError"):
        return msg
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def error_info_line(error) -> str:
    """The root cause of a Dagster ``SerializableErrorInfo`` (its innermost ``cause``), on one line."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    msg = _line(error.message)
    name = error.cls_name or ""
    # messages read "dotted.module.Type: text"; keep "Type: text" (just "text" for a dg.Failure)
    head, sep, tail = msg.partition(": ")
    if sep and head.split(".")[-1] == name:
        msg = tail if name == "Failure" else f"{name}: {tail}"
    return msg or name or "unknown error"
