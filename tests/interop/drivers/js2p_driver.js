#!/usr/bin/env node
// A js2p 0.7.870 mesh node that speaks the JSON-lines protocol of `p2pmesh node --json`.
//
//   node tests/interop/drivers/js2p_driver.js [--port 0] [--encryption SSL] ...
//
// js2p is resolved from tests/interop/node_modules (scripts/install-references.sh).
// Options mirror the C++ node: --bind ADDR (127.0.0.1) --port P (0: a free port is picked,
// because js2p announces the port it was given, so it cannot be 0) --subnet S (mesh)
// --encryption Plaintext|SSL --compression LIST|none --max-outgoing N --connect HOST:PORT...
//
// stdout carries one JSON object per line and nothing else: js2p writes notices with
// console.log, so console.log/info/warn go to stderr. Commands are read one per line from
// stdin and answered strictly in order (a `wait` holds the following commands back).
// Messages are delivered event-driven from js2p's 'message' event.
//
// Reference bugs (docs/interop.md, shared protocol.md) this driver works around or exposes,
// without patching js2p:
//   * bug 4: js2p keys its routing table by the id object, so `reply` to a bin-id sender (any
//     py2p node) misses the direct link and silently takes the request path; the `reply`
//     answer says which path js2p took ("path": "direct" | "request").
//   * bug 5: js2p's connect() refuses any host OR port already in its routing table and
//     returns true; the `connect` command reports that as {"ok": false}.
//   * js2p has no request_peers(): the command sends what py2p's request_peers sends,
//     [whisper, id, time, request, "*"], through js2p's public send().
//   * bug J2: msgpack-lite (js2p's codec) turns integers outside the int32 range into float64
//     on the wire, and decodes 64-bit integers to doubles: JSON numbers carry that through.
//   * bug J1 (found by the interop suite): handle_renegotiate uses an undefined `self`, so
//     js2p drops a link on renegotiate/resend or a shrinking compression list; reported in
//     `status` and as an error event.
//   * bug R1: js2p builds a broadcast per link with the clock read each time, so one `send`
//     can become several messages; the driver reports what js2p delivers, as is.
//   * js2p's send is O(K) per message and hashes/compresses in pure JavaScript (about 3 ms a
//     message here): `burst` is slow, and answers only when it is done.
//   * An uncaught exception inside js2p is reported as an error event instead of killing the
//     node, as a long-running js2p application would.
"use strict";

const IMPLEMENTATION = "js2p 0.7.870";
const COMPRESSION_FLAGS = {snappy: 0x20, zlib: 0x13, gzip: 0x11, bz2: 0x10, lzma: 0x12};
const KEEP_MESSAGES = 10000;  // kept for `reply` by index and queued for `recv`

// ---- stdout is ours alone ------------------------------------------------------------------
const fs = require("fs");
const writeOut = (obj) => {
  const line = JSON.stringify(obj) + "\n";
  // Synchronous so that events and answers keep their order and a burst of events cannot
  // pile up unboundedly in memory.
  let offset = 0;
  const buf = Buffer.from(line, "utf8");
  while (offset < buf.length) {
    try {
      offset += fs.writeSync(1, buf, offset);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
    }
  }
};
const logErr = (...args) => process.stderr.write(args.join(" ") + "\n");
console.log = console.info = console.warn = console.debug = (...a) => console.error(...a);

// ---- arguments -----------------------------------------------------------------------------
function parseArgs(argv) {
  const opts = {bind: "127.0.0.1", port: 0, subnet: "mesh", encryption: "Plaintext",
                compression: null, maxOutgoing: null, outAddr: null, connect: []};
  const valueOf = (i) => {
    if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case "--bind": opts.bind = valueOf(i++); break;
      case "--port": opts.port = intArg(a, valueOf(i++)); break;
      case "--subnet": opts.subnet = valueOf(i++); break;
      case "--encryption":
        opts.encryption = valueOf(i++);
        if (!["Plaintext", "SSL"].includes(opts.encryption)) usage(`unknown encryption ${opts.encryption}`);
        break;
      case "--compression": opts.compression = valueOf(i++); break;
      case "--max-outgoing": opts.maxOutgoing = intArg(a, valueOf(i++)); break;
      case "--out-addr": opts.outAddr = hostPort(valueOf(i++)); break;
      case "--connect": opts.connect.push(hostPort(valueOf(i++))); break;
      case "--json": break;  // always on
      case "-h": case "--help": usage(null); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  return opts;
}

function intArg(name, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) usage(`${name} needs a non-negative integer, got ${text}`);
  return n;
}

function hostPort(text) {
  const at = text.lastIndexOf(":");
  if (at <= 0) usage(`expected HOST:PORT, got ${text}`);
  return [text.slice(0, at), intArg("port", text.slice(at + 1))];
}

function usage(error) {
  if (error) logErr(`js2p_driver: ${error}`);
  logErr("usage: js2p_driver.js [--bind ADDR] [--port P] [--subnet S] [--encryption Plaintext|SSL]" +
         " [--compression zlib,gzip|none] [--max-outgoing N] [--out-addr HOST:PORT] [--connect HOST:PORT]...");
  process.exit(error ? 2 : 0);
}

// ---- JSON <-> msgpack values ---------------------------------------------------------------
function toJson(v) {
  if (Buffer.isBuffer(v)) return {b64: v.toString("base64")};
  if (Array.isArray(v)) return v.map(toJson);
  if (v === undefined) return null;
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  if (v !== null && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = toJson(v[k]);
    return o;
  }
  return v;
}

function fromJson(v) {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "b64") return Buffer.from(v.b64, "base64");
    const o = {};
    for (const k of keys) o[k] = fromJson(v[k]);
    return o;
  }
  return v;
}

const textId = (id) => (id === null || id === undefined) ? null
    : Buffer.isBuffer(id) ? id.toString("latin1") : String(id);

// ---- the node ------------------------------------------------------------------------------
const opts = parseArgs(process.argv.slice(2));
const base = require("js2p/js_src/base.js");
const mesh = require("js2p/js_src/mesh.js");
const net = require("net");

const available = base.compression.slice();
if (opts.compression !== null) {
  // js2p advertises and uses base.compression (read at every use): edit it in place.
  const spec = opts.compression.trim().toLowerCase();
  const names = spec === "none" ? [] : spec.split(",").map((s) => s.trim()).filter(Boolean);
  const flags = names.map((n) => {
    const f = COMPRESSION_FLAGS[n];
    if (f === undefined || !available.includes(f)) {
      logErr(`js2p_driver: compression ${n} is not available in js2p here (available: ${flagNames(available)})`);
      process.exit(2);
    }
    return f;
  });
  base.compression.splice(0, base.compression.length, ...flags);
}
if (opts.maxOutgoing !== null) mesh.max_outgoing = opts.maxOutgoing;  // read at call time

function flagNames(flags) {
  const byFlag = Object.fromEntries(Object.entries(COMPRESSION_FLAGS).map(([k, v]) => [v, k]));
  return flags.map((f) => byFlag[f] || `0x${f.toString(16)}`).join(",") || "none";
}

function freePort(host) {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const port = probe.address().port;
      probe.close(() => resolve(port));
    });
  });
}

async function openSocket() {
  const protocol = new base.Protocol(opts.subnet, opts.encryption);
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = opts.port || await freePort(opts.bind);
    const sock = new mesh.MeshSocket(opts.bind, port, protocol, opts.outAddr || undefined);
    const listening = await new Promise((resolve) => {
      sock.incoming.once("listening", () => resolve(null));
      sock.incoming.once("error", (e) => resolve(e));
    });
    if (listening === null) return sock;
    if (listening.code !== "EADDRINUSE" || opts.port) throw listening;
    logErr(`js2p_driver: port ${port} taken, retrying (${attempt})`);
  }
  throw new Error("no free port after 20 attempts");
}

const state = {
  index: 0, received: 0, bcastCopies: 0, bcastDups: 0, dropped: 0,
  firstNs: null, lastNs: null, eventsOn: true,
  kept: new Map(),   // index -> js2p Message, for `reply`
  pending: [],       // [index, recv_ns, Message] for `recv`
  waiters: new Set(),
};

function messageJson(index, recvNs, msg) {
  return {
    index, recv_ns: Number(recvNs), packets: toJson(msg.packets), sender: textId(msg.sender),
    time: Number(msg.time), id: Buffer.from(msg.id).toString("hex"),
  };
}

function deliver(msg) {
  const recvNs = process.hrtime.bigint();  // CLOCK_MONOTONIC, like the other nodes
  const index = state.index++;
  state.received++;
  if (state.firstNs === null) state.firstNs = recvNs;
  state.lastNs = recvNs;
  state.kept.set(index, msg);
  if (state.kept.size > KEEP_MESSAGES) state.kept.delete(state.kept.keys().next().value);
  state.pending.push([index, recvNs, msg]);
  if (state.pending.length > 2 * KEEP_MESSAGES) {
    state.dropped += state.pending.length - KEEP_MESSAGES;
    state.pending = state.pending.slice(-KEEP_MESSAGES);
  }
  if (state.eventsOn) writeOut({event: "message", ...messageJson(index, recvNs, msg)});
  for (const w of state.waiters) w();
}

function instrument(sock) {
  sock.on("message", (s) => {
    try {
      const msgs = s.recv(s.queue.length) || [];
      for (const m of msgs) deliver(m);
    } catch (e) {
      logErr(`js2p_driver: message listener failed: ${e.stack || e}`);
    }
  });
  // MeshConnection.handle_waterfall calls this.server.waterfall(): wrap it on the instance.
  const originalWaterfall = sock.waterfall.bind(sock);
  sock.waterfall = (msg) => {
    const fresh = originalWaterfall(msg);
    state.bcastCopies++;
    if (!fresh) state.bcastDups++;
    return fresh;
  };
  const exceptions = sock.exceptions;
  exceptions.push = function push(...items) {
    for (const e of items) writeOut({event: "error", error: String((e && e.stack) || e).slice(0, 2000)});
    return Array.prototype.push.apply(this, items);
  };
}

// ---- commands ------------------------------------------------------------------------------
const commands = {
  connect(sock, req) {
    const port = Number(req.port);
    const result = sock.connect(String(req.host), port, req.id || undefined);
    if (result === true || result === false) {
      return {ok: false, error: "js2p refused to dial: its routing table already has this host or this " +
              "port (reference bug 5), or it is its own address"};
    }
    return {};
  },
  send(sock, req) {
    const packets = fromJson(req.packets || []);
    if (!Array.isArray(packets)) throw new Error("packets must be an array");
    const flag = Number(req.flag || 0), type = Number(req.type || 0);
    const tNs = process.hrtime.bigint();
    // js2p's send() treats a falsy flag/type as broadcast, which is what 0 means anyway.
    sock.send(packets, flag, type);
    return {t_ns: Number(tNs)};
  },
  recv() {
    const items = state.pending;
    state.pending = [];
    return {messages: items.map(([i, t, m]) => messageJson(i, t, m))};
  },
  reply(sock, req) {
    const index = Number(req.index);
    const msg = state.kept.get(index);
    if (!msg) return {ok: false, error: `no message with index ${index} (kept: last ${KEEP_MESSAGES})`};
    const path = sock.routing_table.get(msg.sender) ? "direct" : "request";
    msg.reply(fromJson(req.packets || []));
    return {path};
  },
  request_peers(sock) {
    sock.send(["*"], base.flags.whisper, base.flags.request);
    return {};
  },
  state(sock) {
    const table = [];
    for (const [key, conn] of sock.routing_table) {
      const advertised = toJson(conn.compression || []);
      // js2p sends with the first method of its own list that the peer advertised
      // (InternalMessage.compression_used); "compression" names it, as p2pmesh does.
      const chosen = base.compression.find((f) => advertised.includes(f));
      table.push({id: textId(key), addr: conn.addr ? toJson(conn.addr) : null,
                  outgoing: Boolean(conn.outgoing),
                  compression: chosen === undefined ? null : flagNames([chosen]), advertised});
    }
    const status = sock.status;
    return {
      id: textId(sock.id), protocol_id: sock.protocol.id, out_addr: sock.out_addr,
      awaiting: sock.awaiting_ids.length, routing_table: table, received: state.received,
      bcast_copies: state.bcastCopies, bcast_dups: state.bcastDups, dropped: state.dropped,
      status: typeof status === "string" ? status : status.map((e) => String((e && e.stack) || e).slice(0, 2000)),
      compression: base.compression.slice(), implementation: IMPLEMENTATION,
    };
  },
  burst(sock, req) {
    const count = Number(req.count), size = Number(req.size === undefined ? 64 : req.size);
    if (!Number.isInteger(count) || !Number.isInteger(size) || count < 0 || size < 0) {
      throw new Error("count and size must be non-negative integers");
    }
    const t0 = process.hrtime.bigint();
    for (let seq = 0; seq < count; seq++) {
      const packet = Buffer.alloc(size);
      packet.write(String(seq).padStart(10, "0").slice(0, size), 0, "latin1");
      sock.send([packet]);
    }
    const t1 = process.hrtime.bigint();
    return {t0_ns: Number(t0), t1_ns: Number(t1)};
  },
  async wait(sock, req) {
    const count = Number(req.count);
    const timeoutMs = 1000 * Number(req.timeout === undefined ? 10 : req.timeout);
    const reached = await new Promise((resolve) => {
      if (state.received >= count) return resolve(true);
      let timer = null;
      const check = () => {
        if (state.received >= count) {
          state.waiters.delete(check);
          clearTimeout(timer);
          resolve(true);
        }
      };
      timer = setTimeout(() => { state.waiters.delete(check); resolve(false); }, timeoutMs);
      state.waiters.add(check);
    });
    const out = {ok: reached, received: state.received,
                 first_ns: state.firstNs === null ? null : Number(state.firstNs),
                 last_ns: state.lastNs === null ? null : Number(state.lastNs)};
    if (!reached) out.error = `timeout: ${state.received} of ${count} messages`;
    return out;
  },
  events(sock, req) {
    state.eventsOn = req.on === undefined ? true : Boolean(req.on);
    return {};
  },
  reset() {
    state.received = state.bcastCopies = state.bcastDups = state.dropped = 0;
    state.firstNs = state.lastNs = null;
    return {};
  },
};

async function handleLine(sock, line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return {re: null, ok: false, error: `malformed JSON: ${e.message}`};
  }
  if (req === null || typeof req !== "object" || Array.isArray(req) || typeof req.cmd !== "string") {
    return {re: null, ok: false, error: 'expected an object with a "cmd" string'};
  }
  const handler = Object.prototype.hasOwnProperty.call(commands, req.cmd) ? commands[req.cmd] : null;
  if (!handler) return {re: req.cmd, ok: false, error: `unknown command ${JSON.stringify(req.cmd)}`};
  try {
    const reply = await handler(sock, req);
    const ok = reply.ok === undefined ? true : reply.ok;
    delete reply.ok;
    return {re: req.cmd, ok, ...reply};
  } catch (e) {
    logErr(`js2p_driver: command ${req.cmd} failed: ${e.stack || e}`);
    return {re: req.cmd, ok: false, error: String(e && e.message || e)};
  }
}

async function main() {
  let sock;
  try {
    sock = await openSocket();
  } catch (e) {
    logErr(`js2p_driver: cannot start: ${e.message || e}`);
    process.exit(1);
  }
  instrument(sock);
  process.on("uncaughtException", (e) => {
    logErr(`js2p_driver: uncaught exception inside js2p: ${e.stack || e}`);
    writeOut({event: "error", error: String((e && e.stack) || e).slice(0, 2000)});
  });
  writeOut({event: "ready", id: textId(sock.id), port: sock.out_addr[1], protocol_id: sock.protocol.id,
            implementation: IMPLEMENTATION, compression: base.compression.slice()});
  for (const [host, port] of opts.connect) writeOut(await handleLine(sock, JSON.stringify({cmd: "connect", host, port})));

  let quitting = false;
  const finish = () => {
    if (quitting) return;
    quitting = true;
    try { sock.close(); } catch (e) { logErr(`js2p_driver: close failed: ${e}`); }
    writeOut({event: "bye"});
    process.exit(0);
  };
  // Lines are handled strictly one after another, so every answer follows its command.
  let chain = Promise.resolve();
  const rl = require("readline").createInterface({input: process.stdin, crlfDelay: Infinity});
  rl.on("line", (line) => {
    chain = chain.then(async () => {
      if (quitting || !line.trim()) return;
      let req = null;
      try { req = JSON.parse(line); } catch (e) { /* answered by handleLine */ }
      if (req && req.cmd === "quit") {
        writeOut({re: "quit", ok: true});
        finish();
        return;
      }
      writeOut(await handleLine(sock, line));
    });
  });
  rl.on("close", () => { chain = chain.then(finish); });
}

main();
