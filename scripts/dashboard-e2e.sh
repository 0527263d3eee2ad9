#!/usr/bin/env bash
# End-to-end test of the web dashboard in Debian's headless Chromium, driven by
# playwright-core (tests/dashboard/e2e.mjs): runs `vigil demo`, signs in, searches,
# checks the spike on the overview chart, acknowledges the crisis incident in the
# browser and confirms the ack with `vigil incidents list`. Screenshots of every page
# (desktop and 390x844) are kept under the output folder.
#
# Environment:
#   VIGIL_E2E_OUTPUT  screenshots and daemon logs (default tests/dashboard/output/)
#   VIGIL_BIN         use this binary instead of building target/debug/vigil
#   CHROMIUM          browser (default /usr/bin/chromium)
#
# Installs what it needs when missing: Debian's chromium and fonts-noto-cjk (so the
# Chinese pages render in screenshots; needs root), and the npm packages of
# tests/dashboard (`npm ci`, playwright-core only; it never downloads a browser).
# Exit status: 0 when every check passed, 1 when one failed, 2 when set-up failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

need_apt=()
[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || need_apt+=(chromium)
fc-list 2>/dev/null | grep -i 'Noto Sans CJK' >/dev/null || need_apt+=(fonts-noto-cjk)  # not grep -q: SIGPIPE + pipefail
if ((${#need_apt[@]})); then
    echo "dashboard-e2e: installing ${need_apt[*]}" >&2
    SUDO=$([[ $(id -u) == 0 ]] && echo "" || echo sudo)
    if ! $SUDO apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null; then
        $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null \
            || { echo "dashboard-e2e: cannot install ${need_apt[*]}" >&2; exit 2; }
    fi
fi

(cd tests/dashboard && npm ci --no-audit --no-fund --loglevel=error) || { echo "dashboard-e2e: npm ci failed" >&2; exit 2; }

if [[ -z ${VIGIL_BIN:-} ]]; then
    cargo build -j2 -p vigil || { echo "dashboard-e2e: cargo build failed" >&2; exit 2; }
    VIGIL_BIN=$ROOT/target/debug/vigil
fi
export VIGIL_BIN
node tests/dashboard/e2e.mjs
