#!/usr/bin/env bash
# Tests deploy/kubernetes/sweep-job.yaml without a cluster:
# 1. validates every object offline against the Kubernetes API schema
#    (PyPI `kubernetes-validate`, installed if missing; strict: unknown
#    fields fail), and checks that a broken copy fails, so the check bites;
# 2. checks that the shard count agrees (`completions` and SHARDS in both
#    Jobs) and that the ConfigMap's scenario passes `poolsim validate`;
# 3. runs the merge Job's script against shard directories made by hand:
#    with a shard missing, and with one unfinished (runs.csv.partial only),
#    it keeps waiting and merges nothing; with all present it merges, byte
#    for byte the files of an unsharded run.
#
#   bash deploy/kubernetes/test.sh      # uses target/release/poolsim
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
POOLSIM=${POOLSIM:-$ROOT/target/release/poolsim}
MANIFEST=$ROOT/deploy/kubernetes/sweep-job.yaml
K8S_VERSIONS=${K8S_VERSIONS:-1.31.0 1.34.0}

if ! command -v kubernetes-validate >/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate
fi
W=$(mktemp -d /tmp/poolsim-k8s.XXXXXX)
fail() {
    echo "kubernetes test: $*" >&2
    echo "kubernetes test: files kept in $W" >&2
    exit 1
}

# 1. Schema.
for v in $K8S_VERSIONS; do
    kubernetes-validate --strict --quiet -k "$v" "$MANIFEST" ||
        fail "$MANIFEST does not validate against Kubernetes $v"
done
sed 's/completionMode: Indexed/completionMod: Indexed/' "$MANIFEST" >"$W/broken.yaml"
if kubernetes-validate --strict --quiet "$W/broken.yaml" >/dev/null 2>&1; then
    fail "the validator accepted an unknown field: it checks nothing"
fi

# 2. Consistency; extract the scenario and the merge script.
python3 - "$MANIFEST" "$W" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
out = sys.argv[2]
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
sweep = by[("Job", "poolsim-sweep")]["spec"]
merge = by[("Job", "poolsim-merge")]["spec"]["template"]["spec"]["containers"][0]
shard = sweep["template"]["spec"]["containers"][0]
env = lambda c: {e["name"]: e["value"] for e in c.get("env", [])}
n = sweep["completions"]
for who, c in (("shard", shard), ("merge", merge)):
    if int(env(c)["SHARDS"]) != n:
        sys.exit(f"{who} container: SHARDS={env(c)['SHARDS']} but completions={n}")
if sweep["completionMode"] != "Indexed":
    sys.exit("the sweep Job must be Indexed (JOB_COMPLETION_INDEX)")
open(f"{out}/scenario.toml", "w").write(
    by[("ConfigMap", "poolsim-scenario")]["data"]["scenario.toml"])
assert merge["command"] == ["sh", "-c"], merge["command"]
open(f"{out}/merge.sh", "w").write(merge["args"][0])
PY
"$POOLSIM" validate "$W/scenario.toml" >/dev/null || fail "the ConfigMap's scenario is invalid"

# 3. The merge Job's wait logic, on hand-made shard directories.
SCENARIO=$ROOT/scenarios/seed-deadlock.toml
R=$W/results
mkdir -p "$R" "$W/bin"
ln -s "$POOLSIM" "$W/bin/poolsim"
for i in 0 1 2; do
    "$POOLSIM" run "$SCENARIO" --seeds 4 --quiet --shard "$i/4" --out "$R/shard-$i" >/dev/null
done
merge_for() { # seconds: run the merge script at most that long
    RESULTS=$R SHARDS=4 WAIT_S=1 PATH="$W/bin:$PATH" timeout "$1" sh -c "$(cat "$W/merge.sh")"
}
status=0
merge_for 4 >"$W/missing.log" 2>&1 || status=$?
[[ $status == 124 ]] || fail "with shard 3 missing the merge exited ($status) instead of waiting"
grep -q "waiting: 3 of 4 shards finished" "$W/missing.log" || fail "no waiting message: $(cat "$W/missing.log")"
[[ ! -e "$R/merged" ]] || fail "merged/ written with a shard missing"

# Shard 3 interrupted: only its partial rows.
"$POOLSIM" run "$SCENARIO" --seeds 4 --quiet --shard 3/4 --out "$R/shard-3" >/dev/null
mv "$R/shard-3/runs.csv" "$R/shard-3/runs.csv.partial"
status=0
merge_for 4 >"$W/partial.log" 2>&1 || status=$?
[[ $status == 124 && ! -e "$R/merged" ]] || fail "merged an unfinished shard (exit $status)"

mv "$R/shard-3/runs.csv.partial" "$R/shard-3/runs.csv"
merge_for 60 >"$W/merge.log" 2>&1 || fail "the merge failed: $(cat "$W/merge.log")"
"$POOLSIM" run "$SCENARIO" --seeds 4 --quiet --out "$W/local" >/dev/null
diff -r "$W/local" "$R/merged" || fail "merged/ differs from an unsharded run"
echo "kubernetes test: ok (schema valid for $K8S_VERSIONS; merge waits for a missing or unfinished shard, merges all four byte for byte)"
rm -rf "$W"
