#!/usr/bin/env python3
"""A stand-in for a CRI runtime's streaming server (containerd's on 127.0.0.1).

    streaming_server.py PORTFILE VK_HOST:PORT CA CERT KEY

Listens on 127.0.0.1 (a free port, written to PORTFILE) for plain-HTTP
upgrade requests, as a runtime's Exec URL receives them from a kubelet:
  /refuse...  answers 404 with the body "no such exec session";
  otherwise   sends the same request head over TLS (with the client
              certificate CERT/KEY) to vk's kubelet API at VK_HOST:PORT,
              which serves it with its own SPDY session, and copies bytes
              both ways until either side closes: to the proxying vk this
              is a streaming server that answers 101 and speaks SPDY.
Each request head is appended to PORTFILE.log.  Runs until killed."""
import socket
import ssl
import sys
import threading


def pump(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(conn, target, ctx, log):
    head = b""
    while b"\r\n\r\n" not in head:
        b = conn.recv(4096)
        if not b:
            conn.close()
            return
        head += b
    head, rest = head.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    with open(log, "a") as f:
        f.write(" | ".join(lines) + "\n")
    method, path, _ = lines[0].split(" ", 2)
    if path.startswith("/refuse"):
        body = b"no such exec session"
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
        conn.close()
        return
    host, port = target.rsplit(":", 1)
    up = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
    out = [lines[0]] + [l for l in lines[1:] if not l.lower().startswith("host:")] + ["Host: " + target]
    up.sendall("\r\n".join(out).encode("latin-1") + b"\r\n\r\n" + rest)
    threading.Thread(target=pump, args=(up, conn), daemon=True).start()
    pump(conn, up)


def main():
    portfile, target, ca, cert, key = sys.argv[1:6]
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, target, ctx, portfile + ".log"), daemon=True).start()


if __name__ == "__main__":
    main()
