#!/usr/bin/env node
// Writes golden frames made by js2p 0.7.870 itself: tests/golden/vectors/js2p.json.
//
// Run by scripts/gen-golden.sh with the js2p installed in tests/interop/node_modules. Every
// frame comes from js2p's own `base.InternalMessage(...).string` (msgpack-lite, its sha256 and
// `base.compress()`); this script only chooses the inputs and records what a receiver must
// find in them. Each frame is fed back through js2p's `InternalMessage.feed_string` as a
// self-check.
//
// The clock is frozen before js2p is loaded: zlibjs's gzipSync writes Date.now() into the
// gzip header, so a frozen clock is what makes regenerating give identical output.
'use strict';

const path = require('path');
const util = require('util');
const common = require('./golden_common.js');

const {FIXED_TIME} = common;
Date.now = () => FIXED_TIME * 1000;

const base = common.requireJs2pBase();
// msgpack-lite as js2p resolves it, used only to ask which type it writes for a number.
const msgpack = require(require.resolve('msgpack-lite', {
  paths: [path.join(common.repoRoot, 'tests', 'interop', 'node_modules', 'js2p')],
}));

const IMPL = 'js2p';
const COMPRESSION_NAMES = {
  [base.flags.snappy]: 'snappy',
  [base.flags.zlib]: 'zlib',
  [base.flags.gzip]: 'gzip',
};
const PROTOCOL = new base.Protocol('mesh', 'Plaintext');
// A fixed stand-in for js2p's random per-process `user_salt`.
const SALT = '00000000-0000-4000-8000-000000000000';

function nodeId(host, port) {
  // The formula of js2p's BaseSocket constructor, with SALT.
  const BigInt = require(require.resolve('big-integer', {
    paths: [path.join(common.repoRoot, 'tests', 'interop', 'node_modules', 'js2p')],
  }));
  return base.to_base_58(BigInt(base.SHA384(`(${host}, ${port})${PROTOCOL.id}${SALT}`), 16));
}

// A large bin or str described in the vector by its repeated unit instead of its bytes.
class RepeatedBytes {
  constructor(unit, length) {
    this.unit = unit;
    this.data = common.repeatBytes(unit, length);
  }
}
class RepeatedStr {
  constructor(unit, length) {
    this.unit = unit;
    this.text = unit.repeat(Math.floor(length / unit.length) + 1).slice(0, length);
  }
}

// What msgpack-lite writes for a JS number: an int type when the number survives `| 0`
// (int32), float64 otherwise. Read from the first byte it really writes, not assumed.
function expectNumber(n) {
  const tag = msgpack.encode(n)[0];
  if (tag === 0xcb) return {f64: n};
  return n < 0 ? {int: n} : {uint: n};
}

function expectValue(v) {
  if (v === null) return {nil: null};
  if (typeof v === 'boolean') return {bool: v};
  if (typeof v === 'number') return expectNumber(v);
  if (typeof v === 'string') return {str: v};
  if (v instanceof RepeatedBytes) return {bin_repeat: v.unit.toString('hex'), len: v.data.length};
  if (v instanceof RepeatedStr) return {str_repeat: v.unit, len: Buffer.byteLength(v.text)};
  if (Buffer.isBuffer(v)) return {bin_hex: v.toString('hex')};
  if (Array.isArray(v)) return {array: v.map(expectValue)};
  if (typeof v === 'object') {
    return {map: Object.keys(v).map((k) => [expectValue(k), expectValue(v[k])])};
  }
  throw new Error(`no expectation for ${util.inspect(v)}`);
}

// Bins for which msgpack-lite writes a wider header than msgpack's smallest one: a decoder
// that re-encodes such a body cannot get the same bytes (so relays must forward bytes).
function nonMinimalBins(v) {
  if (v instanceof RepeatedBytes) return nonMinimalBins(v.data);
  if (Buffer.isBuffer(v)) {
    const smallest = v.length <= 0xff ? 0xc4 : v.length <= 0xffff ? 0xc5 : 0xc6;
    return msgpack.encode(v)[0] === smallest ? [] : [v.length];
  }
  if (Array.isArray(v)) return v.flatMap(nonMinimalBins);
  if (v !== null && typeof v === 'object') return Object.values(v).flatMap(nonMinimalBins);
  return [];
}

// The object js2p is given (and gives back) for an input description.
function plain(v) {
  if (v instanceof RepeatedBytes) return v.data;
  if (v instanceof RepeatedStr) return v.text;
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
    const out = {};
    for (const k of Object.keys(v)) out[k] = plain(v[k]);
    return out;
  }
  return v;
}

function messagesToMake(myId) {
  const f = base.flags;
  const peerA = ['127.0.0.1', 47101];
  const peerB = ['10.0.0.7', 5000];
  const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32,
    2 ** 63 - 1, 2 ** 64 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31),
    -(2 ** 31) - 1, -(2 ** 63)];
  const all = [];
  for (let i = 0; i < 256; i++) all.push(i);
  return [
    // What MeshSocket._send_handshake sends (uncompressed on the wire; compressed here too,
    // since receivers must open any frame with any advertised method).
    ['handshake', f.whisper,
      [f.handshake, myId, PROTOCOL.id, ['127.0.0.1', 47100], base.compression.slice()]],
    // What MeshSocket._send_peers sends: [[[host, port], id], ...].
    ['peers', f.whisper,
      [f.peers, [[peerA, nodeId(...peerA)], [peerB, nodeId(...peerB)]]]],
    ['peers_empty', f.whisper, [f.peers, []]],
    ['request_peers', f.whisper, [f.request, '*']],
    ['renegotiate_compression', f.renegotiate, [f.compression, []]],
    ['broadcast_str', f.broadcast,
      [f.broadcast, '', 'hello', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(255), 'w'.repeat(256),
        'h\u00e9llo \u2713 \u{1F600}']],
    ['broadcast_bin', f.broadcast,
      [f.broadcast, Buffer.alloc(0), Buffer.from([0, 1, 2]), Buffer.from(all.slice(0, 254)),
        Buffer.from(all), Buffer.alloc(300, 0xff)]],
    // msgpack-lite writes a bin of exactly 255 bytes as bin16 (`length < 0xFF` for bin8).
    ['broadcast_bin255', f.broadcast, [f.broadcast, Buffer.from(all.slice(0, 255))]],
    ['broadcast_ints', f.broadcast, [f.broadcast, ...ints]],
    // 0.0 is the integer 0 in JS: msgpack-lite writes it as fixint 0.
    ['broadcast_floats', f.broadcast, [f.broadcast, 0.5, -1.25, 1e300, 0.0]],
    ['broadcast_nil_bool', f.broadcast, [f.broadcast, null, true, false]],
    ['broadcast_nested', f.broadcast,
      [f.broadcast,
        [1, [2, [3, []]], 's', Buffer.from('b')],
        {a: 1, b: [Buffer.from('x'), null, true], c: {d: -5}},
        [],
        {},
        [{deep: [[[[{er: 0.5}]]]]}]]],
    ['broadcast_no_packets', f.broadcast, [f.broadcast]],
    ['empty_payload', f.broadcast, []],
    ['whisper_str_bin', f.whisper, [f.whisper, 'from-js', Buffer.from([0, 1, 2])]],
    ['broadcast_str32', f.broadcast, [f.broadcast, new RepeatedStr('str32 ', 70000)]],
    ['broadcast_1mib', f.broadcast,
      [f.broadcast, new RepeatedBytes(Buffer.from(all.slice(0, 251)), 1 << 20)]],
  ];
}

function makeVector(name, msgType, sender, payload, method) {
  const compressions = method === null ? [] : [method];
  const msg = new base.InternalMessage(msgType, sender, plain(payload), compressions, FIXED_TIME);
  if ((msg.compression_used === undefined ? null : msg.compression_used) !== method) {
    throw new Error(`js2p did not pick ${method} for ${name}`);
  }
  const frame = msg.string;
  const body = msg.__non_len_string;  // the msgpack body js2p hashed and sent

  // Self-check with js2p's own parser: it must verify the checksum and give back the input.
  const parsed = base.InternalMessage.feed_string(frame, false, compressions);
  if (parsed.compression_fail || Buffer.compare(parsed.id, msg.id) !== 0) {
    throw new Error(`js2p cannot read back its own ${name} frame`);
  }
  if (!util.isDeepStrictEqual(parsed.packets, plain([msgType, sender, FIXED_TIME, ...payload]))) {
    throw new Error(`js2p reads back different packets for ${name}`);
  }

  const expect = {
    msg_type: msgType,
    sender: expectValue(sender),
    time: FIXED_TIME,
    payload: payload.map(expectValue),
  };
  const vector = common.describeFrame(name, IMPL,
      method === null ? null : COMPRESSION_NAMES[method], base.compression.slice(), frame, body,
      msg.id, expect);
  const wide = nonMinimalBins(payload);
  if (wide.length) {
    vector.reencodes_identically = false;
    vector.note = `msgpack-lite writes bin of length ${wide.join(', ')} with a wider header ` +
        'than the smallest msgpack allows';
  }
  return vector;
}

function main() {
  const out = process.argv[2];
  const f = base.flags;
  if (!util.isDeepStrictEqual(base.compression, [f.zlib, f.gzip])) {
    // protocol.md: js2p advertises [zlib, gzip] on node 20, where its native snappy does not
    // build. Anything else means a different environment than the vectors describe.
    throw new Error(`js2p found compressions ${base.compression}, expected [zlib, gzip]`);
  }
  const myId = nodeId('127.0.0.1', 47100);
  const vectors = [];
  for (const [name, msgType, payload] of messagesToMake(myId)) {
    for (const method of [null, ...base.compression]) {
      vectors.push(makeVector(name, msgType, myId, payload, method));
    }
  }
  common.writeVectors(out, vectors);
  console.log(`gen_js2p: wrote ${vectors.length} vectors to ${out}`);
}

main();
