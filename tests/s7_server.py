"""The C++ Snap7 server (libsnap7.so from the python-snap7 2.1.0 wheel) on a
loopback port, with known contents, for edgepool's S7 tests and benchmark.

    python s7_server.py PORT [ADDRESS]

Listens on 127.0.0.1:PORT only (never 102, never another interface; the fault
lab passes ADDRESS, the peers' address inside its network namespace), prints
"READY" once it accepts connections, then reads commands on stdin, one a
line: "run" / "stop" set the CPU status the server reports in SZL 0x0424,
"quit" (or the end of stdin) stops it. The areas (all bytes, see `pattern`):

    DB1   256 bytes   pattern(1, i)
    DB2   32768 bytes pattern(2, i)   (large reads across many PDUs)
    DB3   1024 bytes  zeros           (writes)
    DB4   1024 bytes  pattern(4, i)   (benchmark)
    PE, PA, MK  256 bytes each: pattern(0x81 / 0x82 / 0x83, i)
    TM, CT      128 bytes each (64 timers / counters): pattern(0x1D / 0x1C, i)

libsnap7 keeps the area sizes in 16 bits: an area of 64 KiB or more would wrap.
"""

import ctypes
import sys

import snap7
from snap7.type import SrvArea

AREAS = [
    (SrvArea.DB, 1, 256, 1),
    (SrvArea.DB, 2, 32768, 2),
    (SrvArea.DB, 3, 1024, None),
    (SrvArea.DB, 4, 1024, 4),
    (SrvArea.PE, 0, 256, 0x81),
    (SrvArea.PA, 0, 256, 0x82),
    (SrvArea.MK, 0, 256, 0x83),
    (SrvArea.TM, 0, 128, 0x1D),
    (SrvArea.CT, 0, 128, 0x1C),
]


def pattern(seed, i):
    """Byte i of an area: the same formula as tests/common/mod.rs's s7_pattern."""
    return (seed * 31 + i * 7 + (i >> 8)) & 0xFF


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: s7_server.py PORT [ADDRESS]")
    port = int(sys.argv[1])
    address = sys.argv[2] if len(sys.argv) == 3 else "127.0.0.1"
    if port == 102:
        sys.exit("refusing port 102")
    server = snap7.server.Server(log=False)
    keep = []  # the buffers must outlive the server
    for area, index, size, seed in AREAS:
        buf = (ctypes.c_uint8 * size)()
        if seed is not None:
            for i in range(size):
                buf[i] = pattern(seed, i)
        keep.append(buf)
        server.register_area(area, index, buf)
    server.start_to(address, port)
    server.set_cpu_status(8)  # RUN
    print("READY", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "run":
            server.set_cpu_status(8)
        elif cmd == "stop":
            server.set_cpu_status(4)
        elif cmd == "quit":
            break
        else:
            continue
        print("OK " + cmd, flush=True)
    server.stop()
    server.destroy()


if __name__ == "__main__":
    main()
