#!/usr/bin/env bash
# Regenerates every example output in results/ from the shipped scenarios:
#   bash results/regenerate.sh
# About a minute on two cores. Outputs are deterministic: the same poolsim
# version gives the same bytes on any machine and thread count.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
P=target/release/poolsim
run() { "$P" run --quiet "$@"; }

# The story: 200 seeds of each policy.
run scenarios/seed-deadlock.toml --out results/seed-deadlock
"$P" plot results/seed-deadlock
# The same, swept over the backlog of pending user pods.
run scenarios/seed-deadlock.toml --seeds 100 --set workloads.worker.replicas=0..400:50 \
    --out results/seed-deadlock-backlog
"$P" plot results/seed-deadlock-backlog
# Seeds 1 to 5 over time, sampled every 30 s; seed 3 deadlocks under
# single-pool and is the one drawn.
"$P" run --quiet scenarios/seed-deadlock.toml --seeds 5 --timeseries 30s \
    --out results/seed-deadlock-timeline
"$P" plot results/seed-deadlock-timeline --policy single-pool --seed 3

# The control and the alternatives.
for s in seed-headroom seed-alternatives seed-webhook zone-outage spot-interruptions autoscaler \
    zone-outage-stateful spread; do
    run "scenarios/$s.toml" --out "results/$s"
    "$P" plot "results/$s"
done

# What should I run? The advisor on the story and on the autoscaler
# scenario (README, *What should I run?*).
"$P" advise --quiet scenarios/seed-deadlock.toml --objective cost \
    --require 'deadlock_rate<=0.01' --out results/seed-deadlock-advise
"$P" advise --quiet scenarios/autoscaler.toml --require 'deadlock_rate<=0.01' \
    --out results/autoscaler-advise
