#!/usr/bin/env python3
"""A stand-in for systemd's notify socket (sd_notify's receiving end).

    notify_listener.py SOCKET LOG CMD...

Binds a unix datagram socket at SOCKET and appends each datagram's lines to
LOG.  When a datagram holds READY=1 it runs CMD at once (e.g. kubectl get
node N -o name) and appends "node when READY: <its output>", so a test can
tell what was true when READY=1 arrived.  Runs until killed."""
import os
import socket
import subprocess
import sys


def main():
    path, log, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # the socket appears only once bound
    while True:
        data = s.recv(65536).decode("utf-8", "replace")
        lines = data.splitlines()
        if "READY=1" in lines:
            r = subprocess.run(cmd, capture_output=True, text=True)
            lines.append("node when READY: " + (r.stdout.strip() or "(none) " + r.stderr.strip()))
        with open(log, "a") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
