"""The API of a kube-shields check written in Python (`<service>.py` in the plugin directory).

    from kube_shields import check, shield, log, http_get

    @check
    def running(ctx):
        "Running pods out of all."
        up = sum(1 for pod in ctx.pods if pod.phase == "Running")
        return shield(f"{up}/{len(ctx.pods)}", color="green" if up == len(ctx.pods) else "red")

See example-plugins/python/README.md for the whole API.
"""

from datetime import datetime
import json as _json

from wit_world.imports import http as _http
from wit_world.imports import logging as _logging
from wit_world.imports import workload as _workload
from componentize_py_types import Err as _Err

__all__ = ["check", "shield", "log", "http_get", "HttpError", "Shield"]

# name -> (function, description); filled while the script runs, read by the runtime.
_checks = {}


def check(function=None, *, name=None, description=None):
    """Registers a check: `@check` (named after the function, described by its docstring)
    or `@check(name="p99-latency", description="...")`. The function takes the context
    and returns a value (shown as is) or `shield(...)`; raising makes the check fail."""

    def register(fn):
        check_name = name or fn.__name__
        text = description or (fn.__doc__ or "").strip().split("\n")[0] or None
        _checks[check_name] = (fn, text)
        return fn

    return register(function) if function is not None else register


def _text(what, value):
    """A badge's text: strings as they are, numbers and booleans written out."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TypeError(f"shield(): {what} is a str or a number, not {type(value).__name__}")


class Shield:
    """A badge of the check's own making (see `shield`)."""

    __slots__ = ("status", "color", "label")

    def __init__(self, status, color=None, label=None):
        self.status = _text("status", status)
        self.color = None if color is None else _text("color", color)
        self.label = None if label is None else _text("label", label)

    def __repr__(self):
        return f"shield({self.status!r}, color={self.color!r}, label={self.label!r})"


def shield(status, color=None, label=None):
    """A badge: `status` on the right; `color` a shields.io color name or hex (orange when
    absent); `label` on the left (the check name when absent)."""
    return Shield(status, color, label)


_LEVELS = {
    "debug": _logging.Level.DEBUG,
    "info": _logging.Level.INFO,
    "warn": _logging.Level.WARN,
    "warning": _logging.Level.WARN,
    "error": _logging.Level.ERROR,
}


def log(message, level="info"):
    """Writes to the kube-shields log, tagged with plugin and check (`print` works too).
    `level`: debug, info, warn or error."""
    try:
        wit_level = _LEVELS[level]
    except KeyError:
        raise ValueError(f"log level must be one of debug, info, warn, error; not {level!r}")
    _logging.log(wit_level, str(message))


class HttpError(Exception):
    """`http_get` got no answer; `kind` is `denied`, `timeout`, `body-too-large` or `failed`."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class Response:
    """An HTTP answer: `status` (int), `headers` (dict, lower-case names), `body` (bytes),
    `text` (body as UTF-8) and `json()`."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return _json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status}, {len(self.body)} bytes>"


def http_get(url, headers=None):
    """GETs `url` (http:// or https://). Allowed: the service's pod IPs (any port) and the
    plugin's `allowed_hosts`; the body is capped and the wait counts against the deadline.
    Raises `HttpError` when there is no answer; any HTTP status is an answer."""
    pairs = [(str(k), str(v)) for k, v in (headers or {}).items()]
    try:
        answer = _http.get(str(url), pairs)
    except _Err as err:
        reason = err.value
        if isinstance(reason, _http.HttpError_Denied):
            raise HttpError("denied", f"HTTP GET {url} denied: {reason.value}") from None
        if isinstance(reason, _http.HttpError_Timeout):
            raise HttpError("timeout", f"HTTP GET {url}: no answer before the deadline") from None
        if isinstance(reason, _http.HttpError_BodyTooLarge):
            raise HttpError(
                "body-too-large", f"HTTP GET {url}: body longer than {reason.value} bytes"
            ) from None
        raise HttpError("failed", f"HTTP GET {url}: {reason.value}") from None
    return Response(answer.status, dict(answer.headers), bytes(answer.body))


# --- The context a check receives: plain Python objects with snake_case attributes. ---


class Container:
    """`name`, `image`, `ready` (bool), `restart_count`, `state` (running, waiting,
    terminated, unknown) and `reason` (e.g. CrashLoopBackOff, or None)."""

    __slots__ = ("name", "image", "ready", "restart_count", "state", "reason")

    def __init__(self, c):
        self.name, self.image, self.ready = c.name, c.image, c.ready
        self.restart_count, self.state, self.reason = c.restart_count, c.state, c.reason

    def __repr__(self):
        return f"<Container {self.name} {self.state}>"


class Pod:
    """`name`, `namespace`, `phase`, `pod_ip`, `pod_ips`, `node_name`, `labels` and
    `annotations` (dicts), `created` (aware datetime or None), `containers`; and the
    shortcuts `ready` (every container ready) and `restarts` (their sum)."""

    __slots__ = (
        "name", "namespace", "phase", "pod_ip", "pod_ips", "node_name",
        "labels", "annotations", "created", "containers",
    )

    def __init__(self, p):
        self.name, self.namespace, self.phase = p.name, p.namespace, p.phase
        self.pod_ip, self.pod_ips, self.node_name = p.pod_ip, list(p.pod_ips), p.node_name
        self.labels, self.annotations = dict(p.labels), dict(p.annotations)
        self.created = datetime.fromisoformat(p.created) if p.created else None
        self.containers = [Container(c) for c in p.containers]

    @property
    def ready(self):
        return bool(self.containers) and all(c.ready for c in self.containers)

    @property
    def restarts(self):
        return sum(c.restart_count for c in self.containers)

    def __repr__(self):
        return f"<Pod {self.namespace}/{self.name} {self.phase}>"


class Condition:
    """A status condition of a controller: `type` (e.g. Available, Progressing, Complete),
    `status` (True, False, Unknown), `reason` and `message` (or None)."""

    __slots__ = ("type", "status", "reason", "message")

    def __init__(self, c):
        self.type, self.status, self.reason, self.message = c.type, c.status, c.reason, c.message

    def __repr__(self):
        return f"<Condition {self.type}={self.status}>"


class Controller:
    """The controller of the service's pods in one namespace: `kind` (Deployment,
    StatefulSet, DaemonSet, ReplicaSet, Job, CronJob), `name`, `namespace`, `generation`,
    `observed_generation` and `replicas` (int or None), `conditions` (list of Condition),
    `rollout_status` (kstatus': Current, InProgress, Failed, Terminating, Unknown) and
    `rollout_message` (e.g. `Updated: 2/3`); `condition(type)` finds one condition."""

    __slots__ = (
        "kind", "name", "namespace", "generation", "observed_generation", "replicas",
        "conditions", "rollout_status", "rollout_message",
    )

    def __init__(self, c):
        self.kind, self.name, self.namespace = c.kind, c.name, c.namespace
        self.generation, self.observed_generation = c.generation, c.observed_generation
        self.replicas = c.replicas
        self.conditions = [Condition(x) for x in c.conditions]
        self.rollout_status, self.rollout_message = c.rollout_status, c.rollout_message

    def condition(self, type):
        """The condition of that type (`"Available"`), or None."""
        return next((c for c in self.conditions if c.type == type), None)

    def __repr__(self):
        return f"<Controller {self.kind} {self.namespace}/{self.name} {self.rollout_status}>"


class Context:
    """`service` (name), `pods` (list of Pod), `config` (dict of str from the settings'
    `[config]`) and `controllers` (list of Controller: one per namespace of the pods; asked
    of kube-shields the first time a check reads it)."""

    __slots__ = ("service", "pods", "config", "_controllers")

    def __init__(self, ctx):
        self.service = ctx.service
        self.pods = [Pod(p) for p in ctx.pods]
        self.config = dict(ctx.config)
        self._controllers = None

    @property
    def controllers(self):
        if self._controllers is None:
            self._controllers = [Controller(c) for c in _workload.controllers()]
        return self._controllers

    def __repr__(self):
        return f"<Context {self.service}: {len(self.pods)} pods>"
