#!/usr/bin/env node
// A baton producer in Node.js with node-postgres: enqueues --count jobs.
//
//   node producer.js --queue email --count 100 [--dsn postgres://...] [--lease 30]
//
// Jobs go in with baton.enqueue_batch, --chunk at a time (one round trip and
// one commit per chunk). The commit that makes jobs due sends
// NOTIFY baton, '<queue>', which wakes the workers; jobs due later (--delay)
// send nothing: the workers' polling finds them. A producer may go through
// a connection pooler (it does not LISTEN).
//
// The jobs are ONE jsonb parameter: JSON.stringify the array. Passed as a JS
// array, node-postgres would send a Postgres array literal ({...}), which
// jsonb refuses with 22P02. The ids come back as strings (bigint).
//
// Each payload is {"n": i, "ms": --work-ms}; the example worker waits that
// long. --slow-every K makes every K-th job take --slow-ms instead, and
// --fail-every K makes every K-th job fail its first attempt.
'use strict';

const { parseArgs } = require('util');
const { Client } = require('pg');

const USAGE = `usage: node producer.js --queue NAME [--count N] [--first N] [--lease S] [--dsn URL]
                        [--chunk N] [--delay S] [--work-ms MS] [--slow-every K] [--slow-ms MS]
                        [--fail-every K]
  --lease       create the queue, or update it, with this lease in seconds
  --chunk       jobs per enqueue_batch call (default 500, at most 10,000)
  --delay       seconds until the jobs are due (default 0: now)
  --work-ms     how long the example worker works on each job (default 50)
  --slow-every  every K-th job takes --slow-ms (default 1500) instead
  --fail-every  every K-th job fails its first attempt
`;

async function main() {
  let o;
  try {
    ({ values: o } = parseArgs({
      options: {
        help: { type: 'boolean', short: 'h' },
        dsn: { type: 'string', default: '' },
        queue: { type: 'string' },
        count: { type: 'string', default: '100' },
        first: { type: 'string', default: '1' },
        lease: { type: 'string' },
        chunk: { type: 'string', default: '500' },
        delay: { type: 'string', default: '0' },
        'work-ms': { type: 'string', default: '50' },
        'slow-every': { type: 'string', default: '0' },
        'slow-ms': { type: 'string', default: '1500' },
        'fail-every': { type: 'string', default: '0' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${err.message}\n${USAGE}`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!o.queue) {
    process.stderr.write(USAGE);
    return 2;
  }
  const num = (k) => Number(o[k]);
  const runAt = num('delay') > 0 ? new Date(Date.now() + num('delay') * 1000).toISOString() : null;

  const client = new Client({ connectionString: o.dsn || undefined, application_name: 'baton-producer' });
  client.on('error', () => {});   // a dropped connection rejects the pending query instead
  await client.connect();
  try {
    if (o.lease !== undefined) {
      await client.query('SELECT baton.create_queue($1, lease => $2::interval)', [o.queue, `${o.lease} seconds`]);
    }
    const ids = [];
    let batch = [];
    const flush = async () => {
      const { rows } = await client.query(
        'SELECT id FROM baton.enqueue_batch($1, $2::jsonb) ORDER BY ord',
        [o.queue, JSON.stringify(batch)]);
      for (const r of rows) ids.push(r.id);     // strings
      batch = [];
    };
    for (let i = num('first'); i < num('first') + num('count'); i++) {
      const payload = { n: i, ms: num('work-ms') };
      if (num('slow-every') && i % num('slow-every') === 0) payload.ms = num('slow-ms');
      if (num('fail-every') && i % num('fail-every') === 0) payload.fail_attempts = 1;
      const job = { payload };
      if (runAt) job.run_at = runAt;
      batch.push(job);
      if (batch.length === num('chunk')) await flush();
    }
    if (batch.length) await flush();
    process.stdout.write(JSON.stringify({
      queue: o.queue, enqueued: ids.length, first_id: ids[0] ?? null, last_id: ids.at(-1) ?? null,
    }) + '\n');
    return 0;
  } finally {
    await client.end();
  }
}

main().then(
  (status) => { process.exitCode = status; },
  (err) => { process.stderr.write(`producer: ${err.message}\n`); process.exitCode = 1; },
);
