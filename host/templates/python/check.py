"""Checks for the `{service}` service. Try them: kube-shields check {service}.py --pods pods.json"""

from kube_shields import check, log, shield


@check
def running(ctx):
    """Running pods out of all: green when all run, red otherwise."""
    total = len(ctx.pods)
    if total == 0:
        return shield("no pods", color="lightgrey")
    up = sum(1 for pod in ctx.pods if pod.phase == "Running")
    log(f"{up} of {total} pods run")
    return shield(f"{up}/{total} running", color="green" if up == total else "red")


@check
def release(ctx):
    """The release named in {service}.toml's [config]."""
    return ctx.config.get("release", "unknown")
