// validate_responses.mjs -- every response the integration tests recorded, validated against doc/openapi.yaml (TAP)
//
// Usage: node validate_responses.mjs OPENAPI.yaml RECORDED...
//   RECORDED: files of JSON lines, or directories of *.jsonl, as
//   tests/integration/harness.py writes them with MIAS_RECORD_RESPONSES
//   ({endpoint, method, path, status, contentType, headers, body[, raw]}).
// Environment: TAP_OFFSET=N numbers the test points from N+1 (for a wrapper
// that printed N points before), and the plan then counts them too.
//
// For each response: the path item of /<endpoint>; its operation for the
// method, or the document's x-method-not-allowed for a method it does not
// list; the response for the status (exact, then 4XX-style, then default);
// the media type of the Content-Type; then the body is validated with ajv
// against that media type's schema, and the response's required headers
// must be there.  OpenAPI 3.0 schemas are turned into JSON Schema draft-07
// first: nullable becomes a "null" type, boolean exclusiveMinimum/Maximum
// become numbers, the annotation-only keywords (example, xml, externalDocs,
// discriminator, deprecated) are dropped.  ajv stays strict otherwise: an
// unknown keyword in a schema is an error.
//
// One test point for the document's schemas (every response schema
// compiles), then one per recorded file; a diagnostic lists the documented
// (operation, status) pairs that no test exercised.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

const [specPath, ...inputs] = process.argv.slice(2);
if (!specPath || inputs.length === 0) {
  process.stderr.write('usage: node validate_responses.mjs OPENAPI.yaml RECORDED...\n');
  process.exit(2);
}

let n = Number(process.env.TAP_OFFSET || 0);
let failed = 0;
function ok(cond, desc, diag = []) {
  n++;
  console.log(`${cond ? '' : 'not '}ok ${n} - ${desc}`);
  if (!cond) {
    failed++;
    for (const line of diag) for (const l of String(line).split('\n')) console.log(`#   ${l}`);
  }
  return cond;
}
function note(text) {
  for (const l of String(text).split('\n')) console.log(`# ${l}`);
}

// ------------------------------------------------------------ the document
const doc = parseYaml(readFileSync(specPath, 'utf8'));
const SCHEMA_ID = 'mias-openapi';
const ANNOTATIONS = ['example', 'xml', 'externalDocs', 'discriminator', 'deprecated'];

function pointer(root, ref) {
  if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
  let node = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) {
      throw new Error(`unresolvable $ref ${ref}`);
    }
    node = node[key];
  }
  return node;
}

// a Response, Parameter, Header... object: follow $refs
function deref(node) {
  const seen = new Set();
  while (node && typeof node === 'object' && typeof node.$ref === 'string') {
    if (seen.has(node.$ref)) throw new Error(`$ref loop at ${node.$ref}`);
    seen.add(node.$ref);
    node = pointer(doc, node.$ref);
  }
  return node;
}

// An OpenAPI 3.0 Schema Object as JSON Schema draft-07; $refs to the
// document's schemas point into the schema added under SCHEMA_ID.
function convert(s) {
  if (Array.isArray(s)) return s.map(convert);
  if (s === null || typeof s !== 'object') return s;
  if (typeof s.$ref === 'string') {
    if (!s.$ref.startsWith('#/components/schemas/')) throw new Error(`schema $ref ${s.$ref} is not under #/components/schemas`);
    return { $ref: `${SCHEMA_ID}#/definitions/${s.$ref.slice('#/components/schemas/'.length)}` };
  }
  const out = {};
  for (const [k, v] of Object.entries(s)) {
    if (ANNOTATIONS.includes(k) || k.startsWith('x-')) continue;
    if (['properties', 'patternProperties', 'definitions'].includes(k)) {
      out[k] = Object.fromEntries(Object.entries(v).map(([p, ps]) => [p, convert(ps)]));
    } else if (['items', 'additionalProperties', 'not'].includes(k) && typeof v === 'object') {
      out[k] = convert(v);
    } else if (['allOf', 'anyOf', 'oneOf'].includes(k)) {
      out[k] = v.map(convert);
    } else {
      out[k] = v;
    }
  }
  for (const [bool, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']]) {
    if (out[bool] === true) {
      out[bool] = out[bound];
      delete out[bound];
    } else if (out[bool] === false) {
      delete out[bool];
    }
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
    } else if (out.type === undefined) {
      return { anyOf: [out, { type: 'null' }] };
    }
  } else {
    delete out.nullable;
  }
  return out;
}

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false });
addFormats(ajv);
ajv.addSchema({
  $id: SCHEMA_ID,
  definitions: Object.fromEntries(Object.entries(doc.components?.schemas ?? {})
    .map(([name, s]) => [name, convert(s)])),
});

const validators = new Map();   // schema object -> compiled
function validatorFor(schema) {
  if (!validators.has(schema)) validators.set(schema, ajv.compile(convert(schema)));
  return validators.get(schema);
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
// every documented (path, method, status), to report what was never seen
const documented = new Map();
const problems = [];
for (const [path, item] of Object.entries(doc.paths ?? {})) {
  for (const m of METHODS) {
    if (!item[m]) continue;
    for (const [status, resp] of Object.entries(item[m].responses ?? {})) {
      documented.set(`${m.toUpperCase()} ${path} ${status}`, false);
      try {
        for (const media of Object.values(deref(resp).content ?? {})) {
          if (media.schema) validatorFor(media.schema);
        }
      } catch (e) {
        problems.push(`${m.toUpperCase()} ${path} ${status}: ${e.message}`);
      }
    }
  }
}
const notAllowed = doc['x-method-not-allowed'] ? deref(doc['x-method-not-allowed']) : null;
try {
  for (const media of Object.values(notAllowed?.content ?? {})) validatorFor(media.schema);
} catch (e) {
  problems.push(`x-method-not-allowed: ${e.message}`);
}
ok(problems.length === 0 && notAllowed !== null,
  `every response schema of ${basename(specPath)} compiles (OpenAPI 3.0 as draft-07)`,
  notAllowed === null ? ['no x-method-not-allowed at the root', ...problems] : problems);

// --------------------------------------------------------- the responses
function check(rec) {
  const path = `/${rec.endpoint}`;
  const item = doc.paths?.[path];
  if (!item) return `${rec.method} ${path}: the path is not documented`;
  const method = String(rec.method).toLowerCase();
  let responses;
  let key;
  if (item[method]) {
    responses = item[method].responses ?? {};
    key = `${rec.method} ${path}`;
  } else {
    if (rec.status !== 405) return `${rec.method} ${path}: the method is not documented, and the status is ${rec.status}, not 405`;
    responses = { 405: notAllowed };
    key = null;
  }
  const status = String(rec.status);
  const found = [status, `${status[0]}XX`, `${status[0]}xx`, 'default'].find((s) => responses[s] !== undefined);
  if (found === undefined) {
    return `${rec.method} ${path}: HTTP ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`;
  }
  if (key) documented.set(`${key} ${found}`, true);
  const resp = deref(responses[found]);
  const where = `${rec.method} ${path} -> ${status}`;

  for (const [name, h] of Object.entries(resp.headers ?? {})) {
    const hd = deref(h);
    const val = rec.headers?.[name.toLowerCase()];
    if (hd.required && val === undefined) return `${where}: required header ${name} missing`;
    if (val !== undefined && hd.schema && ['integer', 'number'].includes(deref(hd.schema).type) &&
        !/^-?[0-9]+(\.[0-9]+)?$/.test(val)) {
      return `${where}: header ${name}: ${JSON.stringify(val)} is not a number`;
    }
  }

  const hasBody = rec.body !== null || (rec.raw ?? '') !== '';
  if (!resp.content) {
    return hasBody ? `${where}: a body where the document has none: ${JSON.stringify(rec.body ?? rec.raw).slice(0, 300)}` : null;
  }
  const ct = String(rec.contentType ?? '').split(';')[0].trim().toLowerCase();
  const media = resp.content[ct];
  if (!media) {
    return `${where}: Content-Type ${JSON.stringify(rec.contentType)} is not documented (documented: ${Object.keys(resp.content).join(', ')})`;
  }
  if (!media.schema) return null;
  let value = rec.body;
  if (ct === 'application/json' || ct.endsWith('+json')) {
    if (rec.body === null && rec.raw !== undefined) return `${where}: the body is not JSON: ${rec.raw.slice(0, 300)}`;
  } else {
    value = rec.raw ?? '';
  }
  const v = validatorFor(media.schema);
  if (!v(value)) {
    // oneOf branches repeat the same complaint: each once
    const errs = [...new Set(v.errors.map((e) => `${e.instancePath || '(body)'} ${e.message}` +
      (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : '')))].slice(0, 8);
    return `${where}: ${errs.join('; ')}\n  body: ${JSON.stringify(value).slice(0, 600)}`;
  }
  return null;
}

const files = [];
for (const input of inputs) {
  let st;
  try {
    st = statSync(input);
  } catch {
    continue;
  }
  if (st.isDirectory()) {
    for (const f of readdirSync(input).sort()) if (f.endsWith('.jsonl')) files.push(join(input, f));
  } else {
    files.push(input);
  }
}

for (const f of files) {
  const lines = readFileSync(f, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const bad = [];
  const seen = new Set();
  let webServer = 0;
  lines.forEach((line, i) => {
    let rec;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      bad.push(`line ${i + 1}: not JSON (${e.message})`);
      return;
    }
    if (rec.webServer) {
      // the web server's own 5xx page for a responder the test killed
      // (tests/integration/harness.py): not a mias answer, not checked
      webServer++;
      return;
    }
    seen.add(`${rec.method} ${rec.endpoint} ${rec.status}`);
    let why;
    try {
      why = check(rec);
    } catch (e) {
      why = `${rec.method} /${rec.endpoint}: ${e.message}`;
    }
    if (why) bad.push(`line ${i + 1}: ${why}`);
  });
  const name = basename(f, '.jsonl');
  ok(bad.length === 0,
    `${name}: ${lines.length - webServer} responses (${seen.size} kinds) match ${basename(specPath)}` +
      (webServer ? ` (${webServer} more answered by the web server for a killed responder)` : ''),
    bad.length > 10 ? [...bad.slice(0, 10), `... and ${bad.length - 10} more`] : bad);
}
if (files.length === 0) note('no recorded responses found');

const unseen = [...documented].filter(([, seen]) => !seen).map(([k]) => k);
if (files.length > 0 && unseen.length > 0) {
  note(`documented but not exercised by these tests (${unseen.length}):`);
  for (const k of unseen) note(`  ${k}`);
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
