// A signaling client in another language, written from docs/PROTOCOL.md only:
// two clients join one room, see each other, relay an offer and a candidate, and
// one sees the other leave. Run: node --experimental-websocket tools/signaling_probe.mjs ws://127.0.0.1:9470
// (Node >= 22 needs no flag.) Exits 0 on success, 1 with a message otherwise.

const url = process.argv[2] ?? "ws://127.0.0.1:9470";
const room = "K7Q-4MZ";

function client(name) {
  const ws = new WebSocket(url);
  const inbox = [];
  const waiters = [];
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    const waiter = waiters.shift();
    if (waiter) waiter(msg); else inbox.push(msg);
  };
  const next = () =>
    new Promise((resolve, reject) => {
      if (inbox.length) return resolve(inbox.shift());
      const timer = setTimeout(() => reject(new Error(`${name}: no message in 5 s`)), 5000);
      waiters.push((msg) => { clearTimeout(timer); resolve(msg); });
    });
  const opened = new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const send = (msg) => ws.send(JSON.stringify(msg));
  return { ws, next, opened, send };
}

function expect(cond, what) {
  if (!cond) { console.error(`FAIL: ${what}`); process.exit(1); }
}

const a = client("a");
await a.opened;
a.send({ type: "join", room: room.toLowerCase().replace("-", ""), name: "Ada" });
const wa = await a.next();
expect(wa.type === "welcome" && wa.room === room && wa.peers.length === 0 && wa.host === wa.you,
  `a's welcome: ${JSON.stringify(wa)}`);

const b = client("b");
await b.opened;
b.send({ type: "join", room, name: "Bob" });
const wb = await b.next();
expect(wb.type === "welcome" && wb.peers[0].id === wa.you && wb.peers[0].name === "Ada",
  `b's welcome: ${JSON.stringify(wb)}`);
const joined = await a.next();
expect(joined.type === "peer-joined" && joined.id === wb.you && joined.name === "Bob",
  `peer-joined: ${JSON.stringify(joined)}`);

a.send({ type: "signal", to: wb.you, sdp: { type: "offer", sdp: "v=0\r\n" } });
a.send({ type: "signal", to: wb.you,
  candidate: { candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0 } });
const offer = await b.next();
expect(offer.type === "signal" && offer.from === wa.you && offer.sdp.type === "offer",
  `relayed offer: ${JSON.stringify(offer)}`);
const cand = await b.next();
expect(cand.type === "signal" && cand.candidate.sdpMLineIndex === 0, `relayed candidate: ${JSON.stringify(cand)}`);

b.send({ type: "signal", to: 999999, sdp: { type: "answer", sdp: "v=0\r\n" } });
const err = await b.next();
expect(err.type === "error" && err.code === "unknown-peer", `unknown-peer error: ${JSON.stringify(err)}`);
b.send({ type: "ping" });
expect((await b.next()).type === "pong", "pong");

b.send({ type: "leave" });
const left = await a.next();
expect(left.type === "peer-left" && left.id === wb.you && left.host === wa.you, `peer-left: ${JSON.stringify(left)}`);
a.ws.close();
console.log("ok: join, welcome, peer-joined, signal relay (sdp + candidate), unknown-peer, ping/pong, peer-left");
process.exit(0);
