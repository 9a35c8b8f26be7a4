// The reference side of the differential signing test: reads one JSON request
// per line from the file given as argv[2], signs it with the official AWS SDK
// signer (@smithy/signature-v4) and writes one JSON answer per line to stdout.
// The path is encoded here with the SDK's own S3 key encoder
// (extendedEncodeURIComponent per segment), not taken from strata, so path
// encoding is compared too. The body's SHA-256 is recomputed here as well.
//
// Request: {id, method, host, bucket, key, path_style, query: [[n, v]...],
//           headers: [[n, v]...], body_b64?, payload_hash, date, region,
//           access_key, secret, token?}
// Answer:  {id, authorization, canonical_path, body_hash_ok}
'use strict';
const fs = require('fs');
const readline = require('readline');
const crypto = require('crypto');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Sha256 } = require('@aws-crypto/sha256-js');
const { extendedEncodeURIComponent } = require('@smithy/core/protocols');

function sdkPath(r) {
  const encodedKey = r.key.split('/').map(extendedEncodeURIComponent).join('/');
  if (r.path_style) return `/${r.bucket}/${encodedKey}`;
  return `/${encodedKey}`;
}

function signingDate(t) {
  return new Date(Date.UTC(+t.slice(0, 4), +t.slice(4, 6) - 1, +t.slice(6, 8),
    +t.slice(9, 11), +t.slice(11, 13), +t.slice(13, 15)));
}

async function main() {
  const rl = readline.createInterface({ input: fs.createReadStream(process.argv[2]), crlfDelay: Infinity });
  const out = [];
  for await (const line of rl) {
    if (!line) continue;
    const r = JSON.parse(line);
    const query = {};
    for (const [n, v] of r.query) query[n] = n in query ? [].concat(query[n], v) : v;
    const headers = {};
    for (const [n, v] of r.headers) headers[n] = v;
    let bodyHashOk = true;
    if (r.payload_hash !== 'UNSIGNED-PAYLOAD') {
      const body = Buffer.from(r.body_b64 || '', 'base64');
      bodyHashOk = crypto.createHash('sha256').update(body).digest('hex') === r.payload_hash;
    }
    const path = sdkPath(r);
    const signer = new SignatureV4({
      service: 's3',
      region: r.region,
      credentials: { accessKeyId: r.access_key, secretAccessKey: r.secret, sessionToken: r.token || undefined },
      sha256: Sha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    const signed = await signer.sign({ method: r.method, protocol: 'https:', hostname: r.host, path, query, headers },
      { signingDate: signingDate(r.date) });
    out.push(JSON.stringify({ id: r.id, authorization: signed.headers.authorization, canonical_path: path, body_hash_ok: bodyHashOk }));
    if (out.length >= 1000) {
      process.stdout.write(out.join('\n') + '\n');
      out.length = 0;
    }
  }
  if (out.length) process.stdout.write(out.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`sign.js: ${e.stack || e}\n`);
  process.exit(1);
});
