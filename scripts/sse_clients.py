#!/usr/bin/env python3
"""Holds N Server-Sent-Events clients open against the box for SECS seconds and reports
how many stayed connected and how many events each received (scripts/load.sh).

usage: sse_clients.py BASE TOKEN N SECS PATH
"""
import asyncio
import sys
import time
from urllib.parse import urlsplit


async def client(host, port, path, token, until, stats):
    try:
        r, w = await asyncio.open_connection(host, port)
    except OSError as e:
        stats["refused"] += 1
        stats["errors"].append(str(e))
        return
    w.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    await w.drain()
    status = await r.readline()
    if b" 200 " not in status:
        stats["bad_status"] += 1
        stats["errors"].append(status.decode(errors="replace").strip())
        w.close()
        return
    events = 0
    closed_early = False
    while time.monotonic() < until:
        try:
            line = await asyncio.wait_for(r.readline(), timeout=max(0.1, until - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if not line:
            closed_early = True
            break
        if line.startswith(b"event:"):
            events += 1
    stats["events"].append(events)
    if closed_early:
        stats["closed_early"] += 1
    w.close()


async def main():
    base, token, n, secs, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    u = urlsplit(base)
    until = time.monotonic() + secs
    stats = {"refused": 0, "bad_status": 0, "closed_early": 0, "events": [], "errors": []}
    await asyncio.gather(*(client(u.hostname, u.port, path, token, until, stats) for _ in range(n)))
    ev = sorted(stats["events"])
    kept = len(ev) - stats["closed_early"]
    print(
        f"SSE: {n} clients on {path} for {secs:.0f} s: {kept} stayed connected, "
        f"{stats['refused']} refused, {stats['bad_status']} answered not 200, {stats['closed_early']} closed early; "
        f"events per client min {ev[0] if ev else 0} / median {ev[len(ev) // 2] if ev else 0} / max {ev[-1] if ev else 0}"
    )
    for e in stats["errors"][:5]:
        print("   ", e)


asyncio.run(main())
