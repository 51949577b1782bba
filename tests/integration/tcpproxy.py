"""tcpproxy.py - a TCP proxy on loopback between a client (a browser, a test) and a server, which a
test can cut or spoil while the client runs, to see what the client does when the network fails
the way phones see it fail:

    pass     bytes go both ways (the default)
    refuse   a new connection is reset at once (the server seems down); open ones are cut
    hang     the client's bytes reach the server, nothing comes back, the connection stays open
             (the request is made, the answer never comes: the client must time out)
    swallow  the client's bytes reach the server; of its answer only the head (status line and
             headers) comes through, then the connection is reset: the server acted, the client
             never gets the body, and a retry must not do it twice. (Cutting before the head would
             let a browser resend the request by itself on a reused connection, unseen by the page.)

    proxy = TcpProxy(server_port)        # listens on 127.0.0.1:proxy.port
    proxy.set("swallow")                 # cuts what is open; new connections are swallowed
    proxy.set("hang", match=rb"POST /api/v1/reports/\\d+/photos")  # only those; the rest pass
    proxy.set("pass")
    proxy.close()

With `match`, a connection is spoiled from the first bytes the client sends on it that match the
pattern (a regular expression over the raw request); until then it passes. A server restarted on
the same port is reached again by new connections. `control_server` serves `set`, `cut` and any
other test action over loopback HTTP, for a client driven from another process (a browser test in
Node). Threads and the standard library only."""
import http.server
import json
import re
import socket
import struct
import threading

MODES = ("pass", "refuse", "hang", "swallow")


class _Conn:
    def __init__(self, client, server, spoil):
        self.client, self.server, self.spoil = client, server, spoil
        self.closed = False

    def close(self, reset=True):
        """Closes both ends: reset (RST) by default; else a FIN after what was sent."""
        if self.closed:
            return
        self.closed = True
        for s in (self.client, self.server):
            try:
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class TcpProxy:
    def __init__(self, target_port, target_host="127.0.0.1", port=0):
        self.target = (target_host, target_port)
        self.mode, self.match = "pass", None
        self.lock = threading.Lock()
        self.conns = set()
        self.counts = {m: 0 for m in MODES}  # connections accepted under each mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def set(self, mode, match=None, cut=True):
        """Switches mode (MODES) for connections opened from now on; `match` (bytes regex or
        None) limits it to connections whose client bytes match. Cuts the open ones unless
        cut=False."""
        if mode not in MODES:
            raise ValueError("mode must be one of %s" % ", ".join(MODES))
        with self.lock:
            self.mode = mode
            self.match = re.compile(match) if isinstance(match, bytes) else \
                re.compile(match.encode()) if match else None
        if cut:
            self.cut()

    def cut(self):
        """Closes (resets) every open connection."""
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            c.close()

    def close(self):
        self.running = False
        try:
            self.sock.close()
        except OSError:
            pass
        self.cut()

    def _accept(self):
        while self.running:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                mode, match = self.mode, self.match
                self.counts[mode] += 1
            if mode == "refuse":
                _Conn(client, socket.socket(), None).close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _Conn(client, socket.socket(), None).close()  # the server is down: so are we
                continue
            conn = _Conn(client, server, None if mode == "pass" or match else mode)
            with self.lock:
                self.conns.add(conn)
            threading.Thread(target=self._up, args=(conn, mode, match), daemon=True).start()
            threading.Thread(target=self._down, args=(conn,), daemon=True).start()

    def _up(self, conn, mode, match):
        """Client to server: everything, and the spoiling of a matching connection."""
        try:
            while True:
                data = conn.client.recv(65536)
                if not data:
                    break
                if match and conn.spoil is None and match.search(data):
                    conn.spoil = mode
                conn.server.sendall(data)
        except OSError:
            pass
        self._end(conn)

    def _down(self, conn):
        """Server to client: passed, dropped (hang), or cut after the answer's head (swallow)."""
        head = b""
        try:
            while True:
                data = conn.server.recv(65536)
                if not data:
                    break
                if conn.spoil == "swallow":
                    head += data
                    end = head.find(b"\r\n\r\n")
                    if end >= 0:
                        conn.client.sendall(head[:end + 4])
                        conn.close(reset=False)  # the head arrives; the body never does
                        break
                elif conn.spoil != "hang":
                    conn.client.sendall(data)
        except OSError:
            pass
        if conn.spoil == "hang":
            return  # the client keeps waiting on its open connection until cut or close
        self._end(conn)

    def _end(self, conn):
        conn.close()
        with self.lock:
            self.conns.discard(conn)


def control_server(routes):
    """A loopback HTTP server for test actions driven from another process: POST <path> with a
    JSON body calls routes[path](body) and answers its JSON-able result (500 with the error's
    text when it raises). Returns the server (serve it: it runs on a thread of its own; its port
    is server.server_address[1]); shutdown() stops it."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            fn = routes.get(self.path)
            n = int(self.headers.get("Content-Length") or 0)
            try:
                if fn is None:
                    raise KeyError("no action %s" % self.path)
                out, status = fn(json.loads(self.rfile.read(n) or b"{}")), 200
            except Exception as e:  # the test sees what went wrong
                out, status = {"error": "%s: %s" % (type(e).__name__, e)}, 500
            body = json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def proxy_routes(proxy):
    """The control actions of a proxy: /proxy {"mode", "match"?} and /proxy/cut."""
    return {
        "/proxy": lambda b: (proxy.set(b["mode"], b.get("match")), {"mode": proxy.mode})[1],
        "/proxy/cut": lambda b: (proxy.cut(), {"cut": True})[1],
    }
