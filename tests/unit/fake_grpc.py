#!/usr/bin/python3
"""A fake gRPC endpoint on a unix socket (HTTP/2 without TLS, python3-h2),
for tests/unit/test_cri_transport.c: each RPC name answers one way that a
real runtime seldom does on demand (trailers-only errors, oversize or
malformed replies, a reply that is not gRPC, silence).

    fake_grpc.py SOCKET_PATH
"""
import os
import socket
import socketserver
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string_field(num, s):
    data = s.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def frame(msg, flag=0, length=None):
    n = len(msg) if length is None else length
    return bytes([flag]) + n.to_bytes(4, "big") + msg


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.request.sendall(data)

    def pump(self):
        """Reads once and handles the events; False when the peer is gone."""
        data = self.request.recv(65536)
        if not data:
            return False
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                self.streams[ev.stream_id] = (dict(ev.headers), bytearray())
            elif isinstance(ev, h2.events.DataReceived):
                self.streams[ev.stream_id][1].extend(ev.data)
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.ended.append(ev.stream_id)
            elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                self.reset.add(getattr(ev, "stream_id", None))
        self.flush()
        return True

    def send_all(self, sid, data, end=False):
        """Sends data within flow control, reading WINDOW_UPDATEs as needed."""
        view = memoryview(data)
        while view:
            if sid in self.reset:
                return False
            n = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size, len(view))
            if n <= 0:
                if not self.pump():
                    return False
                continue
            self.conn.send_data(sid, bytes(view[:n]))
            view = view[n:]
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()
        return True

    def handle(self):
        self.streams, self.ended, self.reset = {}, [], set()
        try:
            while self.pump():
                while self.ended:
                    sid = self.ended.pop(0)
                    headers, body = self.streams.pop(sid)
                    self.answer(sid, headers, bytes(body))
        except (h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError, OSError):
            pass

    def answer(self, sid, h, body):
        method = h[":path"].rsplit("/", 1)[-1]
        grpc = [(":status", "200"), ("content-type", "application/grpc")]
        c = self.conn
        if method == "Version":
            # Echo what the client sent, so the test can check its headers.
            msg = (string_field(1, "fake") + string_field(2, h.get("grpc-timeout", "")) +
                   string_field(3, h.get("te", "")) + string_field(4, "%d" % len(body)))
            c.send_headers(sid, grpc)
            self.send_all(sid, frame(msg))
            c.send_headers(sid, [("grpc-status", "0")], end_stream=True)
        elif method == "Status":  # trailers-only error, percent-encoded message
            c.send_headers(sid, grpc + [("grpc-status", "5"),
                                        ("grpc-message", "no%20such%20thing%3A%20%E2%9C%93 100%")],
                           end_stream=True)
        elif method == "ListImages":  # error in the trailers after the headers
            c.send_headers(sid, grpc)
            c.send_headers(sid, [("grpc-status", "13"), ("grpc-message", "boom")], end_stream=True)
        elif method == "ExecSync":  # a reply over 16 MiB
            c.send_headers(sid, grpc)
            self.flush()
            if self.send_all(sid, frame(b"\x0a" + varint(17 << 20) + b"x" * (17 << 20))):
                c.send_headers(sid, [("grpc-status", "0")], end_stream=True)
        elif method == "ContainerStats":  # compressed flag
            c.send_headers(sid, grpc)
            self.send_all(sid, frame(b"", flag=1))
            c.send_headers(sid, [("grpc-status", "0")], end_stream=True)
        elif method == "ListContainers":  # length prefix says more than sent
            c.send_headers(sid, grpc)
            self.send_all(sid, frame(b"abc", length=10))
            c.send_headers(sid, [("grpc-status", "0")], end_stream=True)
        elif method == "StopContainer":  # not a protobuf message
            c.send_headers(sid, grpc)
            self.send_all(sid, frame(b"\xff\xff\xff"))
            c.send_headers(sid, [("grpc-status", "0")], end_stream=True)
        elif method == "ImageStatus":  # not gRPC at all
            c.send_headers(sid, [(":status", "200"), ("content-type", "text/html")])
            self.send_all(sid, b"<html>hello</html>", end=True)
        elif method == "RemoveImage":  # an HTTP error without gRPC status
            c.send_headers(sid, [(":status", "503"), ("content-type", "text/plain")])
            self.send_all(sid, b"overloaded", end=True)
        elif method == "PullImage":  # silence, longer than the test's timeout
            time.sleep(30)
        elif method == "StartContainer":  # no message at all, status OK
            c.send_headers(sid, grpc + [("grpc-status", "0")], end_stream=True)
        else:
            c.send_headers(sid, grpc + [("grpc-status", "12"),
                                        ("grpc-message", "unknown method " + method)], end_stream=True)
        self.flush()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    # The socket file appears at bind(), before listen(): a client that
    # waits for the path could connect in between and be refused.  So the
    # server binds and listens under another name, and the path appears,
    # by rename, only once it accepts.
    path = sys.argv[1]
    binding = path + ".binding"
    for p in (path, binding):
        if os.path.exists(p):
            os.unlink(p)
    with Server(binding, Handler) as srv:
        os.rename(binding, path)
        srv.serve_forever()


if __name__ == "__main__":
    main()
