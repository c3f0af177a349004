#!/usr/bin/env python3
"""A process agent in Python (standard library only): JSON-RPC 2.0, one message per line on stdio.

task/run input {"text": ...} -> {"upper": TEXT, "by": "python", "runs": n}; input {"crash": true}
exits mid-task ({"crashOn": AGENT_ID} only on that agent); {"sleepMs": N} sleeps first (with {"sleepOn": AGENT_ID}
only on that agent); input {"write": PATH} tries to write there; {"connect": [HOST, PORT]} tries to
connect; {"read": PATH} reads a file. See docs/process-agents.md.
"""
import json
import os
import socket
import sys
import threading

runs = 0
context = {}
out = threading.Lock()  # the heartbeat thread and the main loop both write lines


def send(message):
    line = json.dumps(message) + "\n"
    with out:
        sys.stdout.write(line)
        sys.stdout.flush()


beat = 1.0  # seconds; initialize says how often the factory wants to hear from us


def heartbeat():
    # From a thread, so the agent stays alive in the factory's eyes while a task runs.
    while True:
        threading.Event().wait(beat)
        send({"jsonrpc": "2.0", "method": "heartbeat", "params": {}})


def run(params):
    global runs
    runs += 1
    data = params.get("input") or {}
    if data.get("crash") or data.get("crashOn") == os.environ.get("AGENT_ID"):
        os._exit(3)
    if "sleepMs" in data and data.get("sleepOn", os.environ.get("AGENT_ID")) == os.environ.get("AGENT_ID"):
        import time
        time.sleep(data["sleepMs"] / 1000)
    if "write" in data:
        with open(data["write"], "w") as f:
            f.write("x")
        return {"wrote": data["write"]}
    if "read" in data:
        with open(data["read"]) as f:
            return {"read": f.read()}
    if "open" in data:  # opens that many files at once (the sandbox limits open files)
        handles = [open("/workspace/f%d" % i, "w") for i in range(data["open"])]
        for h in handles:
            h.close()
        return {"opened": len(handles)}
    if "connect" in data:
        host, port = data["connect"]
        socket.create_connection((host, port), timeout=2).close()
        return {"connected": True}
    context["runs"] = context.get("runs", 0) + 1
    send({"jsonrpc": "2.0", "id": "save-%d" % runs, "method": "context/save", "params": {"context": context}})
    return {"upper": str(data.get("text", "")).upper(), "by": "python", "runs": runs}


for line in sys.stdin:
    try:
        message = json.loads(line)
    except ValueError:
        continue
    method, mid = message.get("method"), message.get("id")
    if method is None:
        continue  # a response to our context/save, or a notification we ignore
    if method == "initialize":
        params = message.get("params") or {}
        context = params.get("context") or {}
        if params.get("heartbeatIntervalMs"):
            beat = params["heartbeatIntervalMs"] / 1000
        threading.Thread(target=heartbeat, daemon=True).start()
        send({"jsonrpc": "2.0", "id": mid, "result": {"ready": True, "pid": os.getpid()}})
    elif method == "task/run":
        try:
            send({"jsonrpc": "2.0", "id": mid, "result": run(message.get("params") or {})})
        except Exception as error:  # the task fails; the agent lives on
            send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32000, "message": "%s: %s" % (type(error).__name__, error)}})
    elif method == "shutdown":
        send({"jsonrpc": "2.0", "id": mid, "result": None})
        break
    elif mid is not None:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "method not found: %s" % method}})
