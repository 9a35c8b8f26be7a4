// The official AWS SDK for JavaScript v3 (@aws-sdk/client-s3) as a command,
// for interoperability tests:
//   node sdk.js put|get|head|list ENDPOINT BUCKET KEY_OR_PREFIX [FILE]
// Credentials come from R2_ACCESS_KEY_ID / R2_SECRET_ACCESS_KEY. `get` writes
// the object to FILE and prints its metadata as JSON; `put` uploads FILE;
// `head` prints {size, etag, metadata}; `list` prints the keys as JSON.
'use strict';
const fs = require('fs');
const { S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } =
  require('@aws-sdk/client-s3');

async function main() {
  const [op, endpoint, bucket, key, file] = process.argv.slice(2);
  const client = new S3Client({
    endpoint,
    region: process.env.R2_REGION || 'auto',
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.R2_ACCESS_KEY_ID, secretAccessKey: process.env.R2_SECRET_ACCESS_KEY },
    // Plain PUTs with a signed payload, as strata sends them; newer SDKs
    // otherwise add CRC32 checksums that s3rver would store undecoded.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  if (op === 'put') {
    const body = fs.readFileSync(file);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: { origin: 'aws-sdk-js' } }));
    console.log(JSON.stringify({ ok: true }));
  } else if (op === 'get') {
    const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from(await r.Body.transformToByteArray());
    fs.writeFileSync(file, bytes);
    console.log(JSON.stringify({ size: bytes.length, metadata: r.Metadata }));
  } else if (op === 'head') {
    const r = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    console.log(JSON.stringify({ size: r.ContentLength, etag: r.ETag, metadata: r.Metadata }));
  } else if (op === 'list') {
    const keys = [];
    let token;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token }));
      for (const c of r.Contents || []) keys.push(c.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    console.log(JSON.stringify(keys));
  } else {
    throw new Error(`unknown operation ${op}`);
  }
}

main().catch((e) => {
  process.stderr.write(`sdk.js: ${e.name}: ${e.message}\n`);
  process.exit(1);
});
