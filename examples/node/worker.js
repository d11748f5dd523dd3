#!/usr/bin/env node
// A baton worker in Node.js with node-postgres (pg).
//
//   node worker.js --queue email [--dsn postgres://...] [--batch 4] [--lease 30] [--poll 1]
//
// What it does, and why (docs/workers.md walks through it):
//
// - One DIRECT connection (not through a transaction-mode pooler, which drops
//   LISTEN without an error) that calls baton.listen(queue) once (LISTEN on
//   the queue's channel) and runs the loop: from then on, a claim that finds
//   nothing registers it as waiting, and the next commit that makes a job
//   due sends it a NOTIFY. It also polls every --poll seconds: a job that
//   becomes due later (run_at, a retry's back-off, an expired lease) sends
//   no NOTIFY.
// - The loop is one call: baton.complete_and_claim(ids, tokens, queue,
//   worker, n, lease, results) completes what it finished, with each job's
//   result, and claims up to n more, in one transaction. A row with
//   refused = true is a completion baton refused: the lease was lost. It is
//   logged as "lease lost".
// - A heartbeat timer with its own connection calls baton.heartbeat(worker)
//   every lease/3. It runs on the event loop: a job that blocks the loop
//   (CPU-bound work) blocks the heartbeat too; run such work in a
//   worker_thread or a child process.
// - The worker name is host:pid:random: heartbeat trusts it.
// - SIGTERM (or SIGINT): stop claiming, finish the job in hand, complete what
//   is finished, hand back (fail, due again now) what was claimed but not
//   started, exit 0.
// - A lost connection (a server restart, a failover): back off, reconnect,
//   send again the completions whose outcome is unknown, hand back jobs
//   whose claim committed but whose answer never arrived.
//
// node-postgres pitfalls handled here:
// - bigint (ids, lease tokens) arrives as a string. Tokens are about 8.5e17,
//   above Number.MAX_SAFE_INTEGER (2^53): Number(token) changes it, and the
//   completion is refused. Keep them as strings end to end (or BigInt).
// - A JS array passed for a jsonb[] parameter must hold JSON strings
//   (JSON.stringify each element); a JS array passed for a jsonb parameter
//   is sent as a Postgres array literal and fails with 22P02.
// - An idle Client whose connection drops emits 'error': without a
//   listener, that crashes the process.
//
// Every event is one line on stdout, "event=NAME key=value ...".
'use strict';

const crypto = require('crypto');
const os = require('os');
const { performance } = require('perf_hooks');
const { parseArgs } = require('util');
const timers = require('timers/promises');
const { Client } = require('pg');

const LOOP = `
SELECT refused, id, payload, attempt, lease_token
  FROM baton.complete_and_claim($1::bigint[], $2::bigint[], $3, $4, $5, $6::interval, $7::jsonb[])`;

function log(event, fields = {}) {
  const time = new Date().toTimeString().slice(0, 8);
  const rest = Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ');
  process.stdout.write(`${time} event=${event} ${rest}`.trimEnd() + '\n');
}

function firstLine(err) {
  const text = String((err && err.message) || err || '').trim();
  return JSON.stringify(text.split('\n')[0] || (err && err.name) || 'error');
}

class Worker {
  constructor(opts) {
    this.opts = opts;
    this.name = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
    this.lease = `${opts.lease} seconds`;       // an interval, as text
    this.held = new Map();    // id (a string) -> job
    this.stopping = false;
    this.client = null;
    this.broken = null;       // the error that broke this.client
    this.notified = false;
    this.failures = 0;
    this.wakeup = null;
    this.hbClient = null;
    this.hbBusy = false;
    const stop = (signal) => {
      if (!this.stopping) log('stopping', { signal });
      this.stopping = true;
      this.wake();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  }

  // -- waiting --------------------------------------------------------------

  wake() {
    const w = this.wakeup;
    this.wakeup = null;
    if (w) w();
  }

  // Sleeps; a signal, a notification or a broken connection ends it early.
  sleep(ms) {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); this.wakeup = null; resolve(); };
      const timer = setTimeout(done, ms);
      this.wakeup = done;
    });
  }

  async waitForWork() {
    if (!this.notified && !this.stopping && !this.broken) await this.sleep(this.opts.poll * 1000);
    this.notified = false;
    if (this.broken) throw this.broken;
  }

  // -- connections ----------------------------------------------------------

  async connect(purpose, onError) {
    // Each query is its own transaction (no BEGIN): nothing is held between
    // calls. node-postgres sends unnamed statements unless a query has a
    // `name`, which is what pgbouncer < 1.21 in transaction mode needs.
    const client = new Client({
      connectionString: this.opts.dsn || undefined,   // else PGHOST, PGPORT, ...
      application_name: `baton-worker-${purpose}`,
      connectionTimeoutMillis: 5000,
    });
    client.on('error', onError);   // mandatory: an unhandled 'error' kills the process
    try {
      await client.connect();
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
    return client;
  }

  async ensureConnected() {
    if (this.client) return;
    this.broken = null;
    const client = await this.connect('loop', (err) => {
      if (this.client === client) { this.broken = err; this.wake(); }
    });
    client.on('notification', (msg) => {
      if (msg.channel === this.channel && msg.payload === this.opts.queue) {
        this.notified = true;
        this.wake();
      }
    });
    client.on('end', () => {
      if (this.client === client && !this.broken) { this.broken = new Error('connection ended'); this.wake(); }
    });
    this.client = client;
    this.channel = (await client.query('SELECT baton.listen($1) AS channel', [this.opts.queue])).rows[0].channel;
    if (this.failures) log('reconnected', { after_failures: this.failures });
    await this.releaseOrphans();
    this.failures = 0;
  }

  async dropConnection(err) {
    log('connection_error', { error: firstLine(err) });
    const client = this.client;
    this.client = null;
    this.broken = null;
    if (client) client.end().catch(() => {});
    this.failures += 1;
    for (const job of this.held.values()) if (job.state === 'done') job.inDoubt = true;
    // Exponential back-off with jitter, capped.
    const delay = Math.min(5, 0.2 * 2 ** (this.failures - 1)) * (0.5 + Math.random() / 2);
    await this.sleep(delay * 1000);
  }

  async query(text, params) {
    if (this.broken) throw this.broken;
    return this.client.query(text, params);
  }

  // After a reconnect: a claim may have committed while its answer was lost.
  // heartbeat(worker) names every job this worker owns; hand back the ones
  // it does not know about, so that nobody waits for their lease to run out.
  async releaseOrphans() {
    const { rows } = await this.query('SELECT id, lease_token FROM baton.heartbeat($1, $2::interval)',
      [this.name, this.lease]);
    for (const { id, lease_token: token } of rows) {
      if (this.held.has(id)) continue;
      const r = await this.query("SELECT baton.fail($1, $2, $3, '0 seconds') AS state",
        [id, token, 'claim answer lost']);
      log('handed_back', { job: id, token, reason: 'orphan', state: r.rows[0].state });
    }
  }

  // -- the loop -------------------------------------------------------------

  // Completes every finished job and claims up to n more.
  async loopCall(n) {
    const done = [...this.held.values()].filter((j) => j.state === 'done');
    const { rows } = await this.query(LOOP, [
      done.map((j) => j.id),                          // strings: bigint[] as text
      done.map((j) => j.token),                       // never Number(token)
      this.opts.queue, this.name, n, this.lease,
      done.map((j) => JSON.stringify(j.result)),      // jsonb[]: one JSON text per element
    ]);
    // After the call returned, so after its commit: a heartbeat sent later
    // than this must see the claims.
    const returned = performance.now();
    const refused = new Set(rows.filter((r) => r.refused).map((r) => r.id));
    for (const job of done) this.held.delete(job.id);
    await this.checkRefused(done.filter((j) => refused.has(j.id)));
    for (const job of done) {
      if (!refused.has(job.id)) log('completed', { job: job.id, token: job.token, attempt: job.attempt });
    }
    const claimed = rows.filter((r) => !r.refused).map((r) => ({
      id: r.id, token: r.lease_token, payload: r.payload, attempt: r.attempt,
      state: 'queued', result: null, lost: false, inDoubt: false, registered: returned,
    }));
    for (const job of claimed) {
      this.held.set(job.id, job);
      log('claimed', { job: job.id, token: job.token, attempt: job.attempt });
    }
    return claimed;
  }

  async checkRefused(jobs) {
    for (const job of jobs) {
      if (job.inDoubt) {
        // The completion was sent before the connection broke: did it commit?
        // Then the job holds our result, with our token.
        // (baton.jobs: the worker role of docs/security.md may read it.)
        const { rows } = await this.query('SELECT state, result FROM baton.jobs WHERE id = $1', [job.id]);
        const r = rows[0];
        if (r && r.state === 'completed' && r.result && r.result.token === job.token) {
          log('completed', { job: job.id, token: job.token, attempt: job.attempt, note: 'confirmed_after_reconnect' });
          continue;
        }
      }
      log('lease_lost', { job: job.id, token: job.token, source: 'complete_and_claim' });
    }
  }

  // The job itself. job.token is the fencing token: pass it along with every
  // write the job makes outside baton (docs/leases.md).
  async work(job) {
    const p = job.payload;
    if (job.attempt <= (p.fail_attempts || 0)) throw new Error(`simulated failure on attempt ${job.attempt}`);
    await timers.setTimeout(p.ms || 0);
    return { n: p.n, by: this.name, token: job.token };
  }

  async runJob(job) {
    job.state = 'working';
    log('working', { job: job.id, token: job.token, attempt: job.attempt, ms: job.payload.ms || 0 });
    let result;
    try {
      result = await this.work(job);
    } catch (err) {
      log('job_failed', { job: job.id, token: job.token, error: firstLine(err) });
      await this.fail(job, String(err.message || err), null);
      return;
    }
    job.result = result;
    job.state = 'done';
  }

  // Hands the job back (retry after retryIn, or the queue's back-off when
  // null). On a connection error the job stays owned and its lease runs out.
  async fail(job, error, retryIn) {
    this.held.delete(job.id);
    let state;
    try {
      await this.ensureConnected();
      const r = await this.query('SELECT baton.fail($1, $2, $3, $4::interval) AS state',
        [job.id, job.token, error, retryIn]);
      state = r.rows[0].state;
    } catch (err) {
      await this.dropConnection(err);
      return;
    }
    if (state === null) log('lease_lost', { job: job.id, token: job.token, source: 'fail' });
    else log('handed_back', { job: job.id, token: job.token, state });
  }

  async run() {
    log('start', { worker: this.name, queue: this.opts.queue, pid: process.pid });
    const hbTimer = setInterval(() => this.heartbeat(), (this.opts.lease * 1000) / 3);
    while (!this.stopping) {
      let claimed;
      try {
        await this.ensureConnected();
        claimed = await this.loopCall(this.opts.batch);
      } catch (err) {
        await this.dropConnection(err);
        continue;
      }
      if (claimed.length === 0) {
        try {
          await this.waitForWork();
        } catch (err) {
          await this.dropConnection(err);
        }
        continue;
      }
      for (const job of claimed) {
        if (this.stopping) break;
        if (job.lost) { this.held.delete(job.id); continue; }
        await this.runJob(job);
      }
    }
    const status = await this.shutdown();
    clearInterval(hbTimer);
    await Promise.allSettled([this.client && this.client.end(), this.hbClient && this.hbClient.end()]);
    return status;
  }

  // -- heartbeat ------------------------------------------------------------

  async heartbeat() {
    if (this.hbBusy || this.held.size === 0) return;
    this.hbBusy = true;
    try {
      if (!this.hbClient) {
        const client = await this.connect('heartbeat', () => {
          if (this.hbClient === client) this.hbClient = null;
          client.end().catch(() => {});
        });
        this.hbClient = client;
      }
      const t0 = performance.now();
      const { rows } = await this.hbClient.query('SELECT id FROM baton.heartbeat($1, $2::interval)',
        [this.name, this.lease]);
      const alive = new Set(rows.map((r) => r.id));
      // Only jobs claimed before this heartbeat was sent, and not finished:
      // those it must have extended.
      for (const job of this.held.values()) {
        if ((job.state === 'queued' || job.state === 'working') && job.registered < t0 &&
            !alive.has(job.id) && !job.lost) {
          job.lost = true;
          log('lease_lost', { job: job.id, token: job.token, source: 'heartbeat' });
        }
      }
    } catch (err) {
      log('heartbeat_error', { error: firstLine(err) });
      const client = this.hbClient;
      this.hbClient = null;
      if (client) client.end().catch(() => {});
    } finally {
      this.hbBusy = false;
    }
  }

  // -- shutdown -------------------------------------------------------------

  // Completes what is finished, hands back everything else it owns.
  async shutdown() {
    const deadline = Date.now() + this.opts.shutdownTimeout * 1000;
    for (;;) {
      try {
        await this.ensureConnected();
        const done = [...this.held.values()].filter((j) => j.state === 'done');
        if (done.length) {
          const { rows } = await this.query(
            'SELECT baton.complete_batch($1::bigint[], $2::bigint[], $3::jsonb[]) AS id',
            [done.map((j) => j.id), done.map((j) => j.token), done.map((j) => JSON.stringify(j.result))]);
          const completed = new Set(rows.map((r) => r.id));
          for (const job of done) this.held.delete(job.id);
          await this.checkRefused(done.filter((j) => !completed.has(j.id)));
          for (const job of done) {
            if (completed.has(job.id)) log('completed', { job: job.id, token: job.token, attempt: job.attempt });
          }
        }
        // Whatever this name still owns (claimed, not started): handed back,
        // due again at once.
        const { rows } = await this.query('SELECT id, lease_token FROM baton.heartbeat($1, $2::interval)',
          [this.name, this.lease]);
        for (const { id, lease_token: token } of rows) {
          const r = await this.query("SELECT baton.fail($1, $2, $3, '0 seconds') AS state",
            [id, token, 'worker shutting down']);
          log('handed_back', { job: id, token, reason: 'shutdown', state: r.rows[0].state });
        }
        this.held.clear();
        log('exit', { status: 0 });
        return 0;
      } catch (err) {
        if (Date.now() > deadline) {
          log('exit', { status: 1, reason: '"database unreachable; leases will run out"' });
          return 1;
        }
        await this.dropConnection(err);
      }
    }
  }
}

const USAGE = `usage: node worker.js --queue NAME [--dsn URL] [--batch N] [--lease S] [--poll S]
                      [--shutdown-timeout S]
  --dsn               a DIRECT connection (default: PGHOST, PGPORT, PGUSER, PGDATABASE)
  --batch             jobs claimed per call, 1-1000 (default 4)
  --lease             lease in seconds (default 30); heartbeat every lease/3
  --poll              seconds between polls without a NOTIFY (default 1)
  --shutdown-timeout  seconds to keep trying to hand back jobs on SIGTERM (default 10)
`;

function options() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        help: { type: 'boolean', short: 'h' },
        dsn: { type: 'string', default: '' },
        queue: { type: 'string' },
        batch: { type: 'string', default: '4' },
        lease: { type: 'string', default: '30' },
        poll: { type: 'string', default: '1' },
        'shutdown-timeout': { type: 'string', default: '10' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${err.message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (!values.queue) {
    process.stderr.write(USAGE);
    process.exit(2);
  }
  return {
    dsn: values.dsn,
    queue: values.queue,
    batch: parseInt(values.batch, 10),
    lease: Number(values.lease),
    poll: Number(values.poll),
    shutdownTimeout: Number(values['shutdown-timeout']),
  };
}

module.exports = { Worker };

if (require.main === module) {
  new Worker(options()).run().then(
    (status) => process.exit(status),
    (err) => { log('crash', { error: firstLine(err) }); process.exit(1); },
  );
}
