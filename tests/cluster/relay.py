#!/usr/bin/env python3
"""A TCP relay a test controls: the link between vk and the API server.

    relay.py TARGET_PORT [LISTEN_PORT [DELAY_MS]]

Listens on 127.0.0.1 (LISTEN_PORT, or a free port) and forwards every
connection to 127.0.0.1:TARGET_PORT.  It prints its port on the first line
of stdout, then logs one line per change of state to stderr.

The test steers it with signals, by PID:
  SIGUSR1  down: close the listener and every connection (refused connections)
  SIGUSR2  up again, on the same port
  SIGSTOP  frozen: a black hole; the kernel still accepts connections and
           buffers bytes, but nothing moves and nothing answers
  SIGCONT  thawed: what was buffered flows on
  SIGHUP   a slow link: every chunk of bytes, each way, is held DELAY_MS
           (500 unless given) before it goes on; SIGHUP again: fast again
  SIGTERM  exit

Standard library only, one thread, non-blocking sockets under selectors.
"""
import collections
import errno
import os
import selectors
import signal
import socket
import sys
import time

BUF = 65536


def log(msg):
    sys.stderr.write('%.3f relay: %s\n' % (time.time(), msg))
    sys.stderr.flush()


class Pipe:
    """One relayed connection: client <-> upstream, a buffer each way."""

    def __init__(self, relay, client, upstream):
        self.relay = relay
        self.socks = {client: upstream, upstream: client}
        self.pending = {client: b'', upstream: b''}  # bytes waiting to be written to that socket
        self.held = {client: collections.deque(), upstream: collections.deque()}  # (due, bytes) for it: a slow link
        self.held_len = {client: 0, upstream: 0}
        self.eof = set()  # sockets that sent EOF
        self.connecting = upstream
        self.closed = False
        self.registered = {}  # socket -> the events it is registered for
        self.update()

    def interest(self, s):
        ev = 0
        peer = self.socks[s]
        if s is self.connecting or self.pending[s]:
            ev |= selectors.EVENT_WRITE
        # Read only when the peer's buffer has room: backpressure.
        if s is not self.connecting and s not in self.eof and len(self.pending[peer]) + self.held_len[peer] < BUF:
            ev |= selectors.EVENT_READ
        return ev

    def update(self):
        for s in self.socks:
            ev = self.interest(s)
            if ev == self.registered.get(s, 0):
                continue
            if not ev:
                self.relay.sel.unregister(s)
                del self.registered[s]
            elif s in self.registered:
                self.relay.sel.modify(s, ev, self)
                self.registered[s] = ev
            else:
                self.relay.sel.register(s, ev, self)
                self.registered[s] = ev

    def on_event(self, s, mask):
        if self.closed:
            return
        peer = self.socks[s]
        if s is self.connecting and mask & selectors.EVENT_WRITE:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                log('upstream connect failed: %s' % os.strerror(err))
                self.close()
                return
            self.connecting = None
        if mask & selectors.EVENT_READ and s not in self.eof and s is not self.connecting:
            try:
                data = s.recv(BUF)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self.close()
                return
            if data == b'':
                self.eof.add(s)
                if not self.pending[peer] and not self.held_len[peer]:
                    self.half_close(peer)
            elif data and self.relay.delay:
                self.held[peer].append((time.monotonic() + self.relay.delay, data))
                self.held_len[peer] += len(data)
            elif data:
                self.pending[peer] += data
        if mask & selectors.EVENT_WRITE and self.pending[s] and s is not self.connecting:
            try:
                n = s.send(self.pending[s])
                self.pending[s] = self.pending[s][n:]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.close()
                return
            if not self.pending[s] and not self.held_len[s] and peer in self.eof:
                self.half_close(s)
        if len(self.eof) == 2 and not any(self.pending.values()) and not any(self.held_len.values()):
            self.close()
            return
        self.update()

    def release(self, now):
        """Moves the held bytes that are due to their socket's buffer;
        returns when the next are due (or None)."""
        nxt = None
        for s, q in self.held.items():
            while q and q[0][0] <= now:
                _, data = q.popleft()
                self.held_len[s] -= len(data)
                self.pending[s] += data
            if q and (nxt is None or q[0][0] < nxt):
                nxt = q[0][0]
            if not q and not self.pending[s] and self.socks[s] in self.eof:
                self.half_close(s)
        if not self.closed:
            self.update()
        return nxt

    def half_close(self, s):
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        if self.closed:
            return
        self.closed = True
        for s in self.socks:
            if s in self.registered:
                self.relay.sel.unregister(s)
            s.close()
        self.registered = {}
        self.relay.pipes.discard(self)


class Relay:
    def __init__(self, target, port, delay_ms=500):
        self.target = ('127.0.0.1', target)
        self.slow = delay_ms / 1000.0
        self.delay = 0
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.pipes = set()
        self.listener = None
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, None)
        self.requests = []

    def listen(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', self.port))
        s.listen(128)
        s.setblocking(False)
        self.port = s.getsockname()[1]
        self.listener = s
        self.sel.register(s, selectors.EVENT_READ, 'listener')

    def down(self):
        if self.listener:
            self.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None
        n = len(self.pipes)
        for p in list(self.pipes):
            p.close()
        log('down: listener closed, %d connection(s) closed' % n)

    def up(self):
        if not self.listener:
            self.listen()
        log('up: listening on 127.0.0.1:%d' % self.port)

    def accept(self):
        while self.listener:
            try:
                c, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE):
                    return
                raise
            c.setblocking(False)
            u = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            u.setblocking(False)
            try:
                u.connect(self.target)
            except BlockingIOError:
                pass
            except OSError as e:
                log('upstream connect failed: %s' % e)
                c.close()
                u.close()
                continue
            self.pipes.add(Pipe(self, c, u))

    def on_signal(self, signum, frame):
        self.requests.append(signum)
        try:
            self.wake_w.send(b'x')
        except OSError:
            pass

    def run(self):
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT, signal.SIGCONT, signal.SIGHUP):
            signal.signal(sig, self.on_signal)
        self.listen()
        print(self.port, flush=True)
        log('up: listening on 127.0.0.1:%d, forwarding to 127.0.0.1:%d' % (self.port, self.target[1]))
        timeout = None
        while True:
            for key, mask in self.sel.select(timeout):
                if key.data is None:
                    try:
                        while self.wake_r.recv(64):
                            pass
                    except (BlockingIOError, InterruptedError):
                        pass
                elif key.data == 'listener':
                    self.accept()
                else:
                    key.data.on_event(key.fileobj, mask)
            while self.requests:
                sig = self.requests.pop(0)
                if sig == signal.SIGUSR1:
                    self.down()
                elif sig == signal.SIGUSR2:
                    self.up()
                elif sig == signal.SIGCONT:
                    log('thawed')
                elif sig == signal.SIGHUP:
                    self.delay = 0 if self.delay else self.slow
                    log('slow link: every chunk held %d ms' % (self.delay * 1000))
                else:
                    self.down()
                    log('exiting')
                    return
            now = time.monotonic()
            due = [d for d in (p.release(now) for p in list(self.pipes)) if d is not None]
            timeout = max(0, min(due) - now) if due else None


def main():
    if len(sys.argv) not in (2, 3, 4):
        sys.stderr.write('usage: relay.py TARGET_PORT [LISTEN_PORT [DELAY_MS]]\n')
        sys.exit(2)
    Relay(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) >= 3 else 0,
          int(sys.argv[3]) if len(sys.argv) == 4 else 500).run()


if __name__ == '__main__':
    main()
