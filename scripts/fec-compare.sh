#!/usr/bin/env bash
# FlexFEC against retransmission alone (docs/NET.md): two headless peers on this
# machine, each dropping LOSS of its outgoing RTP and holding it 75 ms (150 ms round
# trip), for SECONDS, once per setting; prints what each saw of the other.
# Usage: scripts/fec-compare.sh [SECONDS] [OUTDIR] [LOSS...]   (default 20 out/fec 0.05 0.15)
# Settings: off (NACK only), and each FEC shape in $FEC_SHAPES (default "10:2 5:2").
# The binary is $SAMESPACE, else target/debug/samespace (build it first).
set -euo pipefail
SECONDS_RUN=${1:-20}
OUT=${2:-out/fec}
shift $(( $# > 2 ? 2 : $# ))
LOSSES=("$@")
[ ${#LOSSES[@]} -eq 0 ] && LOSSES=(0.05 0.15)
BIN=${SAMESPACE:-target/debug/samespace}
PORT=${PORT:-9478}
mkdir -p "$OUT"
"$BIN" serve --bind 127.0.0.1:$PORT >"$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 0.5
run=0
for loss in "${LOSSES[@]}"; do
  for shape in off ${FEC_SHAPES:-10:2 5:2}; do
    run=$((run + 1))
    code=$(printf "FEC-%s" "$(printf '%s' "ABCDEFGHJKMNPQRSTUVWXYZ" | cut -c$run | sed 's/./&&&/')")
    extra=(--sim-loss "$loss" --sim-delay-ms 75)
    [ "$shape" != off ] && extra+=(--video-fec "$shape")
    PIDS=()
    for name in A B; do
      "$BIN" demo --headless --server ws://127.0.0.1:$PORT --room "$code" --name "$name" \
        --participants 1 --audio synthetic --seconds "$SECONDS_RUN" --width 640 --height 360 \
        --report "$OUT/$run-$name.json" "${extra[@]}" >"$OUT/$run-$name.log" 2>&1 &
      PIDS+=($!)
    done
    wait "${PIDS[@]}"
    for name in A B; do
      python3 - "$OUT/$run-$name.json" "$name" "$loss" "$shape" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for p in r["peers"]:
    print(f"loss {float(sys.argv[3])*100:.0f} % fec {sys.argv[4]:>4}: {sys.argv[2]} <- {p['name']}: "
          f"shown {p['frames_shown']}/{p['frames_sent_to_us']}, longest freeze "
          f"{p['longest_freeze_ms'] or 0:.0f} ms, glass-to-glass p50 {p['glass_to_glass_ms'] or 0:.0f} "
          f"p95 {p['glass_to_glass_p95_ms'] or 0:.0f} ms, {p['kbit_s']:.0f} kbit/s "
          f"(video {p['video_kbit_s']:.0f}), nacked {p['packets_nacked']}, fec {p['packets_fec_received']}, recovered {p['packets_recovered']} (fec {p['packets_fec_rebuilt']}), "
          f"lost {p['packets_lost']}, render {r['render_fps']:.1f} fps")
PY
    done
  done
done
