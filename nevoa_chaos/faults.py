"""The faults of the stream drills, injected while the workload flows.

Each function waits until a share of the workload is acknowledged (and the fog node is
storing), tells the monitor the fault begins, injects it, undoes it, and tells the monitor
when the fault ended: the moment the killed process is started again, the memory limit
lifted, the stopped process continued, the dropped connections free to reconnect.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from nevoa_chaos.drill import StreamRun

OOM_HEADROOM = 64 * 1024  # bytes above used memory: a few batches, then out of memory


def fog_kill_9(run: StreamRun) -> None:
    kills = run.options.kills or 5
    for i in range(kills):
        run.wait_acked((i + 1) / (kills + 1))
        run.wait_fog_storing()
        fault = run.monitor.begin(f"kill -9 fog #{i + 1}")
        run.stack.kill_fog()
        run.monitor.end(fault)
        run.stack.start_fog()
        run.say(f"fog node killed (-9) and started again ({i + 1}/{kills})")
        run.stack.wait_fog_subscribed()
    run.notes.append(f"{kills} x kill -9 of the fog node")


def redis_kill_9(run: StreamRun) -> None:
    kills = run.options.kills or 5
    for i in range(kills):
        run.wait_acked((i + 1) / (kills + 1))
        run.wait_fog_storing()
        fault = run.monitor.begin(f"kill -9 redis #{i + 1}")
        run.stack.redis.kill()
        time.sleep(1.0)  # down for a second: the fog's writers retry meanwhile
        run.monitor.end(fault)
        run.stack.redis.start()
        run.say(f"Redis killed (-9), down 1 s, started again on its AOF ({i + 1}/{kills})")
    run.notes.append(f"{kills} x kill -9 of Redis (AOF everysec), 1 s down each")


def redis_oom(run: StreamRun) -> None:
    seconds = run.options.fault_seconds or 30.0
    run.wait_acked(0.2)
    run.wait_fog_storing()
    client = run.client
    policy = str(client.config_get("maxmemory-policy").get("maxmemory-policy"))
    before = str(client.config_get("maxmemory").get("maxmemory", "0"))
    used = int(client.info("memory")["used_memory"])
    limit = used + OOM_HEADROOM
    fault = run.monitor.begin("maxmemory just above used")
    client.config_set("maxmemory", limit)
    run.say(f"Redis maxmemory {limit:,} B (used {used:,} + 64 KiB, {policy}) for {seconds:g}s")
    time.sleep(seconds)
    run.monitor.end(fault)
    client.config_set("maxmemory", before)
    run.say("maxmemory restored")
    errors = client.info("stats").get("total_error_replies")
    run.notes.append(f"maxmemory = used + 64 KiB ({policy}) for {seconds:g}s"
                     + (f", {int(errors):,} error replies" if errors is not None else ""))


def broker_kill_9(run: StreamRun) -> None:
    kills = run.options.kills or 3
    for i in range(kills):
        run.wait_acked((i + 1) / (kills + 1))
        run.wait_fog_storing()
        fault = run.monitor.begin(f"kill -9 broker #{i + 1}")
        run.stack.broker.kill()
        time.sleep(1.0)
        run.monitor.end(fault)
        run.stack.broker.start()
        run.say(f"Mosquitto killed (-9), down 1 s, started again on its database "
                f"({i + 1}/{kills})")
    autosave = run.stack.broker.autosave_interval
    run.notes.append(f"{kills} x kill -9 of Mosquitto (autosave_interval {autosave:g} s)")


def _sigstop(run: StreamRun, fault_name: str, who: str, pause: Callable[[], None],
             resume: Callable[[], None]) -> None:
    """Stop a process (SIGSTOP) for the fault's length while readings flow, then go on."""
    seconds = run.options.fault_seconds or 60.0
    run.wait_acked(0.25)
    run.wait_fog_storing()
    fault = run.monitor.begin(fault_name)
    pause()
    run.say(f"{who} stopped (SIGSTOP) for {seconds:g}s")
    time.sleep(seconds)
    run.monitor.end(fault)
    resume()
    run.say(f"{who} continued (SIGCONT)")
    run.notes.append(f"{who} stopped {seconds:g}s")


def broker_sigstop(run: StreamRun) -> None:
    _sigstop(run, "SIGSTOP broker", "Mosquitto", run.stack.broker.pause,
             run.stack.broker.resume)


def fog_sigstop(run: StreamRun) -> None:
    _sigstop(run, "SIGSTOP fog", "fog node", run.stack.pause_fog, run.stack.resume_fog)


def reconnect_storm(run: StreamRun) -> None:
    total = len(run.workload.meters)
    deadline = time.monotonic() + 120
    while run.publisher.connected() < total and time.monotonic() < deadline:
        time.sleep(0.1)
    run.wait_acked(0.4)
    run.wait_fog_storing()
    up = run.publisher.connected()
    fault = run.monitor.begin(f"{up:,} connections dropped")
    run.publisher.drop_all()
    run.monitor.end(fault)
    run.say(f"{up:,} publisher connections dropped at once; all reconnect at once")
    deadline = time.monotonic() + 120
    while run.publisher.all_up_after_drop is None and time.monotonic() < deadline:
        time.sleep(0.1)
    back = run.publisher.all_up_after_drop
    run.details["all_reconnected_after_s"] = back
    run.notes.append(f"{up:,} connections dropped at once, "
                     + (f"all back in {back:.1f}s" if back is not None
                        else "not all back in 120 s"))
