// Helpers shared by the node scripts of tests/golden (the vector file format of
// golden_common.py, and loading js2p from tests/interop/node_modules).
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

// Same as golden_common.py: a fixed message time, and the size above which frames and bodies
// are stored gzip+base64.
const FIXED_TIME = 1500000000;
const LARGE_FRAME = 16 * 1024;

const repoRoot = path.resolve(__dirname, '..', '..');

// js2p's base module (js_src/base.js) from the pinned install; its console.warn lines about
// the missing snappy module go to stderr.
function requireJs2pBase() {
  return require(path.join(repoRoot, 'tests', 'interop', 'node_modules', 'js2p', 'js_src', 'base.js'));
}

function repeatBytes(unit, length) {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = unit[i % unit.length];
  return out;
}

function gzB64(data) {
  // node's gzip writes mtime 0, so regenerating gives the same text.
  return zlib.gzipSync(data, {level: 9}).toString('base64');
}

function fieldBytes(vector, field) {
  if (vector[field + '_hex'] !== undefined) return Buffer.from(vector[field + '_hex'], 'hex');
  return zlib.gunzipSync(Buffer.from(vector[field + '_gz_b64'], 'base64'));
}

function describeFrame(name, impl, compression, advertised, frame, body, id, expect) {
  const vector = {name, impl, compression, advertised, id_hex: Buffer.from(id).toString('hex')};
  for (const [field, data] of [['frame', frame], ['body', body]]) {
    if (data.length > LARGE_FRAME) vector[field + '_gz_b64'] = gzB64(data);
    else vector[field + '_hex'] = Buffer.from(data).toString('hex');
  }
  vector.expect = expect;
  return vector;
}

function writeVectors(file, vectors) {
  // One vector per line, like golden_common.py.
  fs.writeFileSync(file, '[\n' + vectors.map((v) => JSON.stringify(v)).join(',\n') + '\n]\n');
}

function readVectors(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

module.exports = {
  FIXED_TIME, LARGE_FRAME, repoRoot, requireJs2pBase, repeatBytes, gzB64, fieldBytes,
  describeFrame, writeVectors, readVectors,
};
