// oss_alioss.test.mjs -- proves tests/fixtures/oss_server.py faithful by driving it with the official ali-oss client.
//
// The fixture is what our C OSS client is tested against, so here the
// reference client (ali-oss, Alibaba's own SDK) must work against it with
// both signature versions, with and without STS, in both addressing styles,
// and the fixture must refuse what real OSS refuses.  Run: node --test
// (from tests/node).  The fixture is started by this file on a free port.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import OSS from 'ali-oss';

const PYTHON = '/usr/bin/python3';
const FIXTURE = fileURLToPath(new URL('../fixtures/oss_server.py', import.meta.url));
const BUCKET = 'mias-test';
const REGION = 'cn-hangzhou';
const BULK = 2500;

// Credentials the fixture knows.  STS access key ids are temporary: the
// fixture accepts them only together with their token, as OSS does.
const PERM = { id: 'AKIDtestPermanent0001', secret: 'perm-Secret-0001' };
const TMP = { id: 'STS.NTemporary0001', secret: 'sts-Secret-0001', token: 'CAIS+good/token==0001' };
const OLD = { id: 'STS.NTemporary0002', secret: 'sts-Secret-0002', token: 'CAIS+expired/token==0002' };
const LIVE = { id: 'STS.NTemporary0003', secret: 'sts-Secret-0003', token: 'CAIS+live/token==0003' };

let dir, root, credsFile, fixture, fixtureErr = '', port;

function credsDoc(overrides = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    keys: { [PERM.id]: PERM.secret, [TMP.id]: TMP.secret, [OLD.id]: OLD.secret, [LIVE.id]: LIVE.secret },
    sts: {
      [TMP.token]: { ak: TMP.id, expires: now + 3600 },
      [OLD.token]: { ak: OLD.id, expires: now - 60 },
      [LIVE.token]: { ak: LIVE.id, expires: overrides.liveExpires ?? now + 3600 },
    },
  };
}

function writeCreds(doc) {
  // rename, so that the fixture never reads a half-written file
  fs.writeFileSync(credsFile + '.tmp', JSON.stringify(doc));
  fs.renameSync(credsFile + '.tmp', credsFile);
}

const sleep = ms => new Promise(r => setTimeout(r, ms));
const md5hex = buf => crypto.createHash('md5').update(buf).digest('hex').toUpperCase();
const bulkKey = i => `bulk/${String(i).padStart(5, '0')}.dat`;
const bulkBody = i => `bulk object ${i}\n`;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mias-oss-'));
  root = path.join(dir, 'root');
  fs.mkdirSync(path.join(root, BUCKET, 'bulk'), { recursive: true });
  // Objects written straight to disk, as test set-ups do: the fixture must
  // list and serve them like uploaded ones.
  for (let i = 0; i < BULK; i++) fs.writeFileSync(path.join(root, BUCKET, bulkKey(i)), bulkBody(i));
  credsFile = path.join(dir, 'creds.json');
  writeCreds(credsDoc());
  const portFile = path.join(dir, 'port');
  fixture = spawn(PYTHON, [FIXTURE, '--root', root, '--port', '0', '--port-file', portFile,
    '--creds', credsFile, '--region', REGION, '--log', path.join(dir, 'fixture.log')],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  fixture.stderr.on('data', d => { fixtureErr += d; });
  for (let i = 0; i < 200 && !fs.existsSync(portFile); i++) {
    if (fixture.exitCode !== null) break;
    await sleep(50);
  }
  assert.ok(fs.existsSync(portFile), `fixture did not start: ${fixtureErr}`);
  port = Number(fs.readFileSync(portFile, 'utf8'));
  const h = await raw('GET', '/__fixture__/health');
  assert.equal(h.status, 200);
});

after(async () => {
  if (fixture && fixture.exitCode === null) {
    const gone = new Promise(r => fixture.once('exit', r));
    fixture.kill('SIGTERM');
    await gone;
    assert.equal(fixture.exitCode, 0, `fixture exit: ${fixtureErr}`);
  }
  if (fixtureErr) console.error(`fixture stderr:\n${fixtureErr}`);
  if (process.env.OSS_FIXTURE_KEEP) console.error(`fixture files kept in ${dir}`);
  else if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// --- clients -----------------------------------------------------------------

// ali-oss, given an IP endpoint, connects to the IP and sends
// "Host: <bucket>.oss-<region>.aliyuncs.com" with the object at "/<key>"
// (virtual-hosted style).  Given a host name and sldEnable it sends
// "/<bucket>/<key>" (path style); "localhost" keeps that on the loopback.
function client({ v4 = true, sts = false, style = 'virtual', cred, token, bucket = BUCKET,
  region = `oss-${REGION}`, timeout } = {}) {
  const c = cred ?? (sts ? TMP : PERM);
  const opts = {
    accessKeyId: c.id,
    accessKeySecret: c.secret,
    bucket,
    region,
    authorizationV4: v4,
    secure: false,
    cname: false,
    endpoint: style === 'virtual' ? `http://127.0.0.1:${port}` : `http://localhost:${port}`,
    sldEnable: style === 'path',
    refreshSTSTokenInterval: 3600e3, // no refresh function: only silences a warning
  };
  const tok = token ?? (sts ? c.token : undefined);
  if (tok) opts.stsToken = tok;
  if (timeout) opts.timeout = timeout;
  return new OSS(opts);
}

// A plain HTTP request to the fixture; resolves with what arrived, even
// when the connection ends early.
function raw(method, target, headers = {}, body = null, { onResponse } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target, headers, agent: false }, res => {
      const chunks = [];
      if (onResponse) onResponse(res, req);
      res.on('data', c => chunks.push(c));
      res.on('error', () => {});
      res.on('close', () => resolve({
        status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete,
      }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function control(method, what, obj) {
  const body = obj ? Buffer.from(JSON.stringify(obj)) : null;
  const r = await raw(method, `/__fixture__/${what}`, body ? { 'content-type': 'application/json' } : {}, body);
  assert.equal(r.status, 200, r.body.toString());
  return JSON.parse(r.body.toString());
}

// An independent V1 signer (the fixture's is Python): signs path-style
// requests for the raw-HTTP tests.
function v1Authorization(method, resource, headers, cred = PERM) {
  const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const ossHeaders = Object.keys(h).filter(k => k.startsWith('x-oss-')).sort()
    .map(k => `${k}:${h[k].trim()}\n`).join('');
  const date = h['x-oss-date'] ?? h.date;
  const sts = `${method}\n${h['content-md5'] ?? ''}\n${h['content-type'] ?? ''}\n${date}\n${ossHeaders}${resource}`;
  return `OSS ${cred.id}:${crypto.createHmac('sha1', cred.secret).update(sts, 'utf8').digest('base64')}`;
}

const encKey = key => key.split('/').map(encodeURIComponent).join('/');

async function signedRaw(method, key, { query = '', subres = '', headers = {}, cred = PERM, body = null } = {}) {
  const hdrs = { 'x-oss-date': new Date().toUTCString(), ...headers };
  hdrs.authorization = v1Authorization(method, `/${BUCKET}/${key}${subres ? `?${subres}` : ''}`, hdrs, cred);
  const q = [subres, query].filter(Boolean).join('&');
  return raw(method, `/${BUCKET}/${encKey(key)}${q ? `?${q}` : ''}`, hdrs, body);
}

async function rejects(promise, code, status) {
  await assert.rejects(promise, err => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (status) assert.equal(err.status, status);
    return true;
  });
}

const REQUEST_ID = /^[0-9A-F]{24}$/;

// --- the matrix: both signature versions x STS on/off x both addressing styles

const COMBOS = [];
for (const v4 of [false, true]) {
  for (const sts of [false, true]) {
    for (const style of ['virtual', 'path']) COMBOS.push({ v4, sts, style });
  }
}

for (const { v4, sts, style } of COMBOS) {
  const name = `V${v4 ? 4 : 1} ${sts ? 'STS' : 'AK'} ${style}`;
  const base = `m-v${v4 ? 4 : 1}-${sts ? 'sts' : 'ak'}-${style}`;
  // Keys that stress the encoders: space, '+', '=', '&', RFC 3986 reserved
  // characters, and Chinese.
  const objects = [
    [`${base}/plain.bin`, crypto.randomBytes(1000)],
    [`${base}/with space.txt`, Buffer.from('hello world\n')],
    [`${base}/a+b=c&d.bin`, crypto.randomBytes(4096)],
    [`${base}/中文目录/切片 1.dcm`, crypto.randomBytes(300 * 1024)],
    [`${base}/special !'()*;:@,$~.bin`, crypto.randomBytes(17)],
    [`${base}/empty.bin`, Buffer.alloc(0)],
  ];

  describe(name, () => {
    let c;
    before(() => { c = client({ v4, sts, style }); });

    test('put then get round-trips every key byte for byte', async () => {
      for (const [key, data] of objects) {
        const put = await c.put(key, data);
        assert.equal(put.res.status, 200);
        assert.equal(put.res.headers.etag, `"${md5hex(data)}"`);
        assert.match(put.res.headers['x-oss-request-id'], REQUEST_ID);
        const got = await c.get(key);
        assert.equal(got.res.status, 200);
        assert.ok(Buffer.compare(got.content, data) === 0, `content of ${key}`);
      }
    });

    test('head reports length, ETag, dates and request id', async () => {
      const [key, data] = objects[3];
      const h = await c.head(key);
      assert.equal(h.status, 200);
      const hd = h.res.headers;
      assert.equal(Number(hd['content-length']), data.length);
      assert.equal(hd.etag, `"${md5hex(data)}"`);
      assert.ok(!Number.isNaN(Date.parse(hd['last-modified'])));
      assert.match(hd['content-type'], /\//);
      assert.match(hd['x-oss-request-id'], REQUEST_ID);
    });

    test('ranged get: a-b, a-, -n, and out-of-range per OSS rules', async () => {
      const [key, data] = objects[3];
      const size = data.length;
      let r = await c.get(key, { headers: { Range: 'bytes=10-19' } });
      assert.equal(r.res.status, 206);
      assert.equal(r.res.headers['content-range'], `bytes 10-19/${size}`);
      assert.ok(r.content.equals(data.subarray(10, 20)));
      r = await c.get(key, { headers: { Range: `bytes=${size - 100}-` } });
      assert.equal(r.res.status, 206);
      assert.ok(r.content.equals(data.subarray(size - 100)));
      r = await c.get(key, { headers: { Range: 'bytes=-7' } });
      assert.equal(r.res.status, 206);
      assert.ok(r.content.equals(data.subarray(size - 7)));
      // OSS ignores ranges it cannot serve and answers 200 with everything...
      for (const range of [`bytes=${size}-${size + 10}`, `bytes=0-${size}`, 'bytes=abc', 'items=0-1']) {
        r = await c.get(key, { headers: { Range: range } });
        assert.equal(r.res.status, 200, range);
        assert.equal(r.content.length, size, range);
      }
      // ...unless asked to behave like RFC 7233.
      r = await c.get(key, { headers: { Range: `bytes=${size - 5}-${size + 10}`, 'x-oss-range-behavior': 'standard' } });
      assert.equal(r.res.status, 206);
      assert.ok(r.content.equals(data.subarray(size - 5)));
      await rejects(c.get(key, { headers: { Range: `bytes=${size}-`, 'x-oss-range-behavior': 'standard' } }),
        'InvalidRange', 416);
    });

    test(`listV2 pages ${BULK} disk objects at max-keys 1000 into 3 pages`, async () => {
      const seen = [];
      const sizes = [];
      let token;
      do {
        const page = await c.listV2({ prefix: 'bulk/', 'max-keys': 1000, ...(token ? { 'continuation-token': token } : {}) });
        sizes.push(page.objects.length);
        assert.equal(page.keyCount, page.objects.length);
        for (const o of page.objects) {
          seen.push(o.name);
          assert.equal(o.type, 'Normal');
          assert.equal(o.storageClass, 'Standard');
        }
        token = page.nextContinuationToken;
        assert.equal(page.isTruncated, Boolean(token));
        // the fixture's tokens start with "+/": a client that forgets to
        // URL-encode the token it sends back breaks here
        if (token) assert.ok(token.startsWith('+/'), token);
      } while (token);
      assert.deepEqual(sizes, [1000, 1000, 500]);
      const want = Array.from({ length: BULK }, (_, i) => bulkKey(i));
      assert.deepEqual(seen, want);
      const first = (await c.listV2({ prefix: bulkKey(7), 'max-keys': 1 })).objects[0];
      assert.equal(first.etag, `"${md5hex(Buffer.from(bulkBody(7)))}"`);
      assert.equal(first.size, bulkBody(7).length);
    });

    test('listV2 shows the uploaded keys, and groups with a delimiter', async () => {
      const all = await c.listV2({ prefix: `${base}/`, 'max-keys': 100 });
      const want = objects.map(([k]) => k).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.deepEqual(all.objects.map(o => o.name), want);
      for (const o of all.objects) {
        const data = objects.find(([k]) => k === o.name)[1];
        assert.equal(o.size, data.length, o.name);
      }
      const grouped = await c.listV2({ prefix: `${base}/`, delimiter: '/', 'max-keys': 100 });
      assert.deepEqual(grouped.prefixes, [`${base}/中文目录/`]);
      assert.equal(grouped.objects.length, objects.length - 1);
      const paged = await c.listV2({ prefix: `${base}/`, 'max-keys': 2, 'start-after': `${base}/a` });
      assert.equal(paged.objects.length, 2);
      assert.ok(paged.isTruncated);
    });

    test('errors: wrong secret, missing key, missing bucket', async () => {
      const [key] = objects[0];
      const cred = sts ? { ...TMP, secret: 'wrong' } : { ...PERM, secret: 'wrong' };
      const bad = client({ v4, sts, style, cred });
      await rejects(bad.get(key), 'SignatureDoesNotMatch', 403);
      // HEAD has no body: ali-oss reads the code from the x-oss-err header
      await rejects(bad.head(key), 'SignatureDoesNotMatch', 403);
      await rejects(c.get(`${base}/no such key`), 'NoSuchKey', 404);
      await rejects(c.head(`${base}/no such key`), 'NoSuchKey', 404);
      await rejects(client({ v4, sts, style, bucket: 'no-such-bucket' }).get(key), 'NoSuchBucket', 404);
    });

    test('delete removes objects (and answers 204 for missing ones)', async () => {
      for (const [key] of objects) {
        const d = await c.delete(key);
        assert.equal(d.res.status, 204);
      }
      assert.equal((await c.delete(`${base}/never existed`)).res.status, 204);
      const left = await c.listV2({ prefix: `${base}/` });
      assert.equal(left.objects.length, 0);
    });
  });
}

// --- credentials and STS --------------------------------------------------------

describe('credentials', () => {
  for (const v4 of [false, true]) {
    const V = `V${v4 ? 4 : 1}`;
    test(`${V}: unknown access key id -> InvalidAccessKeyId`, async () => {
      await rejects(client({ v4, cred: { id: 'LTAInobody', secret: 'x' } }).get(bulkKey(1)), 'InvalidAccessKeyId', 403);
    });
    test(`${V}: expired STS token -> SecurityTokenExpired`, async () => {
      await rejects(client({ v4, sts: true, cred: OLD }).get(bulkKey(1)), 'SecurityTokenExpired', 403);
    });
    test(`${V}: unknown STS token -> InvalidSecurityToken`, async () => {
      await rejects(client({ v4, cred: TMP, token: 'CAIS-forged' }).get(bulkKey(1)), 'InvalidSecurityToken', 403);
    });
    test(`${V}: token of another key -> AccessKeyIdAndSecurityTokenNotMatch`, async () => {
      await rejects(client({ v4, cred: TMP, token: LIVE.token }).get(bulkKey(1)), 'AccessKeyIdAndSecurityTokenNotMatch', 403);
    });
    test(`${V}: STS key without its token -> InvalidAccessKeyId`, async () => {
      await rejects(client({ v4, cred: TMP, token: '' }).get(bulkKey(1)), 'InvalidAccessKeyId', 403);
    });
  }

  test('a token that expires while the server runs is refused from then on', async () => {
    const c = client({ v4: true, sts: true, cred: LIVE });
    assert.equal((await c.get(bulkKey(2))).res.status, 200);
    writeCreds(credsDoc({ liveExpires: Math.floor(Date.now() / 1000) - 1 }));
    try {
      await rejects(c.get(bulkKey(2)), 'SecurityTokenExpired', 403);
      await rejects(client({ v4: false, sts: true, cred: LIVE }).get(bulkKey(2)), 'SecurityTokenExpired', 403);
    } finally {
      writeCreds(credsDoc());
    }
    assert.equal((await c.get(bulkKey(2))).res.status, 200);
  });

  test('V4 signed for another region is refused', async () => {
    const c = client({ v4: true, style: 'path', region: 'oss-cn-beijing' });
    await rejects(c.get(bulkKey(1)), 'InvalidArgument', 400);
  });

  test('V4 with additional signed headers', async () => {
    const c = client({ v4: true });
    const r = await c.get(bulkKey(3), { headers: { Range: 'bytes=0-3' }, additionalHeaders: ['range'] });
    assert.equal(r.res.status, 206);
    assert.equal(r.content.toString(), bulkBody(3).slice(0, 4));
    const log = await control('GET', 'log');
    const last = log.filter(e => e.key === bulkKey(3)).at(-1);
    assert.deepEqual(last.auth.additional_headers, ['range']);
  });

  test('the request log records signature version and STS use, and no secret', async () => {
    await control('DELETE', 'log');
    await client({ v4: true, sts: true }).get(bulkKey(4));
    await client({ v4: false, sts: false }).get(bulkKey(5));
    const log = await control('GET', 'log');
    const e4 = log.find(e => e.key === bulkKey(4));
    const e1 = log.find(e => e.key === bulkKey(5));
    assert.equal(e4.auth.scheme, 'OSS4-HMAC-SHA256');
    assert.equal(e4.auth.sts, true);
    assert.equal(e4.auth.access_key_id, TMP.id);
    assert.equal(e4.auth.region, REGION);
    assert.equal(e4.headers['x-oss-content-sha256'], 'UNSIGNED-PAYLOAD');
    assert.equal(e4.addressing, 'virtual');
    assert.equal(e4.status, 200);
    assert.equal(e1.auth.scheme, 'OSS');
    assert.equal(e1.auth.sts, false);
    const text = JSON.stringify(log) + fs.readFileSync(path.join(dir, 'fixture.log'), 'utf8');
    for (const secret of [TMP.token, TMP.secret, PERM.secret, 'CAIS+']) {
      assert.ok(!text.includes(secret), `log leaks ${secret}`);
    }
  });
});

// --- verification is real: hand-made requests ----------------------------------------

describe('negative controls (plain HTTP)', () => {
  test('no Authorization -> AccessDenied', async () => {
    const r = await raw('GET', `/${BUCKET}/${bulkKey(1)}`);
    assert.equal(r.status, 403);
    assert.match(r.body.toString(), /<Code>AccessDenied<\/Code>/);
  });

  test('bogus Authorization -> SignatureDoesNotMatch', async () => {
    const r = await raw('GET', `/${BUCKET}/${bulkKey(1)}`,
      { 'x-oss-date': new Date().toUTCString(), authorization: `OSS ${PERM.id}:AAAAAAAAAAAAAAAAAAAAAAAAAAA=` });
    assert.equal(r.status, 403);
    assert.match(r.body.toString(), /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.match(r.body.toString(), /<StringToSign>GET\n\n\n/);
  });

  test('an independently signed request passes; the same with one change fails', async () => {
    const ok = await signedRaw('GET', bulkKey(9));
    assert.equal(ok.status, 200, ok.body.toString());
    assert.equal(ok.body.toString(), bulkBody(9));
    // Date header instead of x-oss-date (what curl-based clients send)
    const dateHeaders = { date: new Date().toUTCString() };
    dateHeaders.authorization = v1Authorization('GET', `/${BUCKET}/${bulkKey(9)}`, dateHeaders);
    assert.equal((await raw('GET', `/${BUCKET}/${bulkKey(9)}`, dateHeaders)).status, 200);
    // tamper: sign one key, ask for another
    const hdrs = { 'x-oss-date': new Date().toUTCString() };
    hdrs.authorization = v1Authorization('GET', `/${BUCKET}/${bulkKey(9)}`, hdrs);
    const moved = await raw('GET', `/${BUCKET}/${bulkKey(10)}`, hdrs);
    assert.equal(moved.status, 403);
    // tamper: flip one character of the signature
    const flipped = { ...hdrs, authorization: hdrs.authorization.replace(/.(?==$)/, ch => (ch === 'A' ? 'B' : 'A')) };
    assert.equal((await raw('GET', `/${BUCKET}/${bulkKey(9)}`, flipped)).status, 403);
    // tamper: add a signed sub-resource that was not signed
    const extra = await raw('GET', `/${BUCKET}/${bulkKey(9)}?response-content-type=text/html`, hdrs);
    assert.equal(extra.status, 403);
    // a signed sub-resource, signed: honoured
    const typed = await signedRaw('GET', bulkKey(9), { subres: 'response-content-type=text/html' });
    assert.equal(typed.status, 200, typed.body.toString());
    assert.equal(typed.headers['content-type'], 'text/html');
    // unsigned parameters may be added freely (they are not signed in V1)
    assert.equal((await raw('GET', `/${BUCKET}/${bulkKey(9)}?foo=bar`, hdrs)).status, 200);
    // tamper: an x-oss-* header that was not signed
    assert.equal((await raw('GET', `/${BUCKET}/${bulkKey(9)}`, { ...hdrs, 'x-oss-meta-x': '1' })).status, 403);
  });

  test('a request older than 15 minutes -> RequestTimeTooSkewed', async () => {
    const r = await signedRaw('GET', bulkKey(9), { headers: { 'x-oss-date': new Date(Date.now() - 16 * 60e3).toUTCString() } });
    assert.equal(r.status, 403);
    assert.match(r.body.toString(), /<Code>RequestTimeTooSkewed<\/Code>/);
    assert.match(r.body.toString(), /<MaxAllowedSkewMilliseconds>900000<\/MaxAllowedSkewMilliseconds>/);
  });

  test('error documents have OSS\'s shape and carry the request id', async () => {
    const r = await signedRaw('GET', 'no/such key');
    assert.equal(r.status, 404);
    assert.equal(r.headers['content-type'], 'application/xml');
    assert.equal(r.headers['x-oss-ec'], '0026-00000001');
    const m = r.body.toString().match(new RegExp('^<\\?xml version="1\\.0" encoding="UTF-8"\\?>\\n<Error>\\n'
      + '  <Code>NoSuchKey</Code>\\n  <Message>The specified key does not exist\\.</Message>\\n'
      + '  <RequestId>([0-9A-F]{24})</RequestId>\\n  <HostId>127\\.0\\.0\\.1</HostId>\\n'));
    assert.ok(m, r.body.toString());
    assert.equal(m[1], r.headers['x-oss-request-id']);
  });

  test('HEAD errors: no body, x-oss-ec and x-oss-err headers', async () => {
    const hdrs = { 'x-oss-date': new Date().toUTCString() };
    hdrs.authorization = v1Authorization('HEAD', `/${BUCKET}/missing`, hdrs);
    const r = await raw('HEAD', `/${BUCKET}/missing`, hdrs);
    assert.equal(r.status, 404);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['x-oss-ec'], '0026-00000001');
    assert.match(r.headers['x-oss-request-id'], REQUEST_ID);
    assert.match(Buffer.from(r.headers['x-oss-err'], 'base64').toString(), /<Code>NoSuchKey<\/Code>/);
  });

  test('ListObjectsV2 XML has OSS\'s elements', async () => {
    const r = await signedRaw('GET', '', { query: 'list-type=2&prefix=bulk%2F&max-keys=2' });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers['content-type'], 'application/xml');
    const x = r.body.toString();
    for (const re of [/^<\?xml version="1.0" encoding="UTF-8"\?>\n<ListBucketResult>\n/, /<Name>mias-test<\/Name>/,
      /<Prefix>bulk\/<\/Prefix>/, /<MaxKeys>2<\/MaxKeys>/, /<Delimiter><\/Delimiter>/, /<IsTruncated>true<\/IsTruncated>/,
      /<NextContinuationToken>[^<]+<\/NextContinuationToken>/, /<KeyCount>2<\/KeyCount>/,
      /<Contents>\n {4}<Key>bulk\/00000.dat<\/Key>\n {4}<LastModified>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z<\/LastModified>\n {4}<ETag>"[0-9A-F]{32}"<\/ETag>\n {4}<Type>Normal<\/Type>\n {4}<Size>\d+<\/Size>\n {4}<StorageClass>Standard<\/StorageClass>\n {2}<\/Contents>/]) {
      assert.match(x, re);
    }
    assert.doesNotMatch(x, /<Owner>/); // V2 names owners only with fetch-owner=true
  });

  test('Content-MD5 is checked', async () => {
    const c = client({ v4: true });
    await rejects(c.put('md5/bad.bin', Buffer.from('payload'), { headers: { 'Content-MD5': crypto.createHash('md5').update('other').digest('base64') } }),
      'InvalidDigest', 400);
    await rejects(c.head('md5/bad.bin'), 'NoSuchKey', 404);
  });
});

// --- more of the API ------------------------------------------------------------------

describe('listing and objects', () => {
  test('ListObjects (v1) pages with marker / NextMarker', async () => {
    const c = client({ v4: false });
    const seen = [];
    let marker;
    let pages = 0;
    for (;;) {
      const r = await c.list({ prefix: 'bulk/', 'max-keys': 1000, ...(marker ? { marker } : {}) });
      pages++;
      seen.push(...r.objects.map(o => o.name));
      if (!r.isTruncated) break;
      marker = r.nextMarker;
      assert.equal(marker, seen.at(-1));
    }
    assert.equal(pages, 3);
    assert.equal(seen.length, BULK);
  });

  test('encoding-type=url encodes keys in listings', async () => {
    const c = client({ v4: true });
    await c.put('enc/a b+中.txt', Buffer.from('x'));
    const r = await c.listV2({ prefix: 'enc/', 'encoding-type': 'url' });
    assert.deepEqual(r.objects.map(o => o.name), ['enc%2Fa%20b%2B%E4%B8%AD.txt']);
    await c.delete('enc/a b+中.txt');
  });

  test('directory markers round-trip and group under a delimiter', async () => {
    const c = client({ v4: true, style: 'path' });
    await c.put('tree/dir/', Buffer.alloc(0));
    await c.put('tree/dir/leaf.txt', Buffer.from('leaf'));
    const all = await c.listV2({ prefix: 'tree/' });
    assert.deepEqual(all.objects.map(o => [o.name, o.size]), [['tree/dir/', 0], ['tree/dir/leaf.txt', 4]]);
    const top = await c.listV2({ prefix: 'tree/', delimiter: '/' });
    assert.deepEqual(top.prefixes, ['tree/dir/']);
    assert.equal(top.objects.length, 0);
    assert.equal((await c.head('tree/dir/')).res.headers['content-length'], '0');
    await c.delete('tree/dir/');
    const after = await c.listV2({ prefix: 'tree/' });
    assert.deepEqual(after.objects.map(o => o.name), ['tree/dir/leaf.txt']);
    await c.delete('tree/dir/leaf.txt');
  });

  test('chunked streaming upload and streaming download of 6 MiB', async () => {
    const c = client({ v4: true, sts: true });
    const parts = Array.from({ length: 6 }, () => crypto.randomBytes(1 << 20));
    const whole = Buffer.concat(parts);
    const put = await c.putStream('stream/big.bin', Readable.from(parts)); // no length: chunked
    assert.equal(put.res.status, 200);
    const { stream } = await c.getStream('stream/big.bin');
    const chunks = [];
    for await (const ch of stream) chunks.push(ch);
    assert.ok(Buffer.concat(chunks).equals(whole));
    await c.delete('stream/big.bin');
  });

  test('presigned URLs (V1 and V4, with and without STS)', async () => {
    for (const sts of [false, true]) {
      const c = client({ v4: false, sts, style: 'path' });
      const u1 = c.signatureUrl(bulkKey(11), { expires: 60 });
      let r = await fetch(u1);
      assert.equal(r.status, 200, await r.clone().text());
      assert.equal(await r.text(), bulkBody(11));
      r = await fetch(u1.replace(/Expires=(\d+)/, (_, n) => `Expires=${Number(n) + 1}`));
      assert.equal(r.status, 403);
      const expired = c.signatureUrl(bulkKey(11), { expires: -10 });
      r = await fetch(expired);
      assert.equal(r.status, 403);
      assert.match(await r.text(), /Request has expired/);

      const c4 = client({ v4: true, sts, style: 'path' });
      const u4 = await c4.signatureUrlV4('GET', 60, { headers: {} }, bulkKey(12));
      r = await fetch(u4);
      assert.equal(r.status, 200, await r.clone().text());
      assert.equal(await r.text(), bulkBody(12));
      const moved = u4.replace(`/${bulkKey(12)}?`, `/${bulkKey(13)}?`); // same signature, other object
      assert.notEqual(moved, u4);
      r = await fetch(moved);
      assert.equal(r.status, 403);
      assert.match(await r.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    }
  });

  test('keys that a directory tree cannot hold are refused cleanly', async () => {
    const c = client({ v4: true });
    await rejects(c.put('bad//double.txt', Buffer.from('x')), 'InvalidObjectName', 400);
    // URL libraries resolve "..", so this one goes by hand, literally
    const r = await signedRaw('PUT', 'bad/../escape.txt', { body: Buffer.from('x'), headers: { 'content-length': '1' } });
    assert.equal(r.status, 400, r.body.toString());
    assert.match(r.body.toString(), /<Code>InvalidObjectName<\/Code>/);
    assert.ok(!fs.existsSync(path.join(root, 'escape.txt')));
  });
});

// --- fault injection --------------------------------------------------------------------

describe('fault injection', () => {
  test('fail_next: the next N matching requests answer 5xx', async () => {
    const c = client({ v4: true });
    await control('POST', 'faults', { fail_next: [{ status: 503, count: 2, method: 'GET', path_contains: bulkKey(20) }] });
    await rejects(c.get(bulkKey(20)), 'ServiceUnavailable', 503);
    assert.equal((await c.get(bulkKey(21))).res.status, 200); // does not match
    await rejects(c.get(bulkKey(20)), 'ServiceUnavailable', 503);
    assert.equal((await c.get(bulkKey(20))).res.status, 200);
    await control('POST', 'faults', { fail_next: [{ status: 500, count: 1 }] });
    await rejects(c.head(bulkKey(20)), 'InternalError', 500);
    assert.deepEqual((await control('GET', 'faults')).fail_next, []);
  });

  test('stall: the server accepts and then says nothing', async () => {
    await control('POST', 'faults', { stall_seconds: 3, stall_count: 1 });
    const started = Date.now();
    await assert.rejects(client({ v4: true, timeout: 800 }).get(bulkKey(22)), err => /Timeout/.test(err.name));
    assert.ok(Date.now() - started < 2500);
    assert.equal((await client({ v4: true }).get(bulkKey(22))).res.status, 200);
  });

  test('truncate: the body stops short and the connection closes', async () => {
    fs.mkdirSync(path.join(root, BUCKET, 'fault'), { recursive: true });
    fs.writeFileSync(path.join(root, BUCKET, 'fault', 'long.bin'), crypto.randomBytes(100000));
    await control('POST', 'faults', { truncate: { after_bytes: 1000, count: 1 } });
    const r = await signedRaw('GET', 'fault/long.bin');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '100000');
    assert.equal(r.body.length, 1000);
    assert.equal(r.complete, false);
    assert.equal((await signedRaw('GET', 'fault/long.bin')).body.length, 100000);
  });

  test('trickle: the body arrives slowly', async () => {
    await control('POST', 'faults', { trickle: { bytes_per_second: 50000, count: 1 } });
    const started = Date.now();
    const r = await signedRaw('GET', 'fault/long.bin');
    assert.equal(r.body.length, 100000);
    assert.ok(Date.now() - started >= 1500, `took ${Date.now() - started} ms`);
  });

  test('clock offset: the fixture\'s clock can be skewed', async () => {
    await control('POST', 'faults', { clock_offset_seconds: 3600 });
    try {
      await rejects(client({ v4: true }).get(bulkKey(23)), 'RequestTimeTooSkewed', 403);
      await rejects(client({ v4: false }).get(bulkKey(23)), 'RequestTimeTooSkewed', 403);
    } finally {
      await control('POST', 'faults', { clock_offset_seconds: 0 });
    }
  });

  test('a client that disconnects mid-download does not hurt the server', async () => {
    const big = path.join(root, BUCKET, 'fault', 'sparse.bin');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 256 << 20); // 256 MiB, sparse
    const hdrs = { 'x-oss-date': new Date().toUTCString() };
    hdrs.authorization = v1Authorization('GET', `/${BUCKET}/fault/sparse.bin`, hdrs);
    let got = 0;
    await raw('GET', `/${BUCKET}/fault/sparse.bin`, hdrs, null, {
      onResponse: (res, req) => res.on('data', ch => { got += ch.length; if (got > (1 << 20)) req.destroy(); }),
    }).catch(() => {});
    assert.ok(got > 0 && got < (256 << 20));
    await sleep(200);
    assert.equal(fixture.exitCode, null, fixtureErr);
    assert.equal((await raw('GET', '/__fixture__/health')).status, 200);
    assert.equal((await client({ v4: true }).get(bulkKey(24))).res.status, 200);
    const log = await control('GET', 'log');
    assert.ok(log.some(e => e.key === 'fault/sparse.bin' && e.client_gone), 'disconnect logged');
  });
});

test('make_dicom_bucket.py: a real CT study that ali-oss lists and downloads intact', async () => {
  const helper = fileURLToPath(new URL('../fixtures/make_dicom_bucket.py', import.meta.url));
  const r = spawnSync(PYTHON, [helper, '--root', root, '--bucket', BUCKET, '--prefix', 'studies/ct-1',
    '--count', '3', '--marker', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const made = JSON.parse(r.stdout);
  assert.equal(made.keys.length, 4);
  assert.match(made.study_instance_uid, /^[0-9.]+$/);
  const c = client({ v4: true, sts: true });
  const listed = await c.listV2({ prefix: 'studies/ct-1/' });
  assert.deepEqual(listed.objects.map(o => o.name), made.keys);
  for (const key of made.keys.filter(k => !k.endsWith('/'))) {
    const got = await c.get(key);
    assert.ok(got.content.equals(fs.readFileSync(path.join(root, BUCKET, key))));
    assert.equal(got.content.subarray(128, 132).toString(), 'DICM');
  }
});

test('signing vectors of oss-signing-vectors.md reproduce through the fixture (--selftest)', () => {
  const r = spawnSync(PYTHON, [FIXTURE, '--selftest'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^1\.\.10$/m);
  assert.doesNotMatch(r.stdout, /not ok/);
});
