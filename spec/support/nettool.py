"""Small TCP/UDP servers and clients for spec/net_spec.lua (python3, stdlib only).

Every call is bounded: servers serve a fixed number of clients and give up
after --secs; clients retry for at most about 3 s (a forward whose far end
is not listening yet closes at once, or drops the datagram) and print what
they received, or an error line.

  serve ADDR PORT MSG [N]    TCP: send MSG to each of N clients (1), close
  echo ADDR PORT [N]         TCP: read each of N clients to EOF, answer
                             "echo <bytes> <sha256>", close
  udp-echo ADDR PORT [N]     UDP: answer N datagrams with "udp:" + datagram
  get ADDR PORT              TCP client: print what the server sends
  send ADDR PORT BYTES       TCP client: send BYTES bytes, half-close, print
                             the answer and "sent <bytes> <sha256>"
  udp-ask SRC ADDR PORT MSG  UDP client bound to SRC: print the answer
  refused ADDR PORT SECS     TCP client: "refused" unless a connection and
                             a byte come within SECS, then "connected"
"""
import hashlib
import os
import socket
import sys
import time

SECS = 10


def listen(addr, port, kind=socket.SOCK_STREAM):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        s.listen()
    s.settimeout(SECS)
    return s


def retry(fn):
    last = None
    for _ in range(30):
        try:
            got = fn()
            if got:
                return got
        except OSError as e:
            last = e
        time.sleep(0.1)
    return "error: %s" % (last or "no answer")


def main(argv):
    cmd = argv[1]
    if cmd == "serve":
        s = listen(argv[2], int(argv[3]))
        for _ in range(int(argv[5]) if len(argv) > 5 else 1):
            c, _ = s.accept()
            c.sendall(argv[4].encode())
            c.close()
    elif cmd == "echo":
        s = listen(argv[2], int(argv[3]))
        for _ in range(int(argv[4]) if len(argv) > 4 else 1):
            c, _ = s.accept()
            c.settimeout(SECS)
            h, n = hashlib.sha256(), 0
            while True:
                b = c.recv(65536)
                if not b:
                    break
                h.update(b)
                n += len(b)
            c.sendall(("echo %d %s" % (n, h.hexdigest())).encode())
            c.close()
    elif cmd == "udp-echo":
        s = listen(argv[2], int(argv[3]), socket.SOCK_DGRAM)
        for _ in range(int(argv[4]) if len(argv) > 4 else 1):
            d, a = s.recvfrom(65536)
            s.sendto(b"udp:" + d, a)
    elif cmd == "get":
        def get():
            c = socket.create_connection((argv[2], int(argv[3])), timeout=3)
            return c.recv(256).decode()
        print(retry(get))
    elif cmd == "send":
        data = os.urandom(int(argv[4]))

        def send():
            c = socket.create_connection((argv[2], int(argv[3])), timeout=3)
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            out = b""
            while True:
                b = c.recv(65536)
                if not b:
                    break
                out += b
            return out.decode()
        print(retry(send))
        print("sent %d %s" % (len(data), hashlib.sha256(data).hexdigest()))
    elif cmd == "udp-ask":
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((argv[2], 0))
        u.settimeout(0.1)

        def ask():
            u.sendto(argv[5].encode(), (argv[3], int(argv[4])))
            return u.recvfrom(65536)[0].decode()
        print(retry(ask))
    elif cmd == "refused":
        try:
            c = socket.create_connection((argv[2], int(argv[3])), timeout=float(argv[4]))
            c.settimeout(float(argv[4]))
            print("connected" if c.recv(1) else "refused")
        except OSError:
            print("refused")
    else:
        sys.exit("nettool: unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
