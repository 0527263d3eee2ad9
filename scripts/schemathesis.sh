#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI description (issue 7): starts the real
# `vigil` daemon on a loopback port with a temporary data folder, viewer / responder /
# admin tokens and some imported posts (and the incident a keyword rule opens on them),
# then runs schemathesis (PyPI) on /api/openapi.json with the admin token and every
# check (`--checks all`: no 5xx, status codes, content types and bodies as documented,
# invalid input refused, valid input accepted, auth enforced — `ignored_auth` repeats
# successful calls without the token and with a wrong one and requires 401/403).
#
# One relaxation (the schemathesis.toml written below): `positive_data_acceptance` also
# takes a documented 400 as an answer to schema-valid input, because some rules cannot
# be said in JSON Schema (the query language's syntax, `from` before `to`, a silence
# ending in the future, `duration` or `ends_at` but not both).
#
# Environment:
#   SCHEMATHESIS_MAX_EXAMPLES  generated cases per operation and phase (default 100)
#   SCHEMATHESIS_SEED          seed, for replaying a run (default: random, printed)
#   SCHEMATHESIS_VENV          virtualenv to install schemathesis into
#                              (default target/schemathesis-venv; reused when it holds
#                              the pinned version)
#   VIGIL_BIN                  the daemon to test (default: `cargo build -p vigil` then
#                              target/debug/vigil)
#
# Exit status: 0 when every check passed, 1 on any failure (schemathesis prints each
# with a curl command that reproduces it), 2 when the daemon could not be set up.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}
SEED=${SCHEMATHESIS_SEED:-$RANDOM$RANDOM}
VENV=${SCHEMATHESIS_VENV:-$ROOT/target/schemathesis-venv}

say() { echo "schemathesis.sh: $*" >&2; }

# 1. schemathesis, pinned, in its own virtualenv.
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
    say "installing schemathesis==$SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION"
fi

# 2. The daemon.
if [[ -z ${VIGIL_BIN:-} ]]; then
    cargo build --quiet --locked -p vigil -j2 || { say "cargo build failed"; exit 2; }
    VIGIL_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/vigil
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vigil-schemathesis.XXXXXX")
DAEMON_PID=
cleanup() {
    if [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DEAD_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
token() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }
export VIGIL_T_VIEW VIGIL_T_RESP VIGIL_T_ADMIN
VIGIL_T_VIEW=$(token)
VIGIL_T_RESP=$(token)
VIGIL_T_ADMIN=$(token)

# A source the crawler cannot reach (a loopback URL, refused by the SSRF guard), so
# /api/sources has an error to report; mail goes to a port nobody listens on.
cat >"$WORK/vigil.toml" <<EOF
[storage]
data_dir = "data"
retention_days = 36500

[server]
listen = "127.0.0.1:$PORT"
[[server.tokens]]
name = "ana"
role = "viewer"
token_env = "VIGIL_T_VIEW"
[[server.tokens]]
name = "pat"
role = "responder"
token_env = "VIGIL_T_RESP"
[[server.tokens]]
name = "root"
role = "admin"
token_env = "VIGIL_T_ADMIN"

[[brands]]
name = "Acme"
query = 'acme OR 艾克米'
[[brands]]
name = "Globex"
query = 'globex'

[[sources]]
name = "acme-news"
kind = "rss"
url = "http://127.0.0.1:$DEAD_PORT/feed.xml"
interval = "1h"

[alerts.smtp]
host = "127.0.0.1"
port = $DEAD_PORT
tls = "none"
from = "vigil@example.invalid"
[[alerts.recipients]]
name = "pr"
emails = ["pr@example.invalid"]
[[alerts.rules]]
name = "recall"
brand = "Acme"
kind = "keyword"
window = "7d"
query = "recall"
notify = ["pr"]
EOF

# Posts over the last five days: two brands, both languages, all three sentiments,
# engagement on some; "recall" opens an incident through the keyword rule.
python3 - "$WORK/posts.jsonl" <<'EOF'
import datetime, json, sys
now = datetime.datetime.now(datetime.timezone.utc)
texts = [
    ("Acme kettle recall announced after overheating reports", "en"),
    ("I love my new Acme toaster, works perfectly", "en"),
    ("Acme customer service was terrible and rude", "en"),
    ("Globex launches a new line of widgets", "en"),
    ("Globex support fixed my problem quickly, great job", "en"),
    ("Acme and Globex both cut prices this week", "en"),
    ("艾克米的水壶质量很差，非常失望", "zh"),
    ("艾克米新产品很好用，推荐", "zh"),
    ("Acme shares fell after the recall news", "en"),
    ("Neutral note: Acme opens a store downtown", "en"),
]
with open(sys.argv[1], "w") as out:
    for n in range(60):
        text, lang = texts[n % len(texts)]
        post = {
            "id": f"p{n}",
            "url": f"https://news.example.com/p/{n}",
            "author": f"author{n % 7}",
            "published_at": (now - datetime.timedelta(hours=2 * n + 1)).isoformat(),
            "text": f"{text} (#{n})",
            "lang": lang,
            "title": text[:30],
        }
        if n % 3 == 0:
            post["engagement"] = {"likes": n * 3, "replies": n % 5, "score": n - 10}
        if n % 4 == 1:
            post["engagement"] = {"rating": 1 + n % 5}
        out.write(json.dumps(post, ensure_ascii=False) + "\n")
EOF
if ! "$VIGIL_BIN" import --alerts --source newswire "$WORK/posts.jsonl" \
    --config "$WORK/vigil.toml" >"$WORK/import.log" 2>&1; then
    cat "$WORK/import.log" >&2
    say "import failed"
    exit 2
fi

VIGIL_LOG=info "$VIGIL_BIN" run --config "$WORK/vigil.toml" >/dev/null 2>"$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 1 120); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
        cat "$WORK/daemon.log" >&2
        say "the daemon exited"
        exit 2
    fi
    sleep 0.5
done

# The data is there and auth is on before fuzzing starts.
status=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/search")
[[ $status == 401 ]] || { say "GET /api/search without a token answered $status, not 401"; exit 2; }
hits=$(curl -fsS -H "Authorization: Bearer $VIGIL_T_VIEW" "$BASE/api/search?q=acme&limit=1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])')
incidents=$(curl -fsS -H "Authorization: Bearer $VIGIL_T_VIEW" "$BASE/api/incidents" |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
if [[ $hits -eq 0 || $incidents -eq 0 ]]; then
    say "expected imported posts and an incident, found $hits hits and $incidents incidents"
    exit 2
fi
say "daemon on $BASE: $hits posts match acme, $incidents incident(s); seed $SEED"

# Where JSON Schema cannot say what a handler checks (see the top of this file),
# schema-valid input gets a documented 400. Everything else keeps the defaults.
cat >"$WORK/schemathesis.toml" <<'EOF'
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "409"]
EOF

# One worker: with two, Python 3.11's `ast` (used by hypothesis to describe lambdas) is
# not thread-safe and fails now and then with "AST constructor recursion depth mismatch".
started=$SECONDS
set +e
(cd "$WORK" && "$VENV/bin/schemathesis" --no-color --config-file "$WORK/schemathesis.toml" run \
    "$BASE/api/openapi.json" \
    --checks all \
    --header "Authorization: Bearer $VIGIL_T_ADMIN" \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 1 \
    --request-timeout 30)
result=$?
set -e
say "schemathesis exited $result after $((SECONDS - started))s"

if grep -q "panicked" "$WORK/daemon.log"; then
    grep -B2 -A10 "panicked" "$WORK/daemon.log" >&2
    say "the daemon panicked"
    result=1
fi
if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
    tail -50 "$WORK/daemon.log" >&2
    say "the daemon died during the run"
    result=1
fi
if [[ $result -ne 0 ]]; then
    say "daemon log (last 40 lines):"
    tail -40 "$WORK/daemon.log" >&2
    exit 1
fi
