#!/usr/bin/env bash
# Fuzz smoke test of the crawler's parsers: builds the cargo-fuzz targets in
# crawler/fuzz and runs each one for a bounded time over a seed corpus made from
# crawler/tests/fixtures, crawler/fuzz/seeds and, when present, ../shared/fixtures.
#
# Works on the stable toolchain: `--sanitizer none` needs no nightly flag (AddressSanitizer
# would need -Zsanitizer, i.e. nightly). Coverage instrumentation, debug assertions and
# overflow checks are on, as cargo fuzz always sets them.
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 25)
#   FUZZ_TARGETS   space-separated targets (default: all of crawler/fuzz/fuzz_targets)
#   FUZZ_MAX_LEN   largest input of the feed, html and platforms targets (default 65536)
#   VIGIL_SHARED_FIXTURES  shared fixtures folder (default ../shared/fixtures)
#   VIGIL_FUZZ_STRICT_PANICS=1  also fail on panics the crawler catches on purpose
#                  (inside feed-rs and texting_robots); see crawler/fuzz/src/lib.rs
#
# Exit status: 0 when every target ran its time without a crash; 1 when a target
# crashed (the input is under crawler/fuzz/artifacts/<target>/ and its path is printed,
# with the command that replays it); 2 when the targets could not be built or run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ_DIR=$ROOT/crawler/fuzz
SECONDS_PER_TARGET=${FUZZ_SECONDS:-25}
SHARED=${VIGIL_SHARED_FIXTURES:-$(dirname "$ROOT")/shared/fixtures}
if [[ -n ${FUZZ_TARGETS:-} ]]; then
    read -r -a TARGETS <<<"$FUZZ_TARGETS"
else
    TARGETS=()
    for file in "$FUZZ_DIR"/fuzz_targets/*.rs; do
        TARGETS+=("$(basename "$file" .rs)")
    done
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked || {
        echo "fuzz-smoke: could not install cargo-fuzz" >&2
        exit 2
    }
fi

# Cargo-fuzz looks for ./fuzz; run everything from crawler/.
cd "$ROOT/crawler"
echo "fuzz-smoke: building ${TARGETS[*]} ($(cargo fuzz --version))"
if ! cargo fuzz build --sanitizer none; then
    echo "fuzz-smoke: build failed" >&2
    exit 2
fi

SEEDS=$(mktemp -d "${TMPDIR:-/tmp}/vigil-fuzz-seeds.XXXXXX")
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/vigil-fuzz-logs.XXXXXX")
trap 'rm -rf "$SEEDS"' EXIT

# Copies the files given into the seed folder of target $1, named <folder>_<file>
# (fixture folders reuse file names). Missing paths (unmatched globs) are skipped.
seed() {
    local target=$1
    shift
    mkdir -p "$SEEDS/$target"
    local file
    for file in "$@"; do
        [[ -f $file ]] || continue
        cp "$file" "$SEEDS/$target/$(basename "$(dirname "$file")")_$(basename "$file")"
    done
}

FIXTURES=$ROOT/crawler/tests/fixtures
shared_note="not present (repository fixtures only)"
[[ -d $SHARED ]] && shared_note="$SHARED"
echo "fuzz-smoke: shared fixtures: $shared_note"
shopt -s nullglob
seed feed "$FIXTURES"/*.xml "$SHARED"/rss/*
seed html "$FIXTURES"/html/*.html "$SHARED"/html/*.html
seed platforms "$FIXTURES"/{json,reddit,hackernews,mastodon,bluesky,appstore}/* \
    "$SHARED"/{reddit,hackernews,mastodon,bluesky,appstore}/*.json
seed robots "$FUZZ_DIR"/seeds/robots/* "$SHARED"/robots/*
mkdir -p "$SEEDS/dates"
line_no=0
while IFS= read -r line || [[ -n $line ]]; do
    [[ $line == \#* || -z $line ]] && continue
    line_no=$((line_no + 1))
    printf '%s' "$line" >"$SEEDS/dates/line_$line_no"
done <"$FUZZ_DIR/seeds/dates.txt"
rm -f "$SEEDS"/*/*README.md

passed=0
failed=0
summary=()
for target in "${TARGETS[@]}"; do
    corpus=$FUZZ_DIR/corpus/$target
    mkdir -p "$corpus" "$SEEDS/$target"
    log=$LOGS/$target.log
    seeds_count=$(find "$SEEDS/$target" -type f | wc -l)
    echo "fuzz-smoke: $target for ${SECONDS_PER_TARGET}s ($seeds_count seed files)"
    # Document targets: cap input size so a short run tries many inputs, not a few
    # mutated 300 KB pages (larger seeds are cut to this length).
    case $target in
        feed | html | platforms) max_len=(-max_len="${FUZZ_MAX_LEN:-65536}") ;;
        *) max_len=() ;;
    esac
    status=0
    # A fixed seed (FUZZ_SEED to change it) makes CI repeatable: a crash it reports is
    # one a rerun reproduces, not luck. Longer exploratory runs: FUZZ_SEED=0 (random).
    # New inputs go to the first folder (kept between runs of this checkout, ignored
    # by git); the seed folder is read only.
    cargo fuzz run --sanitizer none "$target" "$corpus" "$SEEDS/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -seed="${FUZZ_SEED:-1}" \
        -print_final_stats=1 "${max_len[@]}" >"$log" 2>&1 || status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    rate=$(grep -o 'exec/s: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    if [[ $status -eq 0 ]]; then
        passed=$((passed + 1))
        summary+=("$target: ok, ${execs:-?} executions, ${rate:-?} exec/s")
    else
        failed=$((failed + 1))
        artifact=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -1 | sed 's/Test unit written to //' || true)
        summary+=("$target: CRASH (exit $status), input: ${artifact:-see log}")
        echo "---- fuzz-smoke: $target failed (exit $status) ----" >&2
        # The panic as the target reported it (see crawler/fuzz/src/lib.rs), then the
        # end of libFuzzer's report.
        grep -A 6 -m 1 -e '==== vigil-crawler-fuzz' -e 'panicked at' "$log" >&2 || true
        echo "---- end of the log ($log): ----" >&2
        tail -n 40 "$log" >&2
        if [[ -n $artifact ]]; then
            [[ $artifact == /* ]] || artifact=$ROOT/crawler/${artifact#./}
            echo "---- crash input: $artifact" >&2
            echo "---- replay: (cd crawler && cargo fuzz run --sanitizer none $target ${artifact})" >&2
        fi
    fi
done

echo "fuzz-smoke: summary (logs in $LOGS)"
printf '  %s\n' "${summary[@]}"
echo "fuzz-smoke: $passed passed, $failed failed"
if [[ $failed -gt 0 ]]; then
    exit 1
fi
