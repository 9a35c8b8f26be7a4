// Uploads files with the official AWS SDK for JavaScript v3, PARALLELISM at
// a time, and prints {"files","bytes","ms"}: the reference the sync tier's
// upload time is compared with (tests/js/bench-sync.sh).
//   node sdk-upload.js ENDPOINT BUCKET PREFIX PARALLELISM FILE...
// Credentials come from R2_ACCESS_KEY_ID / R2_SECRET_ACCESS_KEY. Each file is
// one PutObject (the SDK's plain upload; the files are read before timing).
'use strict';
const fs = require('fs');
const path = require('path');
const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3');

async function main() {
  const [endpoint, bucket, prefix, parallelism, ...files] = process.argv.slice(2);
  const client = new S3Client({
    endpoint,
    region: process.env.R2_REGION || 'auto',
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.R2_ACCESS_KEY_ID, secretAccessKey: process.env.R2_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const bodies = files.map((f) => ({ key: prefix + path.basename(f), body: fs.readFileSync(f) }));
  let next = 0;
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  async function worker() {
    while (next < bodies.length) {
      const b = bodies[next++];
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: b.key, Body: b.body }));
      bytes += b.body.length;
    }
  }
  await Promise.all(Array.from({ length: Number(parallelism) }, worker));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(JSON.stringify({ files: bodies.length, bytes, ms }));
}

main().catch((e) => {
  process.stderr.write(`sdk-upload.js: ${e.message}\n`);
  process.exit(1);
});
