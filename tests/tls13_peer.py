"""A NodePass-style tunnel peer that speaks TLS 1.3 only (like NodePass's Go
pool, which sets MinVersion TLS 1.3), for tests/tunnel.rs.

    tls13_peer.py server CERT KEY FORMAT   listen on 127.0.0.1, print "LISTEN <port>";
        every connection: TLS 1.3 handshake (2 session tickets follow it), the ID
        (the first 00000000, then 0000000<n> counting up; FORMAT "bytes" or "hex");
        prints "ID <id>"
    tls13_peer.py client PORT N FORMAT     N connections to 127.0.0.1:PORT, TLS 1.3
        only, no certificate check; reads each ID and prints "ID <id>"

Then commands, one a line, on standard input, each applied to every connection
held; "OK" is printed when one is done:

    hello         send "hello <id>\n" on each connection
    read          read one line from each connection, print "GOT <line>"
                  (skipping, after 1 s, connections with nothing to read)
    close_notify  send close_notify (an encrypted record in TLS 1.3), then FIN
    fin           FIN only (the socket may still hold unread records)
    rst           RST (SO_LINGER 0)
    quit

Standard library only; TLS versions other than 1.3 are refused.
"""

import socket
import ssl
import struct
import sys
import threading

lock = threading.Lock()
held = []


def say(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def id_wire(n, fmt):
    raw = struct.pack(">I", n)
    return raw.hex().encode() if fmt == "hex" else raw


def serve(cert, key, fmt):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    say("LISTEN %d" % listener.getsockname()[1])

    def loop():
        n = 0
        while True:
            tcp, _ = listener.accept()
            tcp.settimeout(5)
            try:
                conn = ctx.wrap_socket(tcp, server_side=True)
                ident = struct.pack(">I", n).hex()
                conn.sendall(id_wire(n, fmt))
            except (OSError, ssl.SSLError) as e:
                say("DROPPED %s" % e)
                tcp.close()
                continue
            n += 1
            with lock:
                held.append((ident, conn))
            say("ID " + ident)

    threading.Thread(target=loop, daemon=True).start()


def dial(port, count, fmt):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for _ in range(count):
        tcp = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn = ctx.wrap_socket(tcp, server_hostname="localhost")
        assert conn.version() == "TLSv1.3", conn.version()
        want = 8 if fmt == "hex" else 4
        got = b""
        while len(got) < want:
            part = conn.recv(want - len(got))
            if not part:
                raise SystemExit("the server closed before sending the ID")
            got += part
        ident = got.decode() if fmt == "hex" else got.hex()
        held.append((ident, conn))
        say("ID " + ident)


def readline(conn):
    line = b""
    while not line.endswith(b"\n"):
        part = conn.recv(1)
        if not part:
            break
        line += part
    return line.decode(errors="replace").strip()


def command(cmd):
    with lock:
        conns = list(held)
        if cmd in ("close_notify", "fin", "rst"):
            held.clear()
    for ident, conn in conns:
        if cmd == "hello":
            conn.sendall(b"hello " + ident.encode() + b"\n")
        elif cmd == "read":
            # Connections nobody wrote to (a client pool's refills) are
            # skipped after a second.
            conn.settimeout(1.0)
            try:
                say("GOT " + readline(conn))
            except (socket.timeout, ssl.SSLError, OSError):
                pass
        elif cmd == "close_notify":
            conn.settimeout(0.2)
            try:
                # Sends close_notify, then waits briefly for the peer's.
                conn.unwrap().close()
            except (OSError, ssl.SSLError, ValueError):
                conn.close()
        elif cmd == "fin":
            conn.close()
        elif cmd == "rst":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()


def main():
    role = sys.argv[1]
    if role == "server":
        serve(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        dial(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    say("READY")
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit" or not cmd:
            break
        command(cmd)
        say("OK")


if __name__ == "__main__":
    main()
