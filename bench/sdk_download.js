// Downloads what `strata recover` downloads from an S3 endpoint, with the
// official AWS SDK for JavaScript v3: the manifest, the newest snapshot, and
// every log object after it, CONCURRENCY at a time, each body read to its
// end (kept in memory, as a restore would have it). Prints one JSON line:
// {"objects":N,"bytes":B,"ms":T}. Used by bench/recover_vs_sdk.sh.
// Usage: node sdk_download.js ENDPOINT BUCKET ACCESS_KEY SECRET [CONCURRENCY [PREFIX]]
// PREFIX: what every key starts with (R2_PREFIX, e.g. "bench-0123abcd/").
const path = require('path');
const mods = process.env.STRATA_JS_MODULES || path.join(__dirname, '../tests/js/node_modules');
const { S3Client, GetObjectCommand } = require(path.join(mods, '@aws-sdk/client-s3'));

async function main() {
  const [endpoint, bucket, accessKeyId, secretAccessKey, conc, prefix = ''] = process.argv.slice(2);
  const concurrency = Number(conc || 8);
  const client = new S3Client({
    endpoint, region: 'auto', forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  const get = async (key) => {
    const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const chunks = [];
    let n = 0;
    for await (const c of r.Body) { chunks.push(c); n += c.length; }
    return { n, body: Buffer.concat(chunks, n) };
  };
  const t0 = process.hrtime.bigint();
  const m = JSON.parse((await get(prefix + 'checkpoint.json')).body.toString('utf8'));
  const snap = m.snapshots.length ? m.snapshots[m.snapshots.length - 1] : null;
  const base = snap ? snap.seq : 0;
  const keys = [];
  if (snap) keys.push(prefix + snap.key);
  for (const o of m.log) if (o.last_seq > base) keys.push(prefix + o.key);
  let next = 0, bytes = 0;
  const worker = async () => {
    while (next < keys.length) {
      const k = keys[next++];
      const { n } = await get(k);  // not `bytes += await ...`: that reads bytes before the await
      bytes += n;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(JSON.stringify({ objects: keys.length + 1, bytes, ms }));
}
main().catch((e) => { console.error(e); process.exit(1); });
