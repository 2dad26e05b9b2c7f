"""Client of the export bench: reads one personal data export while sampling the server's
resident memory, then checks the document and prints a JSON summary.

Usage: export_load.py PORT SERVER_PID TOKEN
"""
import json
import sys
import threading
import time
import urllib.request


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def main():
    port, pid, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    idle = rss_kib(pid)
    peak = [idle]
    done = threading.Event()

    def sample():
        while not done.is_set():
            value = rss_kib(pid)
            if value is not None and value > peak[0]:
                peak[0] = value
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/users/me/export",
        headers={"Authorization": f"Bearer {token}"},
    )
    started = time.monotonic()
    first_byte = None
    data = bytearray()
    with urllib.request.urlopen(request, timeout=600) as response:
        while True:
            chunk = response.read(65536)
            if not chunk:
                break
            if first_byte is None:
                first_byte = time.monotonic() - started
            data += chunk
    elapsed = time.monotonic() - started
    done.set()
    sampler.join()
    document = json.loads(data)
    notifications = document["notifications"]
    print(json.dumps({
        "bytes": len(data),
        "secs": round(elapsed, 3),
        "first_byte_ms": round((first_byte or 0) * 1000, 1),
        "notifications": len(notifications),
        "deliveries": sum(len(n["deliveries"]) for n in notifications),
        "rows_per_sec": round(len(notifications) / elapsed, 1),
        "idle_rss_kib": idle,
        "peak_rss_kib": peak[0],
    }))


main()
