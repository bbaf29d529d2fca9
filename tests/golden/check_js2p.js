#!/usr/bin/env node
// Reverse golden check: js2p 0.7.870 must read the frames p2pmesh writes.
//
// Usage: check_js2p.js FRAMES.json   (written by golden_emit_frames; format in emit_frames.cpp)
//
// Each frame goes through js2p's own `InternalMessage.feed_string` with the compression list
// p2pmesh advertises, as a js2p connection calls it after the handshake: js2p checks the
// length header, tries the methods it shares with the sender (zlib, gzip) in the sender's
// order, verifies the sha256 and decodes with msgpack-lite. Frames compressed with a method
// js2p lacks (snappy, bz2, lzma) are skipped: a p2pmesh sender never uses one towards js2p.
// The packets must equal the expectation with strict types (Buffer is not string).
'use strict';

const crypto = require('crypto');
const util = require('util');
const common = require('./golden_common.js');

const base = common.requireJs2pBase();
const NAMES = {[base.flags.snappy]: 'snappy', [base.flags.zlib]: 'zlib', [base.flags.gzip]: 'gzip'};

function show(v) {
  const s = util.inspect(v, {maxStringLength: 200, maxArrayLength: 20});
  return s.length > 300 ? s.slice(0, 300) + '...' : s;
}

// null when `actual` is what `expect` describes, else a description of the difference.
function mismatch(expect, actual, where) {
  const [kind] = Object.keys(expect).filter((k) => k !== 'len');
  const value = expect[kind];
  const got = `${where}: got ${show(actual)}, expected ${kind}`;
  switch (kind) {
    case 'uint':
    case 'int':
    case 'f64':
    case 'f32':
      // JS has one number type; JSON.parse and msgpack-lite round 64-bit ints alike.
      return typeof actual === 'number' && actual === value ? null : got;
    case 'str':
      return typeof actual === 'string' && actual === value ? null : got;
    case 'bin_hex':
      return Buffer.isBuffer(actual) && actual.toString('hex') === value ? null : got;
    case 'nil':
      return actual === null ? null : got;
    case 'bool':
      return actual === value ? null : got;
    case 'bin_sha256':
    case 'str_sha256': {
      const isBin = kind === 'bin_sha256';
      if (isBin ? !Buffer.isBuffer(actual) : typeof actual !== 'string') return got;
      const raw = isBin ? actual : Buffer.from(actual, 'utf8');
      const ok = raw.length === expect.len &&
          crypto.createHash('sha256').update(raw).digest('hex') === value;
      return ok ? null : got;
    }
    case 'array':
      if (!Array.isArray(actual) || actual.length !== value.length) return got;
      for (let i = 0; i < value.length; i++) {
        const err = mismatch(value[i], actual[i], `${where}[${i}]`);
        if (err) return err;
      }
      return null;
    case 'map': {
      // msgpack-lite decodes a map into a plain object: keys become strings.
      if (actual === null || typeof actual !== 'object' || Array.isArray(actual) ||
          Buffer.isBuffer(actual)) {
        return got;
      }
      const keys = Object.keys(actual);
      if (keys.length !== value.length) return got;
      for (let i = 0; i < value.length; i++) {
        const [ek, ev] = value[i];
        const err = mismatch(ek, keys[i], `${where} key ${i}`) ||
            mismatch(ev, actual[keys[i]], `${where}[${keys[i]}]`);
        if (err) return err;
      }
      return null;
    }
    default:
      return `${where}: unknown expectation ${kind}`;
  }
}

function main() {
  const doc = common.readVectors(process.argv[2]);
  const ours = new Set(base.compression.map((m) => NAMES[m]));
  let checked = 0;
  let skipped = 0;
  const failures = [];
  for (const frame of doc.frames) {
    const label = `${frame.name}/${frame.compression || 'none'}`;
    if (frame.compression !== null && !ours.has(frame.compression)) {
      skipped++;
      continue;
    }
    checked++;
    let msg;
    try {
      msg = base.InternalMessage.feed_string(Buffer.from(frame.frame_hex, 'hex'), false,
          doc.advertised);
    } catch (e) {
      failures.push(`${label}: js2p rejects the frame: ${e}`);
      continue;
    }
    const expect = frame.expect;
    const errors = [];
    if (frame.compression !== null && msg.compression_fail) errors.push('js2p could not decompress it');
    if (Buffer.from(msg.id).toString('hex') !== frame.id_hex) errors.push(`id differs`);
    errors.push(mismatch({uint: expect.msg_type}, msg.msg_type, 'msg_type'));
    errors.push(mismatch(expect.sender, msg.sender, 'sender'));
    errors.push(mismatch({uint: expect.time}, msg.time, 'time'));
    errors.push(mismatch({array: expect.payload}, msg.payload, 'payload'));
    const real = errors.filter((e) => e);
    if (real.length) failures.push(`${label}: ${real.join('; ')}`);
  }
  for (const f of failures) console.log(`FAIL ${f}`);
  const methods = ['none', ...base.compression.map((m) => NAMES[m])].join('+');
  console.log(`check_js2p: ${checked} frames read by js2p ${methods} ` +
      `(${skipped} skipped: methods js2p lacks), ${failures.length} failures`);
  if (checked === 0) {
    console.log('check_js2p: no frame was checked');
    return 1;
  }
  return failures.length ? 1 : 0;
}

process.exitCode = main();
