"""The Snap7 C client's side of benches/s7.rs: python-snap7 2.1.0's Client,
whose db_read calls Cli_DBRead in the bundled libsnap7.so through ctypes.

    python s7_snap7_client.py PORT THREADS MILLIS DB LEN

Connects THREADS clients (rack 0, slot 1) to 127.0.0.1:PORT, releases them
together, lets each call db_read(DB, 0, LEN) in a loop for MILLIS ms, and
prints one line of JSON: total reads, seconds, and an estimate of the Python
+ ctypes cost per call measured without the network (calling
Client.get_connected, which crosses ctypes into libsnap7 and returns at once,
and allocating a LEN-byte bytearray as db_read does). ctypes releases the GIL
during Cli_DBRead, so the threads wait for the server in parallel; the Python
parts of each call run one at a time.
"""

import json
import sys
import threading
import time

import snap7


def main():
    port, threads, millis, db, length = (int(a) for a in sys.argv[1:6])
    clients = []
    for _ in range(threads):
        c = snap7.client.Client()
        c.connect("127.0.0.1", 0, 1, port)
        clients.append(c)
    first = clients[0].db_read(db, 0, length)
    counts = [0] * threads
    barrier = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def work(i):
        c = clients[i]
        n = 0
        barrier.wait()
        end = stop_at[0]
        while time.perf_counter() < end:
            c.db_read(db, 0, length)
            n += 1
        counts[i] = n

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    start = time.perf_counter()
    stop_at[0] = start + millis / 1000.0
    barrier.wait()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start

    # The Python + ctypes overhead of one call, without the network.
    c = clients[0]
    n = 20000
    t0 = time.perf_counter()
    for _ in range(n):
        c.get_connected()
        bytearray(length)
    overhead_us = (time.perf_counter() - t0) / n * 1e6

    for c in clients:
        c.disconnect()
    print(json.dumps({
        "reads": sum(counts),
        "seconds": elapsed,
        "first": bytes(first).hex(),
        "overhead_us": overhead_us,
    }))


if __name__ == "__main__":
    main()
