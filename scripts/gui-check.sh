#!/usr/bin/env bash
# Drives two real samespace windows on a virtual display, as a person would:
# in window A type a name and click "Create room"; in window B type the code A shows
# and click "Join"; both must show both people within 10 s; B leaves and joins again;
# a wrong code must put "room not found" on B's screen. See docs/GUI-TESTING.md.
#
# Needs Xvfb, xdotool, ImageMagick (import, convert) and tesseract
# (apt-get install xvfb xdotool imagemagick tesseract-ocr).
# Usage: scripts/gui-check.sh [path/to/samespace]   (screenshots and logs in $OUT)
set -euo pipefail

BIN=${1:-target/debug/samespace}
OUT=${OUT:-out/gui-check}
DISPLAY_NUMBER=${DISPLAY_NUMBER:-:97}
PORT=${PORT:-9477}
# Seconds from clicking Join until both windows have both people (the issue's
# Done-when says 10; a machine busy with builds may need more).
LIMIT=${LIMIT:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/*.png "$OUT"/*.log

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

export DISPLAY=$DISPLAY_NUMBER
Xvfb "$DISPLAY" -screen 0 2560x800x24 -nolisten tcp >"$OUT/xvfb.log" 2>&1 &
PIDS+=($!)
sleep 2

start_window() { # name config-dir log
    SAMESPACE_CONFIG_DIR="$2" "$BIN" --local-only --port "$PORT" >"$3" 2>&1 &
    PIDS+=($!)
}
rm -rf "$OUT/cfg-a" "$OUT/cfg-b"
start_window A "$OUT/cfg-a" "$OUT/a.log"
sleep 5
start_window B "$OUT/cfg-b" "$OUT/b.log"

# Both windows up (no window manager: both open at 0,0; B moves to the right half).
for _ in $(seq 60); do
    [ "$(xdotool search --name '^samespace$' 2>/dev/null | wc -l)" -ge 2 ] && break
    sleep 1
done
mapfile -t WINDOWS < <(xdotool search --name '^samespace$')
[ "${#WINDOWS[@]}" -ge 2 ] || fail "two windows did not open"
WA=${WINDOWS[0]}
WB=${WINDOWS[1]}
xdotool windowmove "$WB" 1280 0
sleep 15

shot() { import -window root "$OUT/$1.png"; }
# Where a phrase is in window A's half of the screen (both lobbies look alike).
find_in_a() { python3 "$HERE/ocr_find.py" "$OUT/$1.png" "$2" 0 0 1280 800; }
find_in_b() { python3 "$HERE/ocr_find.py" "$OUT/$1.png" "$2" 1280 0 2560 800; }
# XTEST events (absolute pointer, keys to the focused window): see docs/GUI-TESTING.md.
click() { xdotool mousemove "$1" "$2"; sleep 0.5; xdotool mousedown 1; sleep 0.5; xdotool mouseup 1; }
type_into() { # window x y text: focus the window, click the field, clear it, type
    xdotool windowfocus --sync "$1"
    click "$2" "$3"
    sleep 0.5
    # The click puts the caret where it lands, maybe inside old text: go to its
    # end before deleting it all.
    xdotool key End
    sleep 0.2
    xdotool key --delay 60 --repeat 20 BackSpace
    xdotool type --delay 120 "$4"
}
plain() { sed 's/\x1b\[[0-9;]*m//g' "$1"; } # the log without colours
wait_log() { # file pattern seconds
    for _ in $(seq $(($3 * 10))); do
        plain "$1" | grep -aq "$2" && return 0
        sleep 0.1
    done
    return 1
}

shot lobby
read -r NAME_X NAME_Y < <(find_in_a lobby "Your name") || fail "no name field"
NAME_X=$((NAME_X + 170))
read -r CREATE_X CREATE_Y < <(find_in_a lobby "Create room") || fail "no Create room button"
read -r PASTE_X PASTE_Y < <(find_in_a lobby "Paste") || fail "no Paste button"
CODE_X=$((PASTE_X - 230))
JOIN_X=$((PASTE_X + 44))

type_into "$WA" "$NAME_X" "$NAME_Y" "Ada"
type_into "$WB" $((NAME_X + 1280)) "$NAME_Y" "Bob"
sleep 2
shot names
click "$CREATE_X" "$CREATE_Y"
wait_log "$OUT/a.log" "in the room" 20 || fail "A did not create a room"
CODE=$(plain "$OUT/a.log" | grep -a "in the room" | head -1 | sed -E 's/.*room=([A-Z0-9-]+).*/\1/')
echo "A created room $CODE"
sleep 3
shot created

type_into "$WB" $((CODE_X + 1280)) "$PASTE_Y" "$CODE"
sleep 1
START=$(date +%s.%N)
click $((JOIN_X + 1280)) "$PASTE_Y"
wait_log "$OUT/b.log" "net::plugin.*peer joined.*name=Ada" "$LIMIT" || fail "B does not show Ada within $LIMIT s"
wait_log "$OUT/a.log" "net::plugin.*peer joined.*name=Bob" "$LIMIT" || fail "A does not show Bob within $LIMIT s"
echo "both windows have both people after $(echo "$(date +%s.%N) - $START" | bc) s"
sleep 5
shot joined
# On screen, not only in the logs: each window's room panel lists both names.
for who in Ada Bob; do
    find_in_a joined "$who" >/dev/null || fail "$who is not on A's screen"
    find_in_b joined "$who" >/dev/null || fail "$who is not on B's screen"
done

# STATS=1: A ticks "Stats (F3)" in its room panel; the overlay shows the link to
# Bob with the congestion controller's send estimate ("send est N kbit/s").
if [ "${STATS:-0}" = 1 ]; then
    # The box is at the foot of the room panel, below the window's edge at this
    # size: scroll the panel (wheel over it), then tick it.
    xdotool mousemove 1100 300
    for _ in $(seq 8); do xdotool click 5; sleep 0.3; done
    sleep 3
    shot panel-scrolled
    read -r STATS_X STATS_Y < <(find_in_a panel-scrolled "Stats") || fail "no Stats box in A's panel"
    click "$STATS_X" "$STATS_Y"
    sleep 6
    shot stats
    # The overlay is small dark text on a light band at the top left: read it
    # there, three times the size, not inverted as the panel's words are.
    convert "$OUT/stats.png" -crop 1000x80+0+0 +repage -resize 300% -colorspace Gray "$OUT/stats-overlay.png"
    tesseract "$OUT/stats-overlay.png" - 2>/dev/null | tee "$OUT/stats-overlay.txt" |
        grep -Eq "Bob: .*send est [0-9]+ kbit/s" || fail "no send estimate towards Bob in A's stats overlay"
    echo "OK: A's stats overlay shows the send estimate"
fi

read -r LEAVE_X LEAVE_Y < <(find_in_b joined "Leave room") || fail "no Leave room button in B"
click "$LEAVE_X" "$LEAVE_Y"
wait_log "$OUT/a.log" "net::plugin.*peer left" 15 || fail "A does not see B leave"
sleep 4
shot left

click $((JOIN_X + 1280)) "$PASTE_Y"
wait_log "$OUT/b.log" "joined room.*peers=1" 15 || true
sleep 6
shot rejoined
[ "$(plain "$OUT/b.log" | grep -ac 'net::plugin.*peer joined.*name=Ada')" -ge 2 ] || fail "B did not join again"

read -r LEAVE_X LEAVE_Y < <(find_in_b rejoined "Leave room") || fail "no Leave room button in B"
click "$LEAVE_X" "$LEAVE_Y"
sleep 4
WRONG=ZZZ-ZZZ
[ "$CODE" = "$WRONG" ] && WRONG=YYY-YYY
type_into "$WB" $((CODE_X + 1280)) "$PASTE_Y" "$WRONG"
sleep 1
click $((JOIN_X + 1280)) "$PASTE_Y"
wait_log "$OUT/b.log" "reason=room not found" 15 || fail "no room-not-found for a wrong code"
sleep 6
shot wrong-code
find_in_b wrong-code "room not found" >/dev/null || fail "\"room not found\" is not on B's screen"
echo "OK: create, join by code, both people shown, leave, join again, wrong code on screen"

# The host's choices and controls (HOST_CONTROLS=1; on a loaded machine typing and
# clicking through them is not yet reliable enough for every run). A picks a game
# in its room panel; B joins and sees it (greyed: chosen by the host).
[ "${HOST_CONTROLS:-0}" = 1 ] || exit 0
click_text_in_a() { # shot phrase
    read -r X Y < <(find_in_a "$1" "$2") || fail "no \"$2\" in A ($1)"
    click "$X" "$Y"
}
shot host-panel
click_text_in_a host-panel "no game"
sleep 3
shot game-menu
click_text_in_a game-menu "volleyball"
wait_log "$OUT/a.log" "game started.*volleyball" 15 || fail "A did not start volleyball"
type_into "$WB" $((CODE_X + 1280)) "$PASTE_Y" "$CODE"
sleep 1
click $((JOIN_X + 1280)) "$PASTE_Y"
[ "$(plain "$OUT/b.log" | grep -ac 'net::plugin.*peer joined.*name=Ada')" -ge 2 ] || true
for _ in $(seq 30); do
    [ "$(plain "$OUT/b.log" | grep -ac 'net::plugin.*peer joined.*name=Ada')" -ge 3 ] && break
    sleep 1
done
sleep 8
shot guest-sees-game
# The host's volleyball reached the guest (its greyed picker and the white score
# line on the sky read poorly: look at guest-sees-game.png).
wait_log "$OUT/b.log" "the host's choice.*volleyball" 15 || fail "B did not take the host's volleyball"
find_in_b guest-sees-game "Chosen by the host" >/dev/null || fail "B's panel does not say the host chooses"

# A locks the room: both hear it (a toast).
click_text_in_a guest-sees-game "Lock the room"
wait_log "$OUT/b.log" "notice.*the room is locked" 15 || fail "B was not told of the lock"
sleep 3
shot locked
find_in_b locked "nobody new can join" >/dev/null || fail "no lock toast on B's screen"

# A removes B: B is back in the lobby with the reason; A sees B go.
click_text_in_a locked "Remove"
wait_log "$OUT/b.log" "removed from the room" 15 || fail "B was not removed"
wait_log "$OUT/a.log" "net::plugin.*peer left" 15 || fail "A does not see B go"
sleep 5
shot removed
find_in_b removed "removed from the room" >/dev/null || fail "the removal's reason is not on B's screen"

# The room is locked: B cannot come back.
click $((JOIN_X + 1280)) "$PASTE_Y"
wait_log "$OUT/b.log" "reason=room locked" 15 || fail "a locked room let B in"
sleep 5
shot refused
find_in_b refused "room locked" >/dev/null || fail "\"room locked\" is not on B's screen"
echo "OK: the host's game reaches the guest, lock (toast, joiners refused), remove ($OUT)"
