"""Warm sandbox bootstrap for Python agents: waits, already running, for `warm/specialize`,
writes the agent's files to /agent, sets its environment and runs its main file in this
process, so a leased agent starts without a new interpreter. stdin/stdout stay the agent's."""
import json
import os
import runpy
import sys

sys.stdout.write(json.dumps({"jsonrpc": "2.0", "method": "warm/ready", "params": {"pid": os.getpid()}}) + "\n")
sys.stdout.flush()
line = sys.stdin.readline()
message = json.loads(line)
params = message["params"]
for name, content in params["files"].items():
    with open(os.path.join("/agent", name), "w") as f:
        f.write(content)
os.environ.update(params["env"])
os.chdir(params["cwd"])
sys.argv = params["argv"]
sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": None}) + "\n")
sys.stdout.flush()
runpy.run_path(params["argv"][0], run_name="__main__")
