// Starts s3rver on 127.0.0.1 (a free port unless --port is given) with a data
// directory and buckets, registers a test key pair, prints "LISTENING <port>"
// and runs until stdin closes (so it dies with the test that started it) or
// it gets SIGTERM.
//
// Run with `node --openssl-legacy-provider`: s3rver encrypts ListObjectsV2
// continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
'use strict';
const fs = require('fs');
const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');

function parseArgs(argv) {
  const out = { buckets: [], port: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--dir') out.dir = v;
    else if (k === '--bucket') out.buckets.push(v);
    else if (k === '--port') out.port = Number(v);
    else if (k === '--access-key') out.accessKey = v;
    else if (k === '--secret') out.secret = v;
    else if (k === '--cert') out.cert = v;
    else if (k === '--key') out.key = v;
    else throw new Error(`unknown option ${k}`);
  }
  if (!out.dir) throw new Error('--dir is required');
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.accessKey) AWSAccount.DUMMY_ACCOUNT.createKeyPair(args.accessKey, args.secret || '');
  const options = {
    address: '127.0.0.1',
    port: args.port,
    directory: args.dir,
    silent: true,
    configureBuckets: args.buckets.map((name) => ({ name })),
    // Host names like 127.0.0.1 must not be taken for virtual-host buckets.
    vhostBuckets: false,
  };
  if (args.cert) {
    options.cert = fs.readFileSync(args.cert);
    options.key = fs.readFileSync(args.key);
  }
  const server = new S3rver(options);
  const { port } = await server.run();
  process.stdout.write(`LISTENING ${port}\n`);
  const stop = () => server.close().finally(() => process.exit(0));
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`s3rver.js: ${e.stack || e}\n`);
  process.exit(1);
});
