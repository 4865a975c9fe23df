#!/usr/bin/env python3
"""An HTTPS relay to the API server that answers some requests with 429 or 500.

    inject_relay.py API_PORT PKI_DIR CLIENT LOG [SHARE]

A test double of a struggling API server (or the proxy in front of it) for
the fault suite.  It listens on 127.0.0.1 (a free port, printed on the
first line of stdout) with the API server's own certificate
(PKI_DIR/apiserver.crt), so vk's kubeconfig only changes its port.  Each
request is either answered here, or sent on to 127.0.0.1:API_PORT over a
fresh TLS connection with the client certificate PKI_DIR/CLIENT.crt (the
node's identity, as vk would send it) and its answer streamed back (watches
included).  HTTP/1.1 only (ALPN), one thread per connection.

While injecting (SIGUSR2; at start when SHARE > 0), a share SHARE (0.3) of
the requests, chosen at random, get 429 with "Retry-After: 2" (two thirds of
them) or 500 (the rest), each with a Status body.  SIGUSR1 stops injecting;
SIGHUP makes every request get 429 (an overloaded server).  SIGWINCH ends
every answer being streamed (the watches) cleanly, with the last chunk, as
an API server ends a watch at its timeout: the client must watch again.
Every request is one line in LOG: "EPOCH METHOD PATH CODE injected|relayed".

Standard library only.
"""
import http.client
import http.server
import json
import random
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

HOP = {'connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection',
       'content-length'}


class State:
    share = 0.3
    injecting = True
    only429 = False
    streams = set()  # the upstream connections of answers being streamed
    lock = threading.Lock()
    log = None


def status_body(code, reason, msg):
    return json.dumps({'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                       'message': msg, 'reason': reason, 'code': code}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    upstream = None  # (port, ssl context)

    def log_message(self, fmt, *args):
        pass

    def record(self, code, how):
        with State.lock:
            State.log.write('%.3f %s %s %d %s\n' % (time.time(), self.command, self.path, code, how))
            State.log.flush()

    def answer(self, code, reason, msg, extra=()):
        body = status_body(code, reason, msg)
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.record(code, 'injected')

    def relay(self):
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n) if n else None
        if State.injecting and random.random() < State.share:
            if State.only429 or random.random() < 2 / 3:
                self.answer(429, 'TooManyRequests', 'injected: too many requests, retry after 2 s',
                            [('Retry-After', '2')])
            else:
                self.answer(500, 'InternalError', 'injected: internal error')
            return
        port, ctx = self.upstream
        up = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=600)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != 'host'}
            up.request(self.command, self.path, body=body, headers=headers)
            r = up.getresponse()
        except OSError as e:
            self.answer(502, 'ServiceUnavailable', 'relay: upstream failed: %s' % e)
            up.close()
            return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header('Transfer-Encoding', 'chunked')
        self.end_headers()
        # Recorded once the stream can be ended (SIGWINCH): a test that saw
        # this line may signal at once.
        with State.lock:
            State.streams.add(up)
        self.record(r.status, 'relayed')
        try:
            while True:
                try:
                    chunk = r.read1(65536)
                except (OSError, http.client.HTTPException, ValueError):
                    chunk = b''  # ended by SIGWINCH (or the server): end ours cleanly
                if not chunk:
                    break
                self.wfile.write(b'%x\r\n%s\r\n' % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b'0\r\n\r\n')
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        finally:
            with State.lock:
                State.streams.discard(up)
            up.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if len(sys.argv) not in (5, 6):
        sys.stderr.write('usage: inject_relay.py API_PORT PKI_DIR CLIENT LOG [SHARE]\n')
        sys.exit(2)
    api_port, pki, client, logpath = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    State.share = float(sys.argv[5]) if len(sys.argv) == 6 else 0.3
    State.injecting = State.share > 0
    State.log = open(logpath, 'a')
    up = ssl.create_default_context(cafile=pki + '/ca.crt')
    up.load_cert_chain(pki + '/' + client + '.crt', pki + '/' + client + '.key')
    Handler.upstream = (api_port, up)
    srv = Server(('127.0.0.1', 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki + '/apiserver.crt', pki + '/apiserver.key')
    ctx.set_alpn_protocols(['http/1.1'])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)

    def on(sig, _):
        State.injecting = sig != signal.SIGUSR1
        if sig == signal.SIGHUP:
            State.share, State.only429 = 1.0, True
        sys.stderr.write('%.3f inject_relay: injecting %s\n' % (time.time(), 'on' if State.injecting else 'off'))

    def end_streams(*_):
        with State.lock:
            ups = list(State.streams)
        for up in ups:
            try:
                up.sock.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass
        sys.stderr.write('%.3f inject_relay: ended %d streamed answer(s)\n' % (time.time(), len(ups)))

    signal.signal(signal.SIGWINCH, end_streams)
    signal.signal(signal.SIGUSR1, on)
    signal.signal(signal.SIGUSR2, on)
    signal.signal(signal.SIGHUP, on)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == '__main__':
    main()
