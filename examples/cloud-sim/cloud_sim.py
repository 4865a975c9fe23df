#!/usr/bin/env python3
"""cloud-sim: a test double of a container-instance cloud (ECI/EKS/CCI-like).

Serves a small JSON API on 127.0.0.1 only, for providers/cloud.lua's tests
and benchmarks.  Python's standard library only.  See README.md here for the
API, the signature and the debug endpoints.
"""
import argparse
import hashlib
import hmac
import json
import math
import random
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OPERATIONS = ("CreateContainerGroup", "DescribeContainerGroups", "DeleteContainerGroup",
              "DescribeContainerLog", "DescribeAccountQuota", "DescribeRegions")

DEFAULTS = {
    "port": 18080,
    "access_key": "AKIDSIMULATOR",
    "secret_key": "simulator-secret",
    "regions": {"sim-north-1": ["sim-north-1a", "sim-north-1b"], "sim-south-1": ["sim-south-1a"]},
    "quota": {"cpu": 1000, "memory": 4000, "instances": 1000},
    "schedule_delay": 1.0,   # seconds in Scheduling, then Pending
    "start_delay": 1.0,      # seconds in Pending, then Running
    "failure_rate": 0.0,     # share of creations that end ScheduleFailed
    "rate_limit": 50.0,      # requests per second per access key (token bucket)
    "burst": 50,             # the bucket's size
    "max_ids": 100,          # ContainerGroupIds per DescribeContainerGroups
    "page_size": 100,        # groups per page when describing by tags
    "exact_above": 4,        # above this many vCPU a size must be in the table
    "clock_skew": 900,       # seconds a request's X-Sim-Date may be off
    "price_cpu": 0.0445,     # per vCPU-hour
    "price_memory": 0.0049,  # per GiB-hour
    "sold_out": [],          # spec names ("8-14Gi") with no stock
    "seed": None,
    "specs": [
        {"cpu": 0.25, "memory": [0.5, 1]}, {"cpu": 0.5, "memory": [1, 2]},
        {"cpu": 1, "memory": [1, 2, 4, 8]}, {"cpu": 2, "memory": [2, 4, 8, 16]},
        {"cpu": 4, "memory": [4, 8, 16, 32]}, {"cpu": 8, "memory": [8, 14, 16, 32, 64]},
        {"cpu": 12, "memory": [12, 24, 48, 96]}, {"cpu": 16, "memory": [16, 32, 64, 128]},
        {"cpu": 32, "memory": [32, 64, 128, 256]}, {"cpu": 64, "memory": [128, 256, 512]},
    ],
}


def spec_name(cpu, mem):
    def f(n):
        s = ("%.3f" % n).rstrip("0").rstrip(".")
        return s
    return "%s-%sGi" % (f(cpu), f(mem))


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class Cloud:
    """The cloud's state.  Every method runs under self.lock."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.Lock()
        self.groups = {}          # id -> group dict
        self.tokens = {}          # ClientToken -> id (idempotent creation)
        self.counts = {op: 0 for op in OPERATIONS}
        self.counts.update({"throttled": 0, "refused_signature": 0, "described_ids": 0,
                            "created": 0, "deleted": 0})
        self.bucket = {}          # access key -> [tokens, last refill]
        self.rng = random.Random(cfg["seed"])

    # -- time: a group's state follows from its creation time --------------
    def state(self, g, now):
        if g["deleted"]:
            return "Deleted"
        age = now - g["created"]
        if age < self.cfg["schedule_delay"]:
            return "Scheduling"
        if g["fail"]:
            return "ScheduleFailed"
        if age < self.cfg["schedule_delay"] + self.cfg["start_delay"]:
            return "Pending"
        return "Running"

    def running_at(self, g):
        return g["created"] + self.cfg["schedule_delay"] + self.cfg["start_delay"]

    # -- throttling: a token bucket per access key --------------------------
    def take_token(self, ak, now):
        rate, burst = self.cfg["rate_limit"], self.cfg["burst"]
        if rate <= 0:
            return 0
        tokens, last = self.bucket.get(ak, [burst, now])
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= 1:
            self.bucket[ak] = [tokens - 1, now]
            return 0
        self.bucket[ak] = [tokens, now]
        return (1 - tokens) / rate   # seconds until one token is back

    # -- quota ---------------------------------------------------------------
    def used(self):
        cpu = mem = n = 0
        for g in self.groups.values():
            if not g["deleted"]:
                cpu, mem, n = cpu + g["cpu"], mem + g["memory"], n + 1
        return cpu, mem, n

    # -- sizes ----------------------------------------------------------------
    def size(self, cpu, mem):
        """The size the cloud bills: up to exact_above vCPU rounded up to the
        table; above, only a size of the table."""
        exact = cpu > self.cfg["exact_above"]
        for row in self.cfg["specs"]:
            for m in row["memory"]:
                if exact:
                    if abs(row["cpu"] - cpu) < 1e-9 and abs(m - mem) < 1e-9:
                        return row["cpu"], m
                elif row["cpu"] >= cpu - 1e-9 and m >= mem - 1e-9:
                    return row["cpu"], m
        if exact:
            raise ApiError(400, "InvalidParameter.Spec",
                           "above %s vCPU the size must be a standard spec; %s is not" %
                           (self.cfg["exact_above"], spec_name(cpu, mem)))
        raise ApiError(400, "InvalidParameter.Spec", "no standard spec holds %s" % spec_name(cpu, mem))

    def price(self, cpu, mem):
        return round(cpu * self.cfg["price_cpu"] + mem * self.cfg["price_memory"], 6)

    def region(self, body):
        rid = body.get("RegionId")
        if rid not in self.cfg["regions"]:
            raise ApiError(400, "InvalidRegionId", "region %r does not exist (known: %s)" %
                           (rid, ", ".join(sorted(self.cfg["regions"]))))
        return rid

    # -- operations -------------------------------------------------------------
    def create(self, body, now):
        rid = self.region(body)
        zone = body.get("ZoneId") or self.cfg["regions"][rid][0]
        if zone not in self.cfg["regions"][rid]:
            raise ApiError(400, "InvalidZoneId", "zone %r is not in region %s" % (zone, rid))
        token = body.get("ClientToken")
        if token and token in self.tokens:
            g = self.groups[self.tokens[token]]
            if not g["deleted"]:
                return {"ContainerGroupId": g["id"], "Price": g["price"], "Idempotent": True}
        name = body.get("ContainerGroupName")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "MissingParameter", "ContainerGroupName is required")
        containers = body.get("Containers")
        if not isinstance(containers, list) or not containers:
            raise ApiError(400, "MissingParameter", "Containers is required")
        for c in containers:
            if not isinstance(c, dict) or not c.get("Name") or not c.get("Image"):
                raise ApiError(400, "InvalidParameter", "each container needs Name and Image")
        try:
            cpu, mem = float(body.get("Cpu")), float(body.get("Memory"))
        except (TypeError, ValueError):
            raise ApiError(400, "InvalidParameter", "Cpu and Memory are numbers (vCPU, GiB)")
        cpu, mem = self.size(cpu, mem)
        if spec_name(cpu, mem) in self.cfg["sold_out"]:
            raise ApiError(400, "NoStock", "spec %s has no stock in %s" % (spec_name(cpu, mem), zone))
        q = self.cfg["quota"]
        ucpu, umem, un = self.used()
        if un + 1 > q["instances"]:
            raise ApiError(400, "QuotaExceeded.Instances", "instance quota %d reached" % q["instances"])
        if ucpu + cpu > q["cpu"] + 1e-9:
            raise ApiError(400, "QuotaExceeded.Cpu", "vCPU quota %s: %s used, %s asked" % (q["cpu"], ucpu, cpu))
        if umem + mem > q["memory"] + 1e-9:
            raise ApiError(400, "QuotaExceeded.Memory", "memory quota %s GiB: %s used, %s asked" %
                           (q["memory"], umem, mem))
        tags = body.get("Tags") or []
        if not isinstance(tags, list) or any(not isinstance(t, dict) or "Key" not in t for t in tags):
            raise ApiError(400, "InvalidParameter", "Tags is a list of {Key, Value}")
        gid = "eci-" + uuid.uuid4().hex[:16]
        g = {
            "id": gid, "name": name, "region": rid, "zone": zone, "cpu": cpu, "memory": mem,
            "price": self.price(cpu, mem), "created": now, "deleted": False,
            "fail": self.rng.random() < self.cfg["failure_rate"],
            "tags": {t["Key"]: str(t.get("Value", "")) for t in tags},
            "containers": containers, "init_containers": body.get("InitContainers") or [],
            "volumes": body.get("Volumes") or [], "credentials": body.get("ImageRegistryCredentials") or [],
            # an address nothing answers at: tests never send traffic to pods
            "ip": "10.250.%d.%d" % (len(self.groups) // 250 % 250, 1 + len(self.groups) % 250),
        }
        self.groups[gid] = g
        if token:
            self.tokens[token] = gid
        self.counts["created"] += 1
        return {"ContainerGroupId": gid, "Price": g["price"]}

    def view(self, g, now):
        st = self.state(g, now)
        ra = self.running_at(g)
        cstate = {"Scheduling": "Waiting", "Pending": "Waiting", "Running": "Running",
                  "ScheduleFailed": "Terminated"}.get(st, "Terminated")
        containers = []
        for c in g["containers"]:
            cs = {"State": cstate}
            if cstate == "Waiting":
                cs["Reason"] = "ContainerCreating"
            if cstate == "Running":
                cs["StartTime"] = iso(ra)
            if st == "ScheduleFailed":
                cs.update(Reason="ScheduleFailed", ExitCode=1)
            containers.append({"Name": c["Name"], "Image": c["Image"], "CurrentState": cs,
                               "Ready": cstate == "Running", "RestartCount": 0})
        out = {
            "ContainerGroupId": g["id"], "ContainerGroupName": g["name"], "Status": st,
            "RegionId": g["region"], "ZoneId": g["zone"], "Cpu": g["cpu"], "Memory": g["memory"],
            "Spec": spec_name(g["cpu"], g["memory"]), "Price": g["price"],
            "CreationTime": iso(g["created"]),
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(g["tags"].items())],
            "Containers": containers,
        }
        if st == "Running":
            out["IntranetIp"] = g["ip"]
            out["StartTime"] = iso(ra)
        if st == "ScheduleFailed":
            out["FailedTime"] = iso(g["created"] + self.cfg["schedule_delay"])
            out["Events"] = [{"Reason": "ScheduleFailed", "Message": "the zone could not place the instance"}]
        return out

    def describe(self, body, now):
        rid = self.region(body)
        ids = body.get("ContainerGroupIds")
        if ids is not None:
            if not isinstance(ids, list):
                raise ApiError(400, "InvalidParameter", "ContainerGroupIds is a list")
            if len(ids) > self.cfg["max_ids"]:
                raise ApiError(400, "InvalidParameter.TooManyIds", "at most %d ContainerGroupIds per call, not %d" %
                               (self.cfg["max_ids"], len(ids)))
            self.counts["described_ids"] += len(ids)
            found = [self.groups[i] for i in ids if i in self.groups and not self.groups[i]["deleted"]
                     and self.groups[i]["region"] == rid]
            return {"ContainerGroups": [self.view(g, now) for g in found], "TotalCount": len(found)}
        tags = body.get("Tags") or []
        want = {t["Key"]: str(t.get("Value", "")) for t in tags if isinstance(t, dict) and "Key" in t}
        match = [g for g in sorted(self.groups.values(), key=lambda g: (g["created"], g["id"]))
                 if not g["deleted"] and g["region"] == rid and all(g["tags"].get(k) == v for k, v in want.items())]
        try:
            start = int(body.get("NextToken") or 0)
        except ValueError:
            raise ApiError(400, "InvalidParameter", "NextToken %r is not one this API gave" % body.get("NextToken"))
        limit = min(int(body.get("Limit") or self.cfg["page_size"]), self.cfg["page_size"])
        page = match[start:start + limit]
        self.counts["described_ids"] += len(page)
        out = {"ContainerGroups": [self.view(g, now) for g in page], "TotalCount": len(match)}
        if start + limit < len(match):
            out["NextToken"] = str(start + limit)
        return out

    def delete(self, body, now):
        self.region(body)
        gid = body.get("ContainerGroupId")
        g = self.groups.get(gid)
        if not g or g["deleted"]:
            raise ApiError(404, "InvalidContainerGroup.NotFound", "container group %r does not exist" % gid)
        g["deleted"] = True
        g["deleted_at"] = now
        self.counts["deleted"] += 1
        return {}

    def logs(self, body, now):
        self.region(body)
        g = self.groups.get(body.get("ContainerGroupId"))
        if not g or g["deleted"]:
            raise ApiError(404, "InvalidContainerGroup.NotFound", "container group does not exist")
        name = body.get("ContainerName")
        c = next((c for c in g["containers"] if c["Name"] == name), None)
        if not c:
            raise ApiError(404, "InvalidContainer.NotFound", "container %r is not in %s" % (name, g["id"]))
        if self.state(g, now) != "Running":
            return {"Content": ""}
        ra = self.running_at(g)
        lines = ["%s %s: started %s in %s" % (iso(ra), name, c["Image"], g["id"])]
        cmd = (c.get("Command") or []) + (c.get("Args") or [])
        if cmd:
            lines.append("%s %s: command %s" % (iso(ra), name, " ".join(cmd)))
        for e in c.get("EnvironmentVars") or []:
            lines.append("%s %s: env %s=%s" % (iso(ra), name, e.get("Key"), e.get("Value")))
        for v in g["volumes"]:
            for f in v.get("ConfigFileToPaths") or []:
                lines.append("%s %s: file %s/%s" % (iso(ra), name, v.get("Name"), f.get("Path")))
        tail = body.get("Tail")
        if isinstance(tail, int) and tail >= 0:
            lines = lines[len(lines) - tail:] if tail else []
        return {"Content": "".join(l + "\n" for l in lines)}

    def quota(self, body, now):
        self.region(body)
        cpu, mem, n = self.used()
        q = self.cfg["quota"]
        return {"Cpu": q["cpu"], "Memory": q["memory"], "Instances": q["instances"],
                "UsedCpu": cpu, "UsedMemory": mem, "UsedInstances": n}

    def regions(self, body, now):
        return {"Regions": [{"RegionId": r, "Zones": z} for r, z in sorted(self.cfg["regions"].items())]}


def canonical(method, path, date, body):
    """The string a request's signature covers (README.md: "Signing")."""
    return "\n".join([method, path, date, hashlib.sha256(body).hexdigest()])


def sign(secret, method, path, date, body):
    return hmac.new(secret.encode(), canonical(method, path, date, body).encode(), hashlib.sha256).hexdigest()


class Handler(BaseHTTPRequestHandler):
    server_version = "cloud-sim/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("cloud-sim: " + (fmt % args) + "\n")

    def reply(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        cloud = self.server.cloud
        if self.path == "/debug/counts":
            with cloud.lock:
                return self.reply(200, dict(cloud.counts))
        if self.path == "/debug/instances":
            now = time.time()
            with cloud.lock:
                out = []
                for g in cloud.groups.values():
                    v = cloud.view(g, now)
                    v.update(CreatedMs=int(g["created"] * 1000), RunningMs=int(cloud.running_at(g) * 1000),
                             Deleted=g["deleted"], Volumes=g["volumes"], Credentials=g["credentials"],
                             InitContainers=g["init_containers"], ContainersSent=g["containers"])
                    out.append(v)
                return self.reply(200, {"Instances": out})
        if self.path == "/debug/config":
            with cloud.lock:
                return self.reply(200, cloud.cfg)
        self.reply(404, {"Code": "NotFound", "Message": "no such path %s" % self.path})

    def do_POST(self):
        cloud = self.server.cloud
        body = self.read_body()
        if self.path == "/debug/config":
            # Changes settings while it runs (a test turns throttling or
            # failures on and off): the JSON's keys are the config's.
            try:
                upd = json.loads(body or b"{}")
                if not isinstance(upd, dict) or any(k not in DEFAULTS for k in upd):
                    raise ValueError("unknown key")
            except ValueError as e:
                return self.reply(400, {"Code": "InvalidParameter", "Message": str(e)})
            with cloud.lock:
                cloud.cfg.update(upd)
                cloud.bucket.clear()
                return self.reply(200, cloud.cfg)
        if not self.path.startswith("/v1/"):
            return self.reply(404, {"Code": "NotFound", "Message": "no such path %s" % self.path})
        action = self.path[4:]
        handlers = {"CreateContainerGroup": cloud.create, "DescribeContainerGroups": cloud.describe,
                    "DeleteContainerGroup": cloud.delete, "DescribeContainerLog": cloud.logs,
                    "DescribeAccountQuota": cloud.quota, "DescribeRegions": cloud.regions}
        rid = uuid.uuid4().hex
        try:
            if action not in handlers:
                raise ApiError(404, "InvalidAction", "no operation %r" % action)
            self.check_signature(body)
            now = time.time()
            with cloud.lock:
                wait = cloud.take_token(self.headers.get("X-Sim-Access-Key"), now)
                if wait > 0:
                    cloud.counts["throttled"] += 1
                    raise ApiError(429, "Throttling", "request rate over %s/s" % cloud.cfg["rate_limit"],
                                   {"Retry-After": str(max(1, math.ceil(wait)))})
                cloud.counts[action] += 1
                try:
                    req = json.loads(body or b"{}")
                except ValueError:
                    raise ApiError(400, "InvalidParameter", "the body is not JSON")
                if not isinstance(req, dict):
                    raise ApiError(400, "InvalidParameter", "the body is a JSON object")
                out = handlers[action](req, now)
            out["RequestId"] = rid
            self.reply(200, out)
        except ApiError as e:
            self.reply(e.status, {"Code": e.code, "Message": e.message, "RequestId": rid}, e.headers)

    def check_signature(self, body):
        cloud = self.server.cloud
        ak, date, sig = (self.headers.get(h) for h in ("X-Sim-Access-Key", "X-Sim-Date", "X-Sim-Signature"))
        if not ak or not date or not sig:
            raise ApiError(403, "MissingSignature", "X-Sim-Access-Key, X-Sim-Date and X-Sim-Signature are required")
        with cloud.lock:
            if ak != cloud.cfg["access_key"]:
                cloud.counts["refused_signature"] += 1
                raise ApiError(403, "InvalidAccessKeyId", "access key %r is unknown" % ak)
            secret, skew = cloud.cfg["secret_key"], cloud.cfg["clock_skew"]
        try:
            t = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            raise ApiError(403, "InvalidDate", "X-Sim-Date %r is not YYYYMMDDTHHMMSSZ" % date)
        if abs(time.time() - t) > skew:
            raise ApiError(403, "RequestExpired", "X-Sim-Date %s is more than %d s off" % (date, skew))
        want = sign(secret, "POST", self.path, date, body)
        if not hmac.compare_digest(want, sig.lower()):
            with cloud.lock:
                cloud.counts["refused_signature"] += 1
            raise ApiError(403, "SignatureDoesNotMatch", "the signature does not match the request")


def load_config(argv):
    p = argparse.ArgumentParser(description="cloud-sim: a test double of a container-instance cloud, on 127.0.0.1")
    p.add_argument("--config", help="a JSON file with any of the settings below (flags win)")
    p.add_argument("--port", type=int, help="TCP port on 127.0.0.1 (0: any; the port is printed)")
    p.add_argument("--port-file", help="write the port chosen here once listening")
    p.add_argument("--access-key")
    p.add_argument("--secret-key-file", help="a file holding the secret key (never a flag)")
    p.add_argument("--schedule-delay", type=float)
    p.add_argument("--start-delay", type=float)
    p.add_argument("--failure-rate", type=float)
    p.add_argument("--rate-limit", type=float, help="requests per second per access key (0: no limit)")
    p.add_argument("--burst", type=int)
    p.add_argument("--quota-cpu", type=float)
    p.add_argument("--quota-memory", type=float)
    p.add_argument("--quota-instances", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    cfg = json.loads(json.dumps(DEFAULTS))
    if a.config:
        with open(a.config) as f:
            loaded = json.load(f)
        unknown = [k for k in loaded if k not in DEFAULTS]
        if unknown:
            p.error("%s: unknown settings %s" % (a.config, ", ".join(unknown)))
        cfg.update(loaded)
    for flag in ("port", "access_key", "schedule_delay", "start_delay", "failure_rate", "rate_limit",
                 "burst", "seed"):
        v = getattr(a, flag)
        if v is not None:
            cfg[flag] = v
    for flag, key in (("quota_cpu", "cpu"), ("quota_memory", "memory"), ("quota_instances", "instances")):
        v = getattr(a, flag)
        if v is not None:
            cfg["quota"][key] = v
    if a.secret_key_file:
        with open(a.secret_key_file) as f:
            cfg["secret_key"] = f.read().strip()
    return cfg, a


def main(argv):
    cfg, a = load_config(argv)
    srv = ThreadingHTTPServer(("127.0.0.1", cfg["port"]), Handler)
    srv.daemon_threads = True
    srv.cloud = Cloud(cfg)
    srv.verbose = a.verbose
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.replace(a.port_file + ".tmp", a.port_file)
    print("cloud-sim: listening on 127.0.0.1:%d" % port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
