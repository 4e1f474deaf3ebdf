#!/usr/bin/env python3
"""Writes a pods file (kubectl get pods -A -o json shape) with N Deployments of K pods each.

Pod IPs are loopback addresses (127.x.y.z): nothing here may point at a real network.
"""
import json
import sys


def main() -> None:
    services = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    per_service = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    items = []
    for s in range(services):
        name, rs_hash = f"svc-{s:05d}", f"{s:08x}"[-8:]
        for p in range(per_service):
            n = s * per_service + p
            items.append({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "name": f"{name}-{rs_hash}-{p:05d}", "namespace": "default",
                    "generateName": f"{name}-{rs_hash}-", "uid": f"uid-{n}",
                    "creationTimestamp": "2026-11-01T00:00:00Z",
                    "labels": {"app": name, "pod-template-hash": rs_hash},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                         "name": f"{name}-{rs_hash}", "uid": f"rs-{s}", "controller": True}],
                },
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
                "status": {"phase": "Running", "podIP": f"127.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255 or 1}",
                           "containerStatuses": [{"name": "app", "image": "nginx:1.27", "imageID": "",
                                                  "ready": True, "restartCount": 0,
                                                  "state": {"running": {}}}]},
            })
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)


if __name__ == "__main__":
    main()
