// verify_webhook.mjs -- checks callback signatures with the official standardwebhooks library, independently of mias.
//
// Usage: node verify_webhook.mjs SECRET < records.json
//
// records.json is the JSON list that tests/fixtures/sink.py answers to
// GET /__control__/received: objects with "headers" (lower-case names ->
// values, including webhook-id, webhook-timestamp, webhook-signature) and
// the raw body ("body_base64", the exact bytes, else "body", the text).
// SECRET is the namespace's signing secret as mias-admin prints it
// (whsec_<base64>).  For each record, in order, prints
//   ok <webhook-id>
//   bad <webhook-id> <error>
// and exits 0 when every record verifies, 1 when one does not or the list
// is empty, 2 on a usage or input error.  The library refuses timestamps
// more than 5 minutes away from now.

import { Webhook } from 'standardwebhooks';

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', c => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 1 || args[0] === '-h' || args[0] === '--help') {
    process.stderr.write('usage: node verify_webhook.mjs SECRET < records.json\n');
    return 2;
  }
  let wh;
  try {
    wh = new Webhook(args[0]);
  } catch (e) {
    process.stderr.write(`verify_webhook: bad secret: ${e.message}\n`);
    return 2;
  }
  let records;
  try {
    records = JSON.parse(await readStdin());
  } catch (e) {
    process.stderr.write(`verify_webhook: standard input is not JSON: ${e.message}\n`);
    return 2;
  }
  if (!Array.isArray(records)) {
    process.stderr.write('verify_webhook: standard input is not a JSON list\n');
    return 2;
  }
  if (records.length === 0) {
    process.stderr.write('verify_webhook: no records to verify\n');
    return 1;
  }
  let bad = 0;
  for (const rec of records) {
    const headers = (rec && typeof rec.headers === 'object' && rec.headers) || {};
    const id = headers['webhook-id'] ?? '-';
    try {
      let payload;
      if (typeof rec.body_base64 === 'string') {
        payload = Buffer.from(rec.body_base64, 'base64');
      } else if (typeof rec.body === 'string') {
        payload = rec.body;
      } else {
        throw new Error('record has no body');
      }
      // jsonParse false: a signature check only; what the body says is the tests' business
      wh.verify(payload, headers, { jsonParse: false });
      process.stdout.write(`ok ${id}\n`);
    } catch (e) {
      bad++;
      process.stdout.write(`bad ${id} ${e.name || 'Error'}: ${e.message}\n`);
    }
  }
  return bad ? 1 : 0;
}

process.exitCode = await main();
