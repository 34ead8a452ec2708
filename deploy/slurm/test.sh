#!/usr/bin/env bash
# Tests deploy/slurm/sweep.sbatch on a real one-machine Slurm cluster:
# installs Debian's slurm-wlm and munge if missing, starts munged,
# slurmctld and slurmd on localhost with a private minimal slurm.conf
# (own ports, state and spool under a temporary directory, so nothing of a
# system Slurm is touched), submits a 4-shard sweep of
# scenarios/seed-deadlock.toml exactly as README says (sbatch on the
# script), waits for the array and the merge job, and compares merged/
# byte for byte with an unsharded local run. Stops its daemons on exit.
#
#   bash deploy/slurm/test.sh            # uses target/release/poolsim
#   POOLSIM=/path/to/poolsim bash deploy/slurm/test.sh
#
# Needs root for the install only (skipped when the commands exist).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
POOLSIM=${POOLSIM:-$ROOT/target/release/poolsim}
SEEDS=${SEEDS:-6}
SHARDS=4
TIMEOUT_S=${TIMEOUT_S:-300}

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurm-wlm munge >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q slurm-wlm munge >/dev/null; }
fi
[[ -x "$POOLSIM" ]] || { echo "no poolsim binary at $POOLSIM (cargo build --release)" >&2; exit 1; }

W=$(mktemp -d /tmp/poolsim-slurm.XXXXXX)
chmod 755 "$W"
mkdir -p "$W/munge" "$W/state" "$W/spool" "$W/log" "$W/bin" "$W/submit"
chmod 700 "$W/munge"
cleanup() {
    for p in "$W/slurmd.pid" "$W/slurmctld.pid" "$W/munge/munged.pid"; do
        if [[ -s "$p" ]]; then kill "$(cat "$p")" 2>/dev/null || true; fi
    done
}
trap cleanup EXIT
fail() {
    echo "slurm test: $*" >&2
    for f in "$W"/log/*.log "$W"/submit/*.log; do
        [[ -f "$f" ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
    echo "slurm test: files kept in $W" >&2
    exit 1
}

# munge with its own key and socket.
dd if=/dev/urandom of="$W/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$W/munge/munge.key"
munged --force --socket="$W/munge/munge.sock" --key-file="$W/munge/munge.key" \
    --log-file="$W/log/munged.log" --pid-file="$W/munge/munged.pid" \
    --seed-file="$W/munge/munged.seed"

# Free ports for the two daemons, so a system Slurm is left alone.
read -r CTLD_PORT SLURMD_PORT < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')

CPUS=$(nproc)
cat >"$W/slurm.conf" <<EOF
ClusterName=poolsim-test
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
AuthInfo=socket=$W/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=2048 State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$W/slurm.conf
slurmctld -i -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N localhost
for _ in $(seq 1 30); do
    sinfo -h -o %T 2>/dev/null | grep -q idle && break
    sleep 1
done
sinfo -h -o %T | grep -q idle || fail "the node never became idle"

# Submit as README says; this machine has fewer cores than the script's
# default, so ask for one cpu a task (the script must pass it on).
ln -s "$POOLSIM" "$W/bin/poolsim"
OUT=$W/out
(cd "$W/submit" && PATH="$W/bin:$PATH" SHARDS=$SHARDS SEEDS=$SEEDS \
    sbatch --cpus-per-task=1 --mem=200M "$ROOT/deploy/slurm/sweep.sbatch" \
    "$ROOT/scenarios/seed-deadlock.toml" "$OUT") >"$W/log/submit.out"
echo "slurm test: $(cat "$W/log/submit.out"), waiting for the array and the merge"
deadline=$((SECONDS + TIMEOUT_S))
sleep 2
while [[ -n "$(squeue -h -o %i)" ]]; do
    ((SECONDS < deadline)) || { squeue >&2; fail "jobs still queued after ${TIMEOUT_S}s"; }
    sleep 2
done
for i in $(seq 0 $((SHARDS - 1))); do
    [[ -f "$OUT/shard-$i/runs.csv" ]] || fail "shard $i wrote no runs.csv"
done
[[ -f "$OUT/merged/summary.csv" ]] || fail "the merge job wrote no merged/summary.csv"

"$POOLSIM" run "$ROOT/scenarios/seed-deadlock.toml" --seeds "$SEEDS" --quiet \
    --out "$W/local" >/dev/null
diff -r "$W/local" "$OUT/merged" || fail "merged/ differs from an unsharded run"
echo "slurm test: ok ($SHARDS shards of $SEEDS seeds merged byte for byte equal to an unsharded run: $(ls "$OUT/merged" | tr '\n' ' '))"
cleanup
trap - EXIT
sleep 1
rm -rf "$W"
