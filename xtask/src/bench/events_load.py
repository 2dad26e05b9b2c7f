"""Load for the live-events bench: each of several patients books one appointment and holds
STREAMS_PER_USER Server-Sent Events streams open; then the patients' appointments are changed
EVENTS times in turn, and the script reports how many events reached the streams, how fast, how
late, and the server's memory with the streams open.

Standard library only (asyncio sockets): the bench machine needs nothing installed.

Usage: events_load.py PORT PID STREAMS_PER_USER EVENTS TOKEN...
Prints one JSON object on its last line.
"""

import asyncio
import json
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


async def request(port, method, path, token, body=None):
    """One HTTP/1.1 request on its own connection; returns (status, parsed JSON or None)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = b"" if body is None else json.dumps(body).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    header, _, rest = raw.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in header.lower():
        rest = dechunk(rest)
    try:
        return status, json.loads(rest) if rest else None
    except ValueError:
        return status, None


def dechunk(data):
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


class Stream:
    """One open event stream, counting `appointment.updated` frames and their delay."""

    def __init__(self, user):
        self.user = user
        self.received = 0
        self.delays = []

    async def open(self, port, token, ready):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        self.writer.write(
            (
                f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await self.writer.drain()
        status_line = await self.reader.readline()
        if b" 200 " not in status_line:
            raise RuntimeError(f"stream refused: {status_line!r}")
        while (await self.reader.readline()) not in (b"\r\n", b""):
            pass
        ready()

    async def read(self, sent_at):
        """Reads frames until every event of its user arrived; chunk-size lines are skipped.
        `sent_at[user]` lists when each of that user's changes was sent."""
        total = len(sent_at[self.user])
        while self.received < total:
            line = await self.reader.readline()
            if not line:
                return
            if line.startswith(b"event: appointment.updated"):
                index = self.received
                self.received += 1
                sent = sent_at[self.user][index]
                if sent is not None:
                    self.delays.append(time.monotonic() - sent)

    def close(self):
        self.writer.close()


async def main():
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    per_user, events = int(sys.argv[3]), int(sys.argv[4])
    tokens = sys.argv[5:]
    users = len(tokens)
    idle_rss = rss_kib(pid)
    appointments = []
    for user, token in enumerate(tokens):
        status, created = await request(
            port,
            "POST",
            "/api/v1/appointments/",
            token,
            {
                "doctor_name": "Dr. Bench",
                "appointment_at": f"2031-01-{user % 28 + 1:02d}T10:00:00Z",
                "reason": "Live events bench",
                "contact_phone": "+91 98765 43210",
            },
        )
        if status != 201:
            raise SystemExit(f"booking for user {user} answered {status}: {created}")
        appointments.append(created["id"])

    opened = 0

    def ready():
        nonlocal opened
        opened += 1

    clients = [Stream(user) for user in range(users) for _ in range(per_user)]
    started = time.monotonic()
    # Open in batches so the listen backlog is never the limit.
    for first in range(0, len(clients), 100):
        await asyncio.gather(*(c.open(port, tokens[c.user], ready) for c in clients[first : first + 100]))
    open_secs = time.monotonic() - started
    await asyncio.sleep(1.0)
    open_rss = rss_kib(pid)

    # Changes go to the users in turn: user u gets changes u, u + users, ...
    sent_at = [[None] * len(range(user, events, users)) for user in range(users)]
    readers = [asyncio.create_task(c.read(sent_at)) for c in clients]
    first_sent = time.monotonic()
    failures = 0
    for index in range(events):
        user = index % users
        sent_at[user][index // users] = time.monotonic()
        status, _ = await request(
            port,
            "PUT",
            f"/api/v1/appointments/{appointments[user]}",
            tokens[user],
            {"notes": f"bench {index}"},
        )
        if status != 200:
            failures += 1
    try:
        await asyncio.wait_for(asyncio.gather(*readers), timeout=60)
    except asyncio.TimeoutError:
        pass
    elapsed = time.monotonic() - first_sent
    peak_rss = rss_kib(pid)
    for c in clients:
        c.close()
    delivered = sum(c.received for c in clients)
    delays = sorted(d for c in clients for d in c.delays)

    def quantile(q):
        return round(delays[min(len(delays) - 1, int(q * len(delays)))] * 1000, 1) if delays else None

    print(
        json.dumps(
            {
                "users": users,
                "streams": opened,
                "open_secs": round(open_secs, 2),
                "events": events,
                "change_failures": failures,
                "delivered": delivered,
                "expected": events * per_user,
                "elapsed_secs": round(elapsed, 3),
                "delivered_per_sec": round(delivered / elapsed, 1) if elapsed > 0 else None,
                "delay_p50_ms": quantile(0.50),
                "delay_p99_ms": quantile(0.99),
                "idle_rss_kib": idle_rss,
                "open_rss_kib": open_rss,
                "peak_rss_kib": peak_rss,
            }
        )
    )


asyncio.run(main())
