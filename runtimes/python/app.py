"""The Python language runtime of kube-shields (world `script-runtime`).

On every call (a fresh instance of the snapshot componentize-py made at build time) it
reads the author's script through `script.source`, runs it, and dispatches `checks` to
the functions it registered with `@kube_shields.check`.
"""

import builtins
import sys
import traceback

# Imported here so they are in the build-time snapshot: free for every script.
import base64, collections, collections.abc, dataclasses, datetime, functools, hashlib, itertools  # noqa: E401,F401
import json, math, random, re, statistics, string, textwrap, time  # noqa: E401,F401
import urllib.parse  # noqa: F401

import kube_shields
from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import script, types

_NO_FILES = (
    "no filesystem: kube-shields checks cannot open files; "
    "use the context and ctx.config instead"
)
_NO_SOCKETS = (
    "no sockets: kube-shields checks reach the network only through "
    "kube_shields.http_get(url)"
)


def _no_open(file, *args, **kwargs):
    raise PermissionError(f"{_NO_FILES} (tried to open {file!r})")


builtins.open = _no_open
try:
    import io

    io.open = _no_open
except ImportError:
    pass
try:
    import socket

    class _NoSocket:
        def __init__(self, *args, **kwargs):
            raise PermissionError(_NO_SOCKETS)

    socket.socket = _NoSocket
    socket.create_connection = _NoSocket
except ImportError:
    pass


class ScriptError(Exception):
    """The script failed to load; the message names file and line."""


def _where(file_name, err):
    """`web.py:12: ValueError: text`, the line being the deepest frame in the script."""
    if isinstance(err, SyntaxError) and err.filename == file_name:
        return f"{file_name}:{err.lineno}: SyntaxError: {err.msg}"
    line = None
    for frame, lineno in traceback.walk_tb(err.__traceback__):
        if frame.f_code.co_filename == file_name:
            line = lineno
    detail = "".join(traceback.format_exception_only(type(err), err)).strip()
    where = f"{file_name}:{line}" if line is not None else file_name
    return f"{where}: {detail}"


def _load():
    """Runs the script, which registers its checks; `script.fail` ends the call if it
    does not load (the host reports the message)."""
    source = script.source()
    # The snapshot froze the generator's state at build time: every instance would draw
    # the same numbers.
    random.seed()
    kube_shields._checks.clear()
    sys.modules.pop("__plugin__", None)
    try:
        code = compile(source.text, source.file_name, "exec")
        namespace = {"__name__": "__plugin__", "__file__": source.file_name}
        exec(code, namespace)
    except BaseException as err:  # noqa: BLE001 - any failure is the script's
        script.fail(_where(source.file_name, err))
    return source.file_name


def _outcome(check_name, value):
    if isinstance(value, kube_shields.Shield):
        return types.Outcome_Shield(
            types.Shield(
                label=None if value.label is None else str(value.label),
                status=value.status,
                color=None if value.color is None else str(value.color),
            )
        )
    if value is None:
        raise Err(f"check `{check_name}` returned None; return a value or shield(...)")
    if isinstance(value, (collections.abc.Awaitable, collections.abc.Generator)):
        # An `async def` check (or one that yields): close it unstarted, so no
        # "never awaited" warning follows, and say why it cannot run.
        getattr(value, "close", lambda: None)()
        raise Err(
            f"check `{check_name}` returned {type(value).__name__}: checks are synchronous "
            "(def, not async def; no yield); kube_shields.http_get(url) returns the response itself"
        )
    if callable(value):
        raise Err(
            f"check `{check_name}` returned {type(value).__name__} {getattr(value, '__name__', '')!s}; "
            "return a value or shield(...) (call the function?)"
        )
    if isinstance(value, bool):
        return types.Outcome_Raw("true" if value else "false")
    return types.Outcome_Raw(str(value))


class Checks(exports.Checks):
    def list_checks(self):
        _load()
        return [
            types.CheckInfo(name=name, description=description)
            for name, (_fn, description) in kube_shields._checks.items()
        ]

    def run_check(self, name, ctx):
        file_name = _load()
        registered = kube_shields._checks.get(name)
        if registered is None:
            raise Err(f"{file_name} has no check `{name}`")
        function, _description = registered
        try:
            value = function(kube_shields.Context(ctx))
        except Err:
            raise
        except BaseException as err:  # noqa: BLE001 - the check's failure, with its line
            raise Err(_where(file_name, err))
        return _outcome(name, value)
