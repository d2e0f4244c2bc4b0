"""A CPU-weighted sampling profiler for the app server, for bench/many_profile.py (not part of the app).

Python imports `sitecustomize` at start-up from the path, so the bench starts the app with this folder
on PYTHONPATH and BENCH_PROFILE_OUT set; nothing in the app knows of it. A thread looks at every other
thread's stack every ~2 ms and charges the CPU that thread spent since the last look (its own CPU clock,
time.pthread_getcpuclockid) to the stack it is in now: waiting threads cost nothing, busy ones show
where their CPU went. Control by files next to BENCH_PROFILE_OUT: `<out>.reset` (start counting afresh)
and `<out>.dump` (write the counts to <out> as JSON); each is removed once done.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

INTERVAL_S = 0.002
DEPTH = 60


def _frame_name(code) -> str:
    path = code.co_filename
    for marker in ("site-packages/", "/lib/python3", "/work/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{code.co_name}"


def _run(out: str) -> None:
    me = threading.get_ident()
    clocks: dict[int, int] = {}
    last: dict[int, float] = {}
    own: dict[str, float] = {}
    inclusive: dict[str, float] = {}
    by_thread: dict[str, float] = {}
    stacks: dict[str, float] = {}
    started = time.monotonic()
    mine = time.thread_time()
    while True:
        time.sleep(INTERVAL_S)
        if os.path.exists(out + ".reset"):
            for table in (own, inclusive, by_thread, stacks):
                table.clear()
            started, mine = time.monotonic(), time.thread_time()
            os.unlink(out + ".reset")
        if os.path.exists(out + ".dump"):
            names = {t.ident: t.name for t in threading.enumerate()}
            with open(out + ".tmp", "w") as sink:
                json.dump(
                    {
                        "seconds": time.monotonic() - started,
                        "sampler_cpu": time.thread_time() - mine,
                        "self": own,
                        "inclusive": inclusive,
                        "threads": by_thread,
                        "stacks": stacks,
                        "names": {str(k): v for k, v in names.items()},
                    },
                    sink,
                )
            os.replace(out + ".tmp", out)
            os.unlink(out + ".dump")
        names = None
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            try:
                clock = clocks.get(ident)
                if clock is None:
                    clock = clocks[ident] = time.pthread_getcpuclockid(ident)
                now = time.clock_gettime(clock)
            except OSError:
                clocks.pop(ident, None)
                continue
            spent = now - last.get(ident, now)
            last[ident] = now
            if spent <= 0:
                continue
            if names is None:
                names = {t.ident: t.name for t in threading.enumerate()}
            thread = names.get(ident, str(ident))
            thread = thread.split("-")[0] if thread.startswith(("ThreadPoolExecutor", "verify")) else thread
            by_thread[thread] = by_thread.get(thread, 0.0) + spent
            chain = []
            depth = 0
            while frame is not None and depth < DEPTH:
                chain.append(_frame_name(frame.f_code))
                frame = frame.f_back
                depth += 1
            own[chain[0]] = own.get(chain[0], 0.0) + spent
            for name in set(chain):
                inclusive[name] = inclusive.get(name, 0.0) + spent
            key = " <- ".join(chain[:12])
            stacks[key] = stacks.get(key, 0.0) + spent


if os.environ.get("BENCH_PROFILE_OUT"):
    threading.Thread(target=_run, args=(os.environ["BENCH_PROFILE_OUT"],), name="bench-sampler", daemon=True).start()
