"""Checks for the `web` service: drop this file into the plugin directory as `web.py`."""

from kube_shields import HttpError, check, http_get, log, shield


@check
def running(ctx):
    """Running pods out of all: green when all run, red otherwise."""
    total = len(ctx.pods)
    if total == 0:
        return shield("no pods", color="lightgrey")
    up = sum(1 for pod in ctx.pods if pod.phase == "Running")
    return shield(f"{up}/{total} running", color="green" if up == total else "red")


@check
def release(ctx):
    """The release named in the settings' [config] (`release = "..."`)."""
    return ctx.config.get("release", "unknown")


@check
def version(ctx):
    """What each pod answers on http://<pod IP>:<port><path> (config `port`, `path`)."""
    port = ctx.config.get("port", "8080")
    path = ctx.config.get("path", "/version")
    answers = []
    for pod in ctx.pods:
        if pod.pod_ip is None:
            continue
        host = f"[{pod.pod_ip}]" if ":" in pod.pod_ip else pod.pod_ip
        try:
            response = http_get(f"http://{host}:{port}{path}")
        except HttpError as err:
            log(f"pod {pod.name}: {err}", "warn")
            continue
        if response.status == 200:
            answers.append(response.text.strip())
        else:
            log(f"pod {pod.name}: HTTP {response.status}", "warn")
    if not answers:
        return shield("no answer", color="red")
    if len(set(answers)) == 1 and len(answers) == len(ctx.pods):
        return shield(answers[0], color="green")
    return shield(", ".join(sorted(set(answers))), color="yellow")
