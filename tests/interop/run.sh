#!/usr/bin/env bash
# Interoperability check: relic's signed checkpoints and Merkle proofs must be
# accepted by Go's reference implementation (golang.org/x/mod/sumdb/note and
# golang.org/x/mod/sumdb/tlog), built from Debian packages in GOPATH mode
# (no Go module proxy needed).
#
# Usage: tests/interop/run.sh [PATH_TO_RELIC]   (default: target/debug/relic)
# Env:   INTEROP_GOPATH  GOPATH holding src/golang.org/x/mod (default /usr/share/gocode)
#        INTEROP_KEEP=1  keep the temp dir for inspection
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
relic=${1:-target/debug/relic}
[[ $relic == /* ]] || relic="$PWD/$relic"
if [[ ! -x $relic ]]; then
    echo "interop: relic binary not found or not executable: $relic" >&2
    exit 1
fi

gopath=${INTEROP_GOPATH:-/usr/share/gocode}
origin=example.test/relic-interop
nrecords=20

tmp=$(mktemp -d "${TMPDIR:-/tmp}/relic-interop.XXXXXX")
if [[ ${INTEROP_KEEP:-} == 1 ]]; then
    echo "interop: keeping $tmp" >&2
else
    trap 'rm -rf "$tmp"' EXIT
fi

# --- 1. Go toolchain and x/mod sources (Debian: golang-go, golang-golang-x-mod-dev)
if ! command -v go >/dev/null 2>&1 || [[ ! -f $gopath/src/golang.org/x/mod/sumdb/tlog/tlog.go ]]; then
    echo "interop: installing golang-go golang-golang-x-mod-dev with apt-get" >&2
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
               --no-install-recommends golang-go golang-golang-x-mod-dev; } >"$tmp/apt.log" 2>&1; then
        cat "$tmp/apt.log" >&2
        echo "interop: apt-get install failed" >&2
        exit 1
    fi
fi

# --- 2. Build the Go verifier (GOPATH mode; pure Go, no cgo)
verify=$tmp/verify
GO111MODULE=off GOPATH="$gopath" GOFLAGS= CGO_ENABLED=0 \
    GOCACHE="${GOCACHE:-$tmp/gocache}" \
    go build -o "$verify" "$here/go/verify.go"

# --- 3. Build a ledger with relic
data=$tmp/data
r() { "$relic" --data "$data" "$@"; }

r init --origin "$origin" >/dev/null
r key >"$tmp/vkey"
r project register --project group/project --name Project --actor alice >/dev/null

# Record 0 is the ledger's own `ledger.created`, record 1 registers the project; the appended
# records (deployment.recorded, a kind without rules) are 2..nrecords, and the sequence number
# relic prints is the record's Merkle leaf index.
seqs=()
for ((i = 1; i < nrecords; i++)); do
    printf '{"project":"group/project","tag_name":"v1.%d","environment":"interop-%d","status":"success"}\n' "$i" "$i" >"$tmp/payload.json"
    if ((i % 2 == 0)); then
        out=$(r append --kind deployment.recorded --subject "group/project@v1.$i" \
                --actor alice --payload "$tmp/payload.json")
    else # exercise --payload - (stdin)
        out=$(r append --kind deployment.recorded --subject "group/project@v1.$i" \
                --actor alice --payload - <"$tmp/payload.json")
    fi
    out=${out//[[:space:]]/}
    if [[ ! $out =~ ^[0-9]+$ ]]; then
        echo "interop: 'relic append' printed '$out', expected a sequence number" >&2
        exit 1
    fi
    seqs+=("$out")
    [[ $out == "$((i + 1))" ]] || { echo "interop: append $i printed $out, expected $((i + 1))" >&2; exit 1; }
done
size=$((nrecords + 1))
nrecords_total=$size

# --- 4. Checks
passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# checkpoint SIZE -> path of a signed checkpoint of that size (cached).
# SIZE "latest" calls `relic checkpoint` without --size.
checkpoint() {
    local f=$tmp/cp.$1
    if [[ ! -s $f ]]; then
        if [[ $1 == latest ]]; then r checkpoint >"$f.part" || return 1
        else r checkpoint --size "$1" >"$f.part" || return 1; fi
        mv "$f.part" "$f"
    fi
    echo "$f"
}

# flip_byte IN OUT OFFSET: copy IN to OUT with the byte at OFFSET xor 0x01.
flip_byte() {
    local in=$1 out=$2 off=$3 b
    b=$(od -An -tu1 -j "$off" -N1 "$in" | tr -d ' ')
    [[ -n $b ]] || return 1
    {
        head -c "$off" "$in"
        printf "\\$(printf '%03o' $((b ^ 1)))"
        tail -c +"$((off + 2))" "$in"
    } >"$out"
}

# tamper_hash_line IN OUT LINE: change the first char of base64 line LINE (A<->B),
# which keeps it valid base64 but changes the decoded hash.
tamper_hash_line() {
    awk -v L="$3" 'NR == L { c = substr($0, 1, 1); $0 = (c == "A" ? "B" : "A") substr($0, 2) } { print }' "$1" >"$2"
}

# inclusion INDEX SIZE: prove record INDEX in tree SIZE ("latest" = no --size)
# and check it with Go. Leaves proof/record files behind for negative checks.
inclusion() {
    local i=$1 size=$2 seq=$1 want got
    local p=$tmp/incl.$i.$size rec=$tmp/rec.$i
    r record "$seq" --raw >"$rec" || return 1
    if [[ $size == latest ]]; then
        r prove inclusion "$seq" >"$p" || return 1
        want="ok inclusion index=$i size=$nrecords_total"
    else
        r prove inclusion "$seq" --size "$size" >"$p" || return 1
        want="ok inclusion index=$i size=$size"
    fi
    got=$("$verify" inclusion "$tmp/vkey" "$p" "$rec") || return 1
    [[ $got == "$want" ]] || { echo "got '$got', want '$want'" >&2; return 1; }
}

# consistency OLD NEW: prove and check with Go that tree NEW extends tree OLD.
consistency() {
    local old=$1 new=$2 p=$tmp/cons.$1.$2 cpo cpn got
    cpo=$(checkpoint "$old") || return 1
    cpn=$(checkpoint "$new") || return 1
    r prove consistency "$old" "$new" >"$p" || return 1
    got=$("$verify" consistency "$tmp/vkey" "$cpo" "$cpn" "$p") || return 1
    [[ $got == "ok consistency old=$old new=$new" ]] || { echo "got '$got'" >&2; return 1; }
}

# Inclusion: first/last leaves, power-of-two and ragged tree sizes, full tree.
for pair in 0:1 0:2 1:2 2:3 0:8 7:8 5:8 8:9 3:13 12:13 0:16 15:16 10:17 16:17 0:20 19:20 11:20 20:21 4:latest; do
    if inclusion "${pair%%:*}" "${pair#*:}"; then pass; else fail "inclusion ${pair/:/ in size }"; fi
done

# The unsized checkpoint must be for the whole log.
if cp=$(checkpoint latest) && [[ $(sed -n 2p "$cp") == "$size" ]]; then pass
else fail "relic checkpoint (no --size) is not for size $size"; fi

# Consistency: old == new (empty proof), powers of two, ragged sizes, 1 -> N.
for pair in 1:1 5:5 20:20 21:21 1:2 1:21 20:21 2:3 4:8 8:16 16:20 3:7 6:7 7:13 13:20 9:17 19:20; do
    if consistency "${pair%%:*}" "${pair#*:}"; then pass; else fail "consistency ${pair/:/ -> }"; fi
done

# Negative checks: Go must REJECT tampered data (exit non-zero). Each reuses
# an artifact that verified above, so a rejection is due to the tampering.
# 1. Record with one byte flipped.
if [[ -s $tmp/rec.11 && -s $tmp/incl.11.20 ]] && flip_byte "$tmp/rec.11" "$tmp/rec.11.bad" 3; then
    if "$verify" inclusion "$tmp/vkey" "$tmp/incl.11.20" "$tmp/rec.11.bad" 2>/dev/null; then
        fail "Go accepted a record with a flipped byte"
    else pass; fi
else fail "could not set up flipped-record check"; fi

# 2. Inclusion proof with its first path hash (the line after "index") altered.
if [[ -s $tmp/incl.11.20 ]]; then
    hl=$(grep -n '^index ' "$tmp/incl.11.20" | cut -d: -f1)
    tamper_hash_line "$tmp/incl.11.20" "$tmp/incl.11.20.bad" "$((hl + 1))"
    if "$verify" inclusion "$tmp/vkey" "$tmp/incl.11.20.bad" "$tmp/rec.11" 2>/dev/null; then
        fail "Go accepted an inclusion proof with an altered hash"
    else pass; fi
else fail "could not set up altered-inclusion-proof check"; fi

# 3. Consistency proof with one hash altered.
if [[ -s $tmp/cons.7.13 ]]; then
    tamper_hash_line "$tmp/cons.7.13" "$tmp/cons.7.13.bad" 1
    if "$verify" consistency "$tmp/vkey" "$tmp/cp.7" "$tmp/cp.13" "$tmp/cons.7.13.bad" 2>/dev/null; then
        fail "Go accepted a consistency proof with an altered hash"
    else pass; fi
else fail "could not set up altered-consistency-proof check"; fi

# --- 5. The log as a C2SP tlog-tiles log over HTTP (`relic serve`, /tlog/), read by Go's tile
# reader: every tile authenticated against the served checkpoint, every record of the entry
# bundles proven included, the tree proven consistent with a checkpoint saved before it grew.
tiles=$tmp/tiles
GO111MODULE=off GOPATH="$gopath" GOFLAGS= CGO_ENABLED=0 \
    GOCACHE="${GOCACHE:-$tmp/gocache}" \
    go build -o "$tiles" "$here/go/tiles.go"
old_cp=$(checkpoint latest)
# Past one full level-0 tile (256 records), so that level 1 exists too.
for ((i = size; i < 300; i++)); do
    printf '{"project":"group/project","tag_name":"v2.%d","environment":"tiles","status":"success"}\n' "$i" >"$tmp/payload.json"
    r append --kind deployment.recorded --subject "group/project@v2.$i" --actor alice --payload "$tmp/payload.json" >/dev/null
done
token=$(r token create --user alice --actor ops)
"$relic" --data "$data" serve --listen 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; [[ ${INTEROP_KEEP:-} == 1 ]] || rm -rf "$tmp"' EXIT
base=
for _ in $(seq 100); do
    base=$(grep -o 'http://[^ ]*' "$tmp/serve.out" | head -1 | sed 's|/api/v4$||') && [[ -n $base ]] && break
    sleep 0.1
done
if [[ -z $base ]]; then
    fail "relic serve did not start: $(cat "$tmp/serve.log")"
elif got=$("$tiles" "$base" "$tmp/vkey" "$token" "$old_cp") && [[ $got == "ok tiles size=301 old=$size" ]]; then
    pass
else
    fail "Go's tile reader on relic serve: ${got:-}"
fi

# The same through a proxy that alters one hash (leaf 0's) of tile 0/000: Go must refuse it. (Go's
# TileHashReader in x/mod, as Debian ships it, does not itself authenticate a full tile whose parent
# is among the tiles that recompute the tree head, when those tiles are fewer than the subtrees,
# as here; the altered hash is caught when the first proof that uses it is checked against the
# signed tree head: record 1's.)
if [[ -n $base ]]; then
    python3 - "$base" >"$tmp/proxy.out" 2>"$tmp/proxy.log" <<'PY' &
import sys, urllib.request, urllib.error, http.server
up = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        token = {k: v for k, v in self.headers.items() if k.lower() == "private-token"}
        try:
            r = urllib.request.urlopen(urllib.request.Request(up + self.path, headers=token))
            status, ctype, body = r.status, r.headers["Content-Type"], r.read()
        except urllib.error.HTTPError as e:
            status, ctype, body = e.code, e.headers.get("Content-Type", ""), e.read()
        if self.path == "/tlog/tile/0/000":
            body = bytes([body[0] ^ 1]) + body[1:]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("http://127.0.0.1:%d" % s.server_port, flush=True)
s.serve_forever()
PY
    proxy=$!
    lying=
    for _ in $(seq 100); do
        lying=$(head -1 "$tmp/proxy.out" 2>/dev/null) && [[ -n $lying ]] && break
        sleep 0.1
    done
    if [[ -n $lying ]] && ! "$tiles" "$lying" "$tmp/vkey" "$token" "$old_cp" >/dev/null 2>"$tmp/tiles.err" &&
        grep -qE "inconsistent tile|invalid transparency proof" "$tmp/tiles.err"; then
        pass
    else
        fail "Go's tile reader accepted an altered tile (or the proxy did not start): $(cat "$tmp/tiles.err" "$tmp/proxy.log" 2>/dev/null)"
    fi
    kill "$proxy" 2>/dev/null || true
fi

echo "interop: $passed passed, $failed failed"
((failed == 0))
