#!/usr/bin/env bash
# The report in a real browser: writes report.html for a copy of the
# shipped results/seed-deadlock (results/ itself is left alone), loads it
# in headless Chromium (Debian's `chromium`, installed if missing) through
# playwright-core (npm, installed under target/ci-node if missing), and
# runs .ci/browser-check.mjs: numbers equal summary.csv's, every figure
# drawn, no console error, no network request. The screenshot is the CI
# artifact target/ci-artifacts/report-seed-deadlock.png.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
POOLSIM=${POOLSIM:-$ROOT/target/release/poolsim}
PLAYWRIGHT_VERSION=1.57.0
if ! command -v chromium >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi
NODE_DIR=$ROOT/target/ci-node
if [[ ! -f "$NODE_DIR/node_modules/playwright-core/package.json" ]] ||
    ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$NODE_DIR/node_modules/playwright-core/package.json"; then
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_VERSION"
fi
ARTIFACTS=$ROOT/target/ci-artifacts
mkdir -p "$ARTIFACTS"
W=$(mktemp -d /tmp/poolsim-report.XXXXXX)
cp -r "$ROOT/results/seed-deadlock" "$W/seed-deadlock"
rm -f "$W"/seed-deadlock/*.svg
"$POOLSIM" report "$W/seed-deadlock" >/dev/null
# Fresh profile for every run.
PLAYWRIGHT_CORE=$NODE_DIR/ FIGURES=deadlock-rate.svg,recovery-cdf.svg,cost-vs-unavailability.svg \
    node "$ROOT/.ci/browser-check.mjs" "$W/seed-deadlock/report.html" \
    "$W/seed-deadlock/summary.csv" "$ARTIFACTS/report-seed-deadlock.png"
cp "$W/seed-deadlock/report.html" "$ARTIFACTS/report-seed-deadlock.html"
rm -rf "$W"
