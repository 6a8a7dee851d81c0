#!/usr/bin/env bash
# A networked room on this machine: `samespace serve` plus three headless peers for
# SECONDS (default 20), each writing a report; prints the per-peer figures.
# Usage: scripts/net-room.sh [SECONDS] [OUTDIR] [extra `samespace demo` arguments...]
# The binary is $SAMESPACE, else target/debug/samespace (build it first).
set -euo pipefail
SECONDS_RUN=${1:-20}
OUT=${2:-out/net-room}
shift $(( $# > 2 ? 2 : $# ))
BIN=${SAMESPACE:-target/debug/samespace}
PORT=${PORT:-9479}
mkdir -p "$OUT"
"$BIN" serve --bind 127.0.0.1:$PORT >"$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 0.5
PIDS=()
for i in 0 1 2; do
  "$BIN" demo --headless --server ws://127.0.0.1:$PORT --room NET-RUM --name "P$i" \
    --participants 1 --audio synthetic --seconds "$SECONDS_RUN" --report "$OUT/r$i.json" \
    --snapshot "$OUT/s$i.png" "$@" >"$OUT/p$i.log" 2>&1 &
  PIDS+=($!)
done
wait "${PIDS[@]}"
for i in 0 1 2; do
  python3 - "$OUT/r$i.json" "P$i" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); n = r["net"]
print(f"{sys.argv[2]}: render {r['render_fps']:.1f} fps, cpu {r['cpu_cores']:.2f} cores, "
      f"sent {n['video_frames_sent']} pictures at {n['video_kbit_s_sent']:.0f} kbit/s")
for p in r["peers"]:
    print(f"  <- {p['name']}: {p['video_frames']} frames, {p['audio_ms']/1000:.1f} s audio, "
          f"tone {'ok' if p['tone_detected'] else 'MISSING'}, glass-to-glass p50 "
          f"{p['glass_to_glass_ms'] or 0:.0f} / p95 {p['glass_to_glass_p95_ms'] or 0:.0f} ms, "
          f"{p['kbit_s']:.0f} kbit/s, alpha IoU {p['alpha_iou'] or 0:.3f}")
PY
done
