#!/usr/bin/env python3
"""Test peers for tests/e2e/vk/net_stream_connects_inside_a_network_namespace.sh,
run inside the network namespace the test made, all on 127.0.0.1:

  netns_servers.py ECHO_PORT HTTP_PORT BYE_PORT

ECHO_PORT echoes what it reads; HTTP_PORT answers every GET with 200 and
the request's headers (lower-case) as the body; BYE_PORT says "bye" and
closes.  Prints "ready" once all three listen."""
import http.server
import socketserver
import sys
import threading


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class Bye(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"bye\n")


class Headers(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = "".join(f"{k.lower()}: {v}\n" for k, v in self.headers.items()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    echo, web, bye = (int(p) for p in sys.argv[1:4])
    servers = [Server(("127.0.0.1", echo), Echo), Server(("127.0.0.1", bye), Bye),
               http.server.ThreadingHTTPServer(("127.0.0.1", web), Headers)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
