#!/usr/bin/env python3
"""Runs the kube-shields binary the way the kubelet runs the shipped Deployment, and fails where a
cluster would: an OOM kill under the manifest's memory limit, a failed liveness (or startup) probe,
or a readiness that never comes.

- Reads the container's memory limit and probes from `kubectl kustomize deploy/` (the plain
  deploy/base/deployment.yaml without kubectl).
- Starts `serve` in a memory cgroup with that limit (cgroup v2, else v1; skips with a clear message
  where neither is writable), in public mode with the demo pods file and a plugin directory laid
  out as a ConfigMap volume (`..data` link) holding a Rust, a C, a Python and a JavaScript plugin,
  a cold compile cache and the runtimes not precompiled (unless --precompiled).
- Probes it as the kubelet does: the startupProbe first, then liveness and readiness, each with
  its period, timeout and failure threshold.
- Once ready: every plugin answers; then a `..data` swap hot-drops a second plugin of each
  language, which must answer while liveness keeps passing; then a restart on the warm cache.
- Prints time to ready (cold, warm), peak memory (the cgroup's, and the process's VmHWM) and the
  resident memory a while after the swap.

Usage: scripts/kubelet-test.py BINARY [--precompiled]. Exits 0 when every phase passed, 1 when one
failed, 0 with SKIP when no cgroup can be made.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(message):
    print(f"kubelet-test: FAIL: {message}", flush=True)
    sys.exit(1)


def quantity(text):
    """A Kubernetes memory quantity in bytes (Ki, Mi, Gi, or plain)."""
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 1000, "M": 10**6, "G": 10**9}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def manifest_container():
    """The kube-shields container of the rendered Deployment."""
    import yaml

    try:
        rendered = subprocess.run(
            ["kubectl", "kustomize", os.path.join(ROOT, "deploy")],
            check=True, capture_output=True, text=True,
        ).stdout
        source = "kubectl kustomize deploy/"
    except (OSError, subprocess.CalledProcessError):
        with open(os.path.join(ROOT, "deploy/base/deployment.yaml")) as f:
            rendered = f.read()
        source = "deploy/base/deployment.yaml"
    for obj in yaml.safe_load_all(rendered):
        if obj and obj["kind"] == "Deployment":
            return obj["spec"]["template"]["spec"]["containers"][0], source
    fail("no Deployment in the manifests")


class Cgroup:
    """A memory cgroup with a limit: v2 where mounted, else v1."""

    def __init__(self, limit):
        name = f"kube-shields-kubelet-test-{os.getpid()}"
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            self.v2, self.path = True, f"/sys/fs/cgroup/{name}"
        else:
            self.v2, self.path = False, f"/sys/fs/cgroup/memory/{name}"
        os.mkdir(self.path)
        if self.v2:
            self.write("memory.max", str(limit))
            self.write("memory.swap.max", "0")
        else:
            self.write("memory.limit_in_bytes", str(limit))

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value)

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read()

    def reset_peak(self):
        if not self.v2:
            self.write("memory.max_usage_in_bytes", "0")

    def peak(self):
        """Peak memory charged to the cgroup (anonymous and page cache) since the last reset."""
        try:
            return int(self.read("memory.peak" if self.v2 else "memory.max_usage_in_bytes"))
        except OSError:
            return None

    def oom_kills(self):
        text = self.read("memory.events" if self.v2 else "memory.oom_control")
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)


def get(url, timeout):
    """Status code of a GET (0 when nothing answered in time)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


class Probe:
    """One kubelet probe: an httpGet with period, timeout and thresholds."""

    def __init__(self, kind, spec, port):
        self.kind = kind
        self.path = spec["httpGet"]["path"]
        self.url = f"http://127.0.0.1:{port}{self.path}"
        self.period = spec.get("periodSeconds", 10)
        self.timeout = spec.get("timeoutSeconds", 1)
        self.failure_threshold = spec.get("failureThreshold", 3)
        self.initial_delay = spec.get("initialDelaySeconds", 0)
        self.failures = 0
        self.next_at = None

    def due(self, now, started):
        if self.next_at is None:
            self.next_at = started + self.initial_delay
        return now >= self.next_at

    def run(self, now):
        self.next_at = now + self.period
        status, _ = get(self.url, self.timeout)
        passed = 200 <= status < 400
        self.failures = 0 if passed else self.failures + 1
        return passed


class Server:
    """`kube-shields serve` in the cgroup, probed as the kubelet probes it."""

    def __init__(self, binary, cgroup, container, env, log):
        self.cgroup = cgroup
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        probes = {kind: container.get(f"{kind}Probe") for kind in ("startup", "liveness", "readiness")}
        if not probes["liveness"] or not probes["readiness"]:
            fail("the Deployment needs liveness and readiness probes")
        self.probes = {kind: Probe(kind, spec, port) for kind, spec in probes.items() if spec}
        self.started_up = "startup" not in self.probes
        self.ready_at = None
        cgroup.reset_peak()
        procs = os.path.join(cgroup.path, "cgroup.procs")
        # The shell joins the cgroup, then becomes the server: every byte it maps is charged.
        self.process = subprocess.Popen(
            ["sh", "-c", f'echo $$ > {procs} && exec "$0" serve', binary],
            env={**env, "LISTEN": f"127.0.0.1:{port}"},
            stdout=log, stderr=log,
        )
        self.started = time.monotonic()

    def vm_hwm(self):
        try:
            with open(f"/proc/{self.process.pid}/status") as f:
                for line in f:
                    if line.startswith(("VmHWM:", "VmRSS:")):
                        yield line.split(":")[0], int(line.split()[1]) * 1024
        except OSError:
            return

    def memory(self):
        return dict(self.vm_hwm())

    def step(self):
        """Runs the probes that are due; fails as the kubelet would restart the container."""
        if self.process.poll() is not None:
            kills = self.cgroup.oom_kills()
            fail(f"the server exited with {self.process.returncode}"
                 + (f" (OOM-killed: {kills} kill(s) in the cgroup)" if kills else ""))
        now = time.monotonic()
        order = ["startup"] if not self.started_up else ["liveness", "readiness"]
        for kind in order:
            probe = self.probes[kind]
            if not probe.due(now, self.started):
                continue
            passed = probe.run(now)
            if kind == "startup" and passed:
                self.started_up = True
                for other in ("liveness", "readiness"):
                    self.probes[other].next_at = now
            elif kind == "readiness" and passed and self.ready_at is None:
                self.ready_at = now - self.started
            elif kind in ("startup", "liveness") and probe.failures >= probe.failure_threshold:
                fail(f"{kind} probe {probe.path} failed {probe.failures} times in a row "
                     f"({time.monotonic() - self.started:.1f} s after start): the kubelet restarts the container")

    def run_for(self, seconds, until=None):
        """Probes for `seconds`, or until `until()` is true (then returns True)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.step()
            if until and until():
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configmap_swap(volume, files):
    """Writes `files` as the kubelet updates a ConfigMap volume: a new timestamped folder, the
    `..data` link swapped to it atomically, and a link per key into `..data`."""
    folder = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
    os.mkdir(os.path.join(volume, folder))
    for name, source in files.items():
        shutil.copy(source, os.path.join(volume, folder, name))
    os.symlink(folder, os.path.join(volume, "..data_tmp"))
    os.rename(os.path.join(volume, "..data_tmp"), os.path.join(volume, "..data"))
    for name in files:
        link = os.path.join(volume, name)
        if not os.path.islink(link):
            os.symlink(os.path.join("..data", name), link)


def answers(base, service, check):
    status, body = get(f"{base}/_/{service}/{check}/?format=json", 2)
    if status != 200:
        return None
    badge = json.loads(body)
    return None if badge.get("isError") else badge["message"]


def mib(n):
    return "?" if n is None else f"{n / (1 << 20):.1f} MiB"


def main():
    if len(sys.argv) < 2:
        fail("usage: scripts/kubelet-test.py BINARY [--precompiled]")
    binary = os.path.abspath(sys.argv[1])
    precompiled = "--precompiled" in sys.argv[2:]
    container, source = manifest_container()
    limit = quantity(container["resources"]["limits"]["memory"])
    probes = {kind: container.get(f"{kind}Probe") for kind in ("startup", "liveness", "readiness")}
    print(f"kubelet-test: {source}: memory limit {mib(limit)}, probes "
          + ", ".join(f"{kind} {p['httpGet']['path']} every {p.get('periodSeconds', 10)} s, "
                      f"timeout {p.get('timeoutSeconds', 1)} s, {p.get('failureThreshold', 3)} failures"
                      for kind, p in probes.items() if p), flush=True)
    try:
        Cgroup(limit).remove()
    except OSError as error:
        print(f"kubelet-test: SKIP: cannot make a memory cgroup here ({error}); run as root on a "
              "machine with cgroup v1 or v2 mounted at /sys/fs/cgroup")
        return
    steady_seconds = float(os.environ.get("KUBELET_TEST_STEADY_SECONDS", "10"))
    work = tempfile.mkdtemp(prefix="kubelet-test-")
    plugins = {
        "web.wasm": "example-plugins/target/wasm32-wasip2/release/web.wasm",
        "cweb.wasm": "example-plugins/c/target/web.wasm",
        "pyweb.py": "example-plugins/python/web.py",
        "jsweb.js": "example-plugins/js/web.js",
    }
    dropped = {
        "tags.wasm": "example-plugins/target/wasm32-wasip2/release/image_tags.wasm",
        "cweb2.wasm": "example-plugins/c/target/web.wasm",
        "pyweb2.py": "example-plugins/python/web.py",
        "jsweb2.js": "example-plugins/js/web.js",
    }
    checks = {"web": "running", "cweb": "release", "pyweb": "running", "jsweb": "running",
              "tags": "image", "cweb2": "release", "pyweb2": "running", "jsweb2": "running"}
    runtimes = os.path.join(work, "runtimes")
    os.mkdir(runtimes)
    for runtime in ("python.wasm", "js.wasm"):
        shutil.copy(os.path.join(ROOT, "target/runtimes", runtime), runtimes)
    if precompiled:
        subprocess.run([binary, "precompile", "--runtime-dir", runtimes], check=True)
    volume = os.path.join(work, "plugins")
    os.mkdir(volume)
    configmap_swap(volume, {name: os.path.join(ROOT, path) for name, path in plugins.items()})
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "RUST_LOG": "info",
        "PLUGIN_DIR": volume,
        "CACHE_DIR": os.path.join(work, "cache", "compiled"),
        "RUNTIME_DIR": runtimes,
        "PODS_FILE": os.path.join(ROOT, "demo/pods.json"),
        "OTHER_SHIELDS": "None",
    }
    os.mkdir(os.path.join(work, "cache"))
    os.chmod(os.path.join(work, "cache"), 0o777)  # as an emptyDir is
    log_path = os.path.join(work, "server.log")
    results = {}
    server = None
    cgroup = None
    try:
        with open(log_path, "w") as log:
            for phase in ("cold", "warm"):
                # A cgroup per start, as per container: its peak is that start's.
                cgroup = Cgroup(limit)
                server = Server(binary, cgroup, container, env, log)
                wait = max(180, sum(p.get("periodSeconds", 10) * p.get("failureThreshold", 3)
                                    for p in probes.values() if p))
                if not server.run_for(wait, until=lambda: server.ready_at is not None):
                    fail(f"{phase}: not ready within {wait} s")
                expected = [s for s in checks if s in {n.split('.')[0] for n in plugins}]
                missing = [s for s in expected if answers(server.base, s, checks[s]) is None]
                if missing:
                    fail(f"{phase}: ready, but these plugins do not answer: {missing}")
                results[phase] = {"ready": server.ready_at, "peak": server.cgroup.peak(),
                                  **server.memory()}
                if phase == "cold":
                    configmap_swap(volume, {**{n: os.path.join(ROOT, p) for n, p in plugins.items()},
                                            **{n: os.path.join(ROOT, p) for n, p in dropped.items()}})
                    swapped = time.monotonic()
                    all_answer = lambda: all(answers(server.base, s, checks[s]) is not None for s in checks)
                    if not server.run_for(180, until=all_answer):
                        fail("hot-dropped plugins did not all answer within 180 s")
                    results["hot-drop"] = {"ready": time.monotonic() - swapped,
                                           "peak": server.cgroup.peak(), **server.memory()}
                    server.run_for(steady_seconds)
                    results[f"+{steady_seconds:.0f} s"] = {"peak": server.cgroup.peak(), **server.memory()}
                    plugins = {**plugins, **dropped}
                server.stop()
                server = None
                kills = cgroup.oom_kills()
                if kills:
                    fail(f"{phase}: {kills} OOM kill(s) in the cgroup")
                cgroup.remove()
                cgroup = None
    except SystemExit:
        with open(log_path) as log:
            print("kubelet-test: the server's log, last lines:\n" + "".join(log.readlines()[-40:]))
        raise
    finally:
        if server:
            server.stop()
        if cgroup:
            cgroup.remove()
        if os.environ.get("KUBELET_TEST_KEEP"):
            print(f"kubelet-test: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    label = "precompiled runtimes" if precompiled else "runtimes compiled at start"
    print(f"kubelet-test: {label}, limit {mib(limit)}:")
    for phase, result in results.items():
        ready = f"ready after {result['ready']:.1f} s, " if "ready" in result else ""
        print(f"  {phase:9} {ready}cgroup peak {mib(result['peak'])}, VmHWM {mib(result.get('VmHWM'))}, "
              f"VmRSS {mib(result.get('VmRSS'))}")
    print("kubelet-test: PASS")


if __name__ == "__main__":
    main()
