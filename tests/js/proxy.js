// A fault-injecting HTTP proxy in front of an S3 server (s3rver), for tests:
//   node proxy.js --upstream 127.0.0.1:PORT [--verify KEY:SECRET]
// Prints "LISTENING <port>" and runs until stdin closes.
//
// With --verify, every request's SigV4 signature is checked with the official
// AWS SDK signer before it is forwarded (s3rver checks none), and a bad one is
// answered 403 SignatureDoesNotMatch the way S3 does.
//
// Faults are armed through the proxy itself:
//   GET /__proxy/fault?mode=M&count=N[&status=S][&method=GET][&rate=R]
//     mode: status   answer S (default 503) with an S3 error body
//           reset    reset the TCP connection (RST) without answering
//           close    close the connection without answering
//           stall    accept the request and never answer
//           truncate forward, but cut the response body in half and close
//           corrupt  forward a GET, but flip bytes of the response body (its
//                    length and headers kept, so only a checksum can tell)
//           swap     answer a GET with the object at path `other` (body and
//                    headers: a store that serves the wrong object whole)
//     count: how many matching requests get the fault (-1: all)
//     rate:  the chance (0 to 1, default 1) that a matching request gets it,
//            so faults come mixed with answers that go through
//     key:   only requests whose path contains this string
//     flips: corrupt: how many bytes to flip (default 1), spread over the body
//     strip: corrupt, swap: 1 drops the x-amz-meta-* headers too, so the
//            client cannot check the body against the writer's sha256
//   GET /__proxy/clear   disarm
//   GET /__proxy/stats   {"connections":..,"requests":..,"faults":..,"methods":{"GET":..},
//                         "fault_kinds":{"status:503":..,"reset":..}}
//                        (S3 traffic only; fault_kinds counts the faults dealt by kind)
//
// With --conditional, PUTs and multipart completions carrying If-Match or
// If-None-Match: * are decided the way S3 and R2 decide them (s3rver ignores
// both): the proxy HEADs the object first and answers 412 PreconditionFailed
// when the condition does not hold. Conditional writes to one key are
// serialized, so check and write are atomic with respect to each other.
'use strict';
const http = require('http');
const { verify } = require('./sigv4-verify');

const args = {};
for (let i = 2; i < process.argv.length; i += 1) {
  const name = process.argv[i].replace(/^--/, '');
  if (name === 'conditional') { args[name] = true; continue; }
  args[name] = process.argv[i + 1];
  i += 1;
}
const [upHost, upPort] = (args.upstream || '').split(':');
if (!upHost || !upPort) {
  process.stderr.write('proxy.js: --upstream host:port is required\n');
  process.exit(2);
}
const conditional = Object.prototype.hasOwnProperty.call(args, 'conditional');
let credentials = null;
if (args.verify) {
  const colon = args.verify.indexOf(':');
  credentials = { accessKeyId: args.verify.slice(0, colon), secretAccessKey: args.verify.slice(colon + 1) };
}

const stats = {
  connections: 0, requests: 0, faults: 0, signature_failures: 0, methods: {}, precondition_failures: 0, fault_kinds: {},
};
const keyLocks = new Map(); // object path -> promise of the last conditional write
let fault = null; // {mode, count, status, method, rate}
const stalled = [];
const agent = new http.Agent({ keepAlive: true });

function s3Error(res, status, code, message) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>proxy</RequestId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function takeFault(req) {
  if (!fault || fault.count === 0) return null;
  if (fault.method && fault.method !== req.method) return null;
  if (fault.key && !req.url.split('?')[0].includes(fault.key)) return null;
  // Only a GET has a body to corrupt or swap.
  if ((fault.mode === 'corrupt' || fault.mode === 'swap') && req.method !== 'GET') return null;
  if (fault.rate < 1 && Math.random() >= fault.rate) return null;
  if (fault.count > 0) fault.count -= 1;
  stats.faults += 1;
  const kind = fault.mode === 'status' ? `status:${fault.status}` : fault.mode;
  stats.fault_kinds[kind] = (stats.fault_kinds[kind] || 0) + 1;
  return fault;
}

function admin(req, res) {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/__proxy/fault') {
    fault = {
      mode: url.searchParams.get('mode'),
      count: Number(url.searchParams.get('count') || '1'),
      status: Number(url.searchParams.get('status') || '503'),
      method: url.searchParams.get('method') || null,
      rate: Number(url.searchParams.get('rate') || '1'),
      key: url.searchParams.get('key') || null,
      flips: Number(url.searchParams.get('flips') || '1'),
      strip: url.searchParams.get('strip') === '1',
      other: url.searchParams.get('other') || null,
    };
    if (fault.mode === 'swap' && !fault.other) {
      fault = null;
      res.writeHead(400);
      return res.end('swap needs other=PATH');
    }
  } else if (url.pathname === '/__proxy/clear') {
    fault = null;
    for (const r of stalled.splice(0)) r.socket.destroy();
  } else if (url.pathname !== '/__proxy/stats') {
    res.writeHead(404);
    return res.end();
  }
  const body = JSON.stringify(stats);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// The object's current ETag (unquoted), or null when it does not exist.
function headEtag(path) {
  return new Promise((resolve) => {
    const up = http.request({ host: upHost, port: Number(upPort), method: 'HEAD', path, agent }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode === 200 ? String(r.headers.etag || '').replace(/"/g, '') : null));
    });
    up.on('error', () => resolve(null));
    up.end();
  });
}

// Decides a conditional write as S3 does; true when it was answered 412.
async function refuseConditional(req, res) {
  const ifMatch = req.headers['if-match'];
  const ifNoneMatch = req.headers['if-none-match'];
  const path = req.url.split('?')[0];
  const current = await headEtag(path);
  let fail = false;
  if (ifNoneMatch === '*' && current !== null) fail = true;
  if (ifMatch !== undefined && (current === null || ifMatch.replace(/"/g, '') !== current)) fail = true;
  if (fail) {
    stats.precondition_failures += 1;
    s3Error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  }
  return fail;
}

function isConditionalWrite(req) {
  if (!conditional) return false;
  if (req.headers['if-match'] === undefined && req.headers['if-none-match'] === undefined) return false;
  return req.method === 'PUT' || (req.method === 'POST' && req.url.includes('uploadId='));
}

// Runs fn (which returns a promise) after earlier conditional writes to key.
function serialized(key, fn) {
  const prev = keyLocks.get(key) || Promise.resolve();
  const next = prev.then(fn, fn);
  keyLocks.set(key, next.catch(() => {}));
  return next;
}

// Flips `n` bytes spread evenly over data (never the same byte twice).
function flipBytes(data, n) {
  const count = Math.max(1, Math.min(n, data.length));
  for (let i = 0; i < count; i += 1) {
    const at = Math.floor(((i + 0.5) * data.length) / count);
    data[at] ^= 0x20;
  }
}

// how: {truncate, corrupt: flips, strip, path}; {} forwards faithfully.
function forward(req, res, body, how) {
  return new Promise((done) => {
    res.on('finish', done);
    res.on('close', done);
    forwardNow(req, res, body, how || {});
  });
}

function forwardNow(req, res, body, how) {
  const up = http.request({
    host: upHost, port: Number(upPort), method: req.method, path: how.path || req.url, headers: req.headers, agent,
  }, (upRes) => {
    const chunks = [];
    upRes.on('data', (c) => chunks.push(c));
    upRes.on('end', () => {
      const data = Buffer.concat(chunks);
      const headers = { ...upRes.headers };
      delete headers['transfer-encoding'];
      delete headers['connection'];
      if (how.strip) {
        for (const h of Object.keys(headers)) if (h.startsWith('x-amz-meta-')) delete headers[h];
      }
      if (how.corrupt && upRes.statusCode === 200 && data.length > 0) flipBytes(data, how.corrupt);
      if (req.method !== 'HEAD') headers['content-length'] = String(data.length);
      res.writeHead(upRes.statusCode, headers);
      if (how.truncate && data.length > 1) {
        res.write(data.subarray(0, Math.floor(data.length / 2)));
        // Give the half body time to leave before the connection drops.
        setTimeout(() => res.socket && res.socket.destroy(), 50);
        return;
      }
      res.end(data);
    });
  });
  up.on('error', (e) => s3Error(res, 502, 'BadGateway', `upstream: ${e.message}`));
  up.end(body);
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/__proxy/')) return admin(req, res);
  stats.requests += 1;
  stats.methods[req.method] = (stats.methods[req.method] || 0) + 1;
  // Counted per connection that carried S3 traffic, so control requests
  // (which open their own) do not count.
  if (!req.socket.strataCounted) {
    req.socket.strataCounted = true;
    stats.connections += 1;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    const f = takeFault(req);
    if (f) {
      switch (f.mode) {
        case 'status': {
          const code = f.status === 503 ? 'ServiceUnavailable' : f.status === 429 ? 'SlowDown'
            : f.status >= 500 ? 'InternalError' : 'InjectedFault';
          return s3Error(res, f.status, code, 'injected by proxy.js');
        }
        case 'reset': return req.socket.resetAndDestroy();
        case 'close': return req.socket.destroy();
        case 'stall': stalled.push(req); return undefined;
        case 'truncate': return forward(req, res, body, { truncate: true });
        case 'corrupt': return forward(req, res, body, { corrupt: f.flips, strip: f.strip });
        case 'swap': return forward(req, res, body, { path: f.other, strip: f.strip });
        default: break;
      }
    }
    if (credentials) {
      const bad = await verify(req, body, credentials).catch((e) => ({ code: 'InternalError', message: String(e) }));
      if (bad) {
        stats.signature_failures += 1;
        return s3Error(res, bad.code === 'InternalError' ? 500 : 403, bad.code, bad.message);
      }
    }
    if (isConditionalWrite(req)) {
      return serialized(req.url.split('?')[0], async () => {
        if (await refuseConditional(req, res)) return;
        await forward(req, res, body);
      });
    }
    return forward(req, res, body);
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
const stop = () => process.exit(0);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
