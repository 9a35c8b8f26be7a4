// Checks an incoming S3 request's SigV4 signature with the official AWS SDK
// signer (@smithy/signature-v4): the request is re-signed from what arrived
// on the wire with the known secret and the two signatures must match. Also
// checks x-amz-content-sha256 against the body.
'use strict';
const crypto = require('crypto');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Sha256 } = require('@aws-crypto/sha256-js');

function decodeComponent(s) {
  // Query strings on the wire are percent-encoded; '+' is a literal plus in
  // SigV4 (not a space as in HTML forms).
  return decodeURIComponent(s);
}

function parseQuery(raw) {
  const query = {};
  if (!raw) return query;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeComponent(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decodeComponent(part.slice(eq + 1));
    if (name in query) {
      query[name] = [].concat(query[name], value);
    } else {
      query[name] = value;
    }
  }
  return query;
}

// Returns null when the request is correctly signed, else {code, message}.
async function verify(req, body, credentials) {
  const auth = req.headers['authorization'] || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { code: 'AuthorizationHeaderMalformed', message: `cannot parse Authorization` };
  const [, keyId, date8, region, service, signedHeaders, signature] = m;
  if (keyId !== credentials.accessKeyId) {
    return { code: 'InvalidAccessKeyId', message: 'unknown access key id' };
  }
  const amzDate = req.headers['x-amz-date'] || '';
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date8) {
    return { code: 'AccessDenied', message: 'x-amz-date missing or not matching the scope' };
  }
  const contentSha = req.headers['x-amz-content-sha256'];
  if (!contentSha) return { code: 'InvalidRequest', message: 'x-amz-content-sha256 missing' };
  if (contentSha !== 'UNSIGNED-PAYLOAD') {
    const actual = crypto.createHash('sha256').update(body).digest('hex');
    if (actual !== contentSha) {
      return { code: 'XAmzContentSHA256Mismatch', message: `body hash ${actual} != ${contentSha}` };
    }
  }
  const headers = {};
  for (const name of signedHeaders.split(';')) {
    if (!(name in req.headers)) {
      return { code: 'AccessDenied', message: `signed header ${name} not sent` };
    }
    headers[name] = req.headers[name];
  }
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const request = {
    method: req.method,
    protocol: 'http:',
    hostname: (req.headers.host || '').split(':')[0],
    path,
    query: parseQuery(q < 0 ? '' : req.url.slice(q + 1)),
    headers,
  };
  const signer = new SignatureV4({
    service,
    region,
    credentials,
    sha256: Sha256,
    uriEscapePath: false, // S3 signs the path as sent
    applyChecksum: false,
  });
  const t = amzDate;
  const signingDate = new Date(Date.UTC(+t.slice(0, 4), +t.slice(4, 6) - 1, +t.slice(6, 8),
    +t.slice(9, 11), +t.slice(11, 13), +t.slice(13, 15)));
  const signed = await signer.sign(request, { signingDate });
  const expected = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)[1];
  if (expected !== signature) {
    return { code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' };
  }
  return null;
}

module.exports = { verify, parseQuery };
