#!/usr/bin/env bash
# One prepared check of sparsecomp on a fresh accelerator machine, in under 6 minutes.
#
#   bash benchmarks/accelerator_check.sh                            # on the GPU machine
#   SPARSECOMP_CHECK_QUICK=1 bash benchmarks/accelerator_check.sh   # a smoke check on any CPU
#
# Expects what `pip install -e ".[test,cuda12]"` (or the machine's accelerator extra)
# installs; downloads nothing. From the repository root it runs, each step
# under a timeout within one budget (SPARSECOMP_CHECK_BUDGET seconds, 330 by
# default, so the whole script ends before 6 minutes):
#
#   1. the device and the jax/jaxlib versions;
#   2. the test modules whose numerics the accelerator decides (tests/coding,
#      tests/metrics, tests/sae), side by side, without GPU memory
#      preallocation so that the three processes share the device;
#   3. benchmarks/bench_job.py's job (a), sae_topk at n = 1000 with 32 seeds,
#      then job (b), vary_latents' six methods at n in (100, 1000), each
#      command cold and then warm (fresh compilation cache). (b) gets what is
#      left of the budget; a job cut short keeps the commands it finished.
#      The two runs of each command must give bitwise-equal rows (timings
#      aside): the summary's "rows_differ" names the methods whose rows did not
#      (the CLI makes GPU runs deterministic unless --nodeterministic_gpu).
#
# and writes one JSON summary to $OUT/accelerator_check.json when OUT is
# set, else ./accelerator_check.json: device kind, versions, each pytest
# outcome (counts from JUnit XML, or the timeout), each command's timings;
# with OUT set, every step's log also goes to $OUT/accelerator_check_logs/.
# SPARSECOMP_CHECK_QUICK=1 shrinks the jobs (2 epochs, 4 and 2 seeds, n = 100)
# to check the script itself on a CPU. Exit status 0 when every step finished
# and passed.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=${SPARSECOMP_CHECK_QUICK:-0}
budget=${SPARSECOMP_CHECK_BUDGET:-330}
summary=${OUT:-.}/accelerator_check.json
python=${PYTHON:-python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

if [[ "$quick" == 1 ]]; then
  a_args=(--epochs 2 --a-seeds 4 --a-num-latents 100)
  b_args=(--epochs 2 --b-seeds 2 --b-num-latents 100)
else
  a_args=(--epochs 500 --a-seeds 32 --a-num-latents 1000)
  b_args=(--epochs 500 --b-seeds 3 --b-num-latents 100 1000)
fi

# Seconds for a step: at most $1, leaving $2 for the steps after it.
allow() {
  local left=$(( budget - ($(date +%s) - start) - $2 ))
  (( left < $1 )) && echo $(( left > 5 ? left : 5 )) || echo "$1"
}

# step NAME SECONDS COMMAND...: runs COMMAND under a timeout, output to $work/NAME.log;
# records "returncode seconds timeout" in $work/NAME.step.
step() {
  local name=$1 seconds=$2 began
  shift 2
  began=$(date +%s)
  timeout -k 10 "$seconds" "$@" > "$work/$name.log" 2>&1
  echo "$? $(( $(date +%s) - began )) $seconds" > "$work/$name.step"
}

step device "$(allow 60 270)" "$python" -c '
import json, platform, jax, jaxlib
devices = jax.devices()
print(json.dumps({"backend": jax.default_backend(), "device_kind": devices[0].device_kind,
                  "device_count": len(devices), "jax": jax.__version__,
                  "jaxlib": jaxlib.__version__, "python": platform.python_version()}))'
echo "device: $(tail -n 1 "$work/device.log")"

tests_s=$(allow 100 180)
for module in coding metrics sae; do
  XLA_PYTHON_CLIENT_PREALLOCATE=false step "test_$module" "$tests_s" "$python" -m pytest -q \
    -p no:xdist -p no:cacheprovider -o addopts="" "tests/$module" --junitxml="$work/test_$module.xml" &
done
wait
echo "tests: $(cat "$work"/test_*.step | tr '\n' ';')"

step bench_a "$(allow 110 70)" "$python" benchmarks/bench_job.py --jobs a "${a_args[@]}" \
  --json "$work/bench_a.json"
echo "bench (a): $(cat "$work/bench_a.step")"
step bench_b "$(allow 100000 10)" "$python" benchmarks/bench_job.py --jobs b "${b_args[@]}" \
  --json "$work/bench_b.json"
echo "bench (b): $(cat "$work/bench_b.step")"

WORK=$work SUMMARY=$summary QUICK=$quick START=$start "$python" - <<'EOF'
import json, os, time
import xml.etree.ElementTree as ET
from pathlib import Path

work = Path(os.environ["WORK"])


def step(name):
    rc, seconds, timeout = (int(x) for x in (work / f"{name}.step").read_text().split())
    log = (work / f"{name}.log").read_text(errors="replace").strip().splitlines()
    return {"returncode": rc, "timed_out": rc in (124, 137), "seconds": seconds,
            "timeout_s": timeout, "log_tail": log[-5:]}


device = step("device")
try:
    device.update(json.loads(device["log_tail"][-1]))
except (IndexError, json.JSONDecodeError):
    pass
tests = {}
for module in ("coding", "metrics", "sae"):
    outcome = step(f"test_{module}")
    junit = work / f"test_{module}.xml"
    if junit.exists():
        suite = ET.parse(junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
        counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
        outcome.update(counts)
        outcome["failed_tests"] = [f"{case.get('classname')}::{case.get('name')}"
                                   for case in suite.iter("testcase")
                                   if case.find("failure") is not None
                                   or case.find("error") is not None]
    tests[f"tests/{module}"] = outcome
bench = {}
for job in ("a", "b"):
    outcome = step(f"bench_{job}")
    measured = work / f"bench_{job}.json"
    if measured.exists():
        data = json.loads(measured.read_text())
        outcome.update(args=data["args"], commands=data["results"])
        runs = [command["rows_sha256"] for command in data["results"]]
        if len(runs) == 2:  # cold and warm: two runs of one command
            outcome["rows_differ"] = sorted(m for m in runs[0] if runs[0][m] != runs[1].get(m))
    bench[job] = outcome
summary = {"quick": os.environ["QUICK"] == "1", "device": device, "pytest": tests,
           "bench_job": bench, "wall_s": round(time.time() - int(os.environ["START"]))}
Path(os.environ["SUMMARY"]).write_text(json.dumps(summary, indent=1))
if os.environ.get("OUT"):
    logs = Path(os.environ["OUT"]) / "accelerator_check_logs"
    logs.mkdir(parents=True, exist_ok=True)
    for log in work.glob("*.log"):
        (logs / log.name).write_text(log.read_text(errors="replace"))
ok = all(t["returncode"] == 0 for t in tests.values()) and all(
    b["returncode"] == 0 and not b.get("rows_differ") for b in bench.values()
) and device["returncode"] == 0
print(f"wrote {os.environ['SUMMARY']} after {summary['wall_s']} s: "
      + ("every step finished and passed" if ok else "SOME STEPS FAILED OR TIMED OUT"))
raise SystemExit(0 if ok else 1)
EOF
