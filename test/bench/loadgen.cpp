// loadgen: the load generator behind `make bench` (test/bench.sh).
//
// It drives baton and a plain-SQL baseline ("plain", schema in
// test/bench/plain.sql) with identical workloads: one libpq connection per
// thread, every call a prepared statement, the same parameters for both.
// Each subcommand prints tab-separated result lines (their columns are
// documented where they are printed) that test/bench/report.py turns into
// tables. Connection settings come from the libpq environment (PGHOST,
// PGPORT, PGUSER, PGDATABASE).
//
//   loadgen load      SYSTEM JOBS                    backlog, not timed
//   loadgen drain     SYSTEM FINISH JOBS WORKERS N   jobs/s, claim latency
//   loadgen enqueue   SYSTEM KIND ROWS THREADS       rows/s
//   loadgen heartbeat SYSTEM JOBS CALLS              ms per call, HOT updates
//   loadgen churn     SYSTEM JOBS WORKERS N LOADED   claim latency over time
//   loadgen soak      SYSTEM JOBS KEEP_SECONDS       production-shaped load over time
//
// SYSTEM is baton or plain; FINISH is complete, batch or loop; KIND is
// single, batch or batch_unique.
#include <libpq-fe.h>

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

const char *const queue = "bench";
constexpr int batch_rows = 1000;  // enqueue_batch size everywhere

[[noreturn]] void die(const std::string &what)
{
    std::fprintf(stderr, "loadgen: %s\n", what.c_str());
    std::fflush(stderr);
    _exit(1);  // other threads may be inside libpq: skip exit handlers
}

double seconds_since(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---------------------------------------------------------------------------
// The two systems: the same statement names with the same parameters, so
// that every workload below is written once. Only enqueue_batch differs in
// shape (baton takes its JSON array, plain takes arrays to unnest).
// ---------------------------------------------------------------------------

struct Statement {
    const char *name;
    const char *sql;
};

struct System {
    std::string name;
    std::string table;  // the jobs table, for pg_stat_user_tables
    std::string jobs;   // the benchmark queue's jobs, as "relation WHERE ..."
    std::vector<Statement> statements;
};

const System baton{
    "baton", "baton._jobs", "baton.jobs WHERE queue = 'bench'",
    {
        {"claim", "SELECT id, lease_token, payload FROM baton.claim($1, $2, $3)"},
        {"complete", "SELECT baton.complete($1, $2, $3)"},
        {"complete_batch", "SELECT id FROM baton.complete_batch($1, $2) AS c(id)"},
        {"complete_and_claim",
         "SELECT id, lease_token, payload FROM baton.complete_and_claim($1, $2, $3, $4, $5)"},
        {"enqueue", "SELECT baton.enqueue($1, $2)"},
        {"enqueue_batch", "SELECT id FROM baton.enqueue_batch($1, $2)"},
        {"enqueue_batch_unique", "SELECT id FROM baton.enqueue_batch($1, $2)"},
        {"heartbeat", "SELECT id, lease_token, lease_expires_at FROM baton.heartbeat($1)"},
    }};

// The canonical SKIP LOCKED claim; the other statements reuse its pieces.
// GATE is one more condition on the ready rows (empty for a plain claim).
#define PLAIN_CLAIM(QUEUE, WORKER, N, GATE)                                                 \
    "UPDATE plain.jobs SET state = 'running', attempt = attempt + 1,"                       \
    "       lease_token = nextval('plain.tokens'),"                                         \
    "       lease_expires_at = clock_timestamp() + interval '30 seconds', worker = " WORKER   \
    " WHERE id IN (SELECT id FROM plain.jobs"                                               \
    "               WHERE queue = " QUEUE " AND state = 'ready' AND run_at <= clock_timestamp()" \
    GATE                                                                                    \
    "               ORDER BY priority DESC, run_at, id LIMIT " N " FOR UPDATE SKIP LOCKED)"   \
    " RETURNING id, lease_token, payload"

// Owner check for a batch: tokens are unique per claim, so "id in ids and
// token in tokens" is the pairwise check, and both stay index-friendly.
#define PLAIN_COMPLETE_BATCH                                                  \
    "UPDATE plain.jobs SET state = 'completed', finished_at = clock_timestamp()" \
    " WHERE id = ANY ($1::bigint[]) AND lease_token = ANY ($2::bigint[])"     \
    "   AND state = 'running' AND lease_expires_at > clock_timestamp()"

// complete_and_claim in one statement, so one round trip and one commit like
// baton's: the CTE completes, the outer UPDATE claims. The completion must
// run first (the GATE makes the claim's scan wait for it): a SKIP LOCKED
// scan keeps its lock on a row another worker claimed meanwhile (the row
// fails the recheck but stays locked until commit), so completing after
// claiming lets two workers each wait for the other's commit: a deadlock,
// seen here with the CTE left unreferenced (it then runs last).
#define PLAIN_COMPLETE_AND_CLAIM                                     \
    "WITH done AS (" PLAIN_COMPLETE_BATCH " RETURNING 1) "           \
    PLAIN_CLAIM("$3", "$4", "$5", " AND (SELECT count(*) FROM done) >= 0")

const System plain{
    "plain", "plain.jobs", "plain.jobs WHERE queue = 'bench'",
    {
        {"claim", PLAIN_CLAIM("$1", "$2", "$3", "")},
        {"complete",
         "UPDATE plain.jobs SET state = 'completed', finished_at = clock_timestamp(), result = $3"
         " WHERE id = $1 AND lease_token = $2 AND state = 'running'"
         "   AND lease_expires_at > clock_timestamp()"},
        {"complete_batch", PLAIN_COMPLETE_BATCH " RETURNING id"},
        {"complete_and_claim", PLAIN_COMPLETE_AND_CLAIM},
        {"enqueue", "INSERT INTO plain.jobs (queue, state, payload) VALUES ($1, 'ready', $2) RETURNING id"},
        {"enqueue_batch",
         "INSERT INTO plain.jobs (queue, state, payload, unique_key)"
         " SELECT $1, 'ready', p, k FROM unnest($2::jsonb[], $3::text[]) AS u(p, k) RETURNING id"},
        {"enqueue_batch_unique",
         "INSERT INTO plain.jobs (queue, state, payload, unique_key)"
         " SELECT $1, 'ready', p, k FROM unnest($2::jsonb[], $3::text[]) AS u(p, k)"
         " ON CONFLICT (queue, unique_key) WHERE state IN ('ready', 'running') DO NOTHING"
         " RETURNING id"},
        {"heartbeat",
         "UPDATE plain.jobs SET lease_expires_at = clock_timestamp() + interval '30 seconds'"
         " WHERE worker = $1 AND state = 'running' AND lease_expires_at > clock_timestamp()"
         " RETURNING id, lease_token, lease_expires_at"},
    }};

const System &system_named(const std::string &name)
{
    if (name == "baton")
        return baton;
    if (name == "plain")
        return plain;
    die("unknown system " + name);
}

// ---------------------------------------------------------------------------
// libpq: one connection with every statement of its system prepared.
// ---------------------------------------------------------------------------

struct ResultDeleter {
    void operator()(PGresult *r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

class Conn {
public:
    // `extra`: more statements to prepare (soak's, which need its tables).
    explicit Conn(const System &sys, const std::vector<Statement> &extra = {}) : conn_(PQconnectdb(""))
    {
        if (PQstatus(conn_) != CONNECTION_OK)
            die(std::string("connect: ") + PQerrorMessage(conn_));
        for (const std::vector<Statement> *list : {&sys.statements, &extra})
            for (const Statement &s : *list)
                check(Result(PQprepare(conn_, s.name, s.sql, 0, nullptr)), s.name);
    }
    ~Conn() { PQfinish(conn_); }
    Conn(const Conn &) = delete;
    Conn &operator=(const Conn &) = delete;

    // A prepared statement, text parameters (nullptr is SQL NULL).
    Result run(const char *name, const std::vector<const char *> &params)
    {
        return check(Result(PQexecPrepared(conn_, name, static_cast<int>(params.size()),
                                           params.data(), nullptr, nullptr, 0)),
                     name);
    }

    // Unprepared SQL: setup, checks, statistics, BEGIN and COMMIT.
    Result sql(const std::string &text) { return check(Result(PQexec(conn_, text.c_str())), text); }

    // For waiting on the socket (LISTEN).
    PGconn *raw() const { return conn_; }

private:
    Result check(Result r, const std::string &what)
    {
        ExecStatusType st = PQresultStatus(r.get());
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            die(what + ": " + PQresultErrorMessage(r.get()));
        return r;
    }

    PGconn *conn_;
};

long scalar(const Result &r) { return std::atol(PQgetvalue(r.get(), 0, 0)); }

// The jobs a worker holds: ids and lease tokens as the server printed them,
// handed back verbatim as text parameters when the worker finishes them.
struct Held {
    std::vector<std::string> ids, tokens;

    explicit Held(const Result &r)
    {
        for (int row = 0; row < PQntuples(r.get()); row++) {
            ids.emplace_back(PQgetvalue(r.get(), row, 0));
            tokens.emplace_back(PQgetvalue(r.get(), row, 1));
        }
    }
    bool empty() const { return ids.empty(); }
    size_t size() const { return ids.size(); }
};

// {a,b,c}: an array literal of values that need no quoting (numbers, keys).
std::string array_literal(const std::vector<std::string> &values)
{
    std::string out = "{";
    for (size_t i = 0; i < values.size(); i++) {
        if (i)
            out += ',';
        out += values[i];
    }
    return out + "}";
}

std::string worker_name(const char *role, int index)
{
    return "bench:" + std::to_string(getpid()) + ":" + role + std::to_string(index);
}

// ---------------------------------------------------------------------------
// Enqueue parameters: job i has payload {"n": i} and, with keys, unique key
// "k<i>". Both systems get the same jobs, each in the form it takes.
// ---------------------------------------------------------------------------

std::string payload(long i) { return "{\"n\": " + std::to_string(i) + "}"; }

class Batch {
public:
    // Jobs first .. first+count-1 for `sys`; params() is $2.. of enqueue_batch.
    Batch(const System &sys, long first, int count, bool keys)
    {
        if (&sys == &baton) {
            std::string json = "[";
            for (long i = first; i < first + count; i++) {
                if (i > first)
                    json += ',';
                json += "{\"payload\": " + payload(i);
                if (keys)
                    json += ", \"unique_key\": \"k" + std::to_string(i) + "\"";
                json += '}';
            }
            parts_.push_back(json + "]");
        } else {
            // jsonb[] literal: every element quoted, its quotes escaped.
            std::string payloads = "{", keys_array = "{";
            for (long i = first; i < first + count; i++) {
                if (i > first) {
                    payloads += ',';
                    keys_array += ',';
                }
                payloads += "\"{\\\"n\\\": " + std::to_string(i) + "}\"";
                keys_array += keys ? "k" + std::to_string(i) : "NULL";
            }
            parts_.push_back(payloads + "}");
            parts_.push_back(keys_array + "}");
        }
    }

    std::vector<const char *> params(const char *into = queue) const
    {
        std::vector<const char *> p{into};
        for (const std::string &s : parts_)
            p.push_back(s.c_str());
        return p;
    }

private:
    std::vector<std::string> parts_;
};

void enqueue_batch(Conn &c, const System &sys, long first, int count, bool keys)
{
    Batch b(sys, first, count, keys);
    c.run(keys ? "enqueue_batch_unique" : "enqueue_batch", b.params());
}

// ---------------------------------------------------------------------------
// Timing helpers.
// ---------------------------------------------------------------------------

// Microseconds, nearest-rank percentile q in [0, 1]; sorts in place.
double percentile(std::vector<double> &v, double q)
{
    if (v.empty())
        return NAN;
    std::sort(v.begin(), v.end());
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

std::vector<double> merged(const std::vector<std::vector<double>> &parts)
{
    std::vector<double> all;
    for (const auto &p : parts)
        all.insert(all.end(), p.begin(), p.end());
    return all;
}

// Runs body(i) on `threads` threads. Each thread connects (and prepares)
// before the clock starts: setup never counts. Returns the wall seconds from
// the common start until the last thread is done; *started (if given) is
// that start, visible to every thread once it is released.
double timed_threads(int threads, const std::function<void(int, const std::function<void()> &)> &body,
                     Clock::time_point *started = nullptr)
{
    std::latch ready(threads), go(1);
    auto start = [&] {
        ready.count_down();
        go.wait();
    };
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; i++)
        pool.emplace_back([&, i] { body(i, start); });
    ready.wait();
    Clock::time_point t0 = Clock::now();
    if (started)
        *started = t0;
    go.count_down();
    for (std::thread &t : pool)
        t.join();
    return seconds_since(t0);
}

// ---------------------------------------------------------------------------
// load: a backlog of JOBS ready jobs, in batches (setup, not timed).
// ---------------------------------------------------------------------------

int cmd_load(const System &sys, long jobs)
{
    Conn c(sys);
    for (long first = 0; first < jobs; first += batch_rows)
        enqueue_batch(c, sys, first, static_cast<int>(std::min<long>(batch_rows, jobs - first)), false);
    return 0;
}

// ---------------------------------------------------------------------------
// drain: WORKERS workers empty the backlog, each claiming N at a time and
// finishing them one of three ways. A worker stops at its first empty claim
// (claims skip only rows another worker is taking, so nothing is left).
// ---------------------------------------------------------------------------

enum class Finish { complete, batch, loop };

Finish finish_named(const std::string &name)
{
    if (name == "complete")
        return Finish::complete;
    if (name == "batch")
        return Finish::batch;
    if (name == "loop")
        return Finish::loop;
    die("unknown finish mode " + name);
}

// One call of every worker statement on nothing (the empty queue "warmup",
// job 0): a backend plans its statements on first use, and that one-time
// cost belongs to connecting, not to the loop being timed.
void warm_up(Conn &c, const std::string &worker, const std::string &n_text)
{
    c.run("claim", {"warmup", worker.c_str(), n_text.c_str()});
    c.run("complete", {"0", "0", nullptr});
    c.run("complete_batch", {"{}", "{}"});
    c.run("complete_and_claim", {"{}", "{}", "warmup", worker.c_str(), n_text.c_str()});
}

void drain_worker(const System &sys, Finish finish, int n, int index, const std::function<void()> &start,
                  std::vector<double> &claim_us)
{
    Conn c(sys);
    std::string worker = worker_name("w", index), n_text = std::to_string(n);
    warm_up(c, worker, n_text);
    start();
    auto claim = [&] {
        Clock::time_point t0 = Clock::now();
        Held held(c.run("claim", {queue, worker.c_str(), n_text.c_str()}));
        claim_us.push_back(seconds_since(t0) * 1e6);
        return held;
    };
    Held held = claim();
    while (!held.empty()) {
        std::string ids = array_literal(held.ids), tokens = array_literal(held.tokens);
        switch (finish) {
        case Finish::complete:
            for (size_t i = 0; i < held.size(); i++)
                c.run("complete", {held.ids[i].c_str(), held.tokens[i].c_str(), nullptr});
            held = claim();
            break;
        case Finish::batch:
            c.run("complete_batch", {ids.c_str(), tokens.c_str()});
            held = claim();
            break;
        case Finish::loop:
            held = Held(c.run("complete_and_claim",
                              {ids.c_str(), tokens.c_str(), queue, worker.c_str(), n_text.c_str()}));
            break;
        }
    }
}

// Both systems must really have done the work they are timed for.
void check_all_completed(const System &sys)
{
    Conn c(sys);
    long left = scalar(c.sql("SELECT count(*) FROM " + sys.jobs + " AND state <> 'completed'"));
    if (left != 0)
        die(sys.name + ": drain ended with " + std::to_string(left) + " jobs not completed");
}

int cmd_drain(const System &sys, const std::string &finish_name, long jobs, int workers, int n)
{
    Finish finish = finish_named(finish_name);
    std::vector<std::vector<double>> claim_us(workers);
    double secs = timed_threads(workers, [&](int i, const std::function<void()> &start) {
        drain_worker(sys, finish, n, i, start, claim_us[i]);
    });

    check_all_completed(sys);

    // drain SYSTEM JOBS WORKERS N FINISH jobs/s seconds
    std::printf("drain\t%s\t%ld\t%d\t%d\t%s\t%.0f\t%.3f\n", sys.name.c_str(), jobs, workers, n,
                finish_name.c_str(), static_cast<double>(jobs) / secs, secs);
    // latency SYSTEM JOBS WORKERS N FINISH p50_ms p99_ms max_ms claims
    // (in loop mode only each worker's first claim is a claim call)
    std::vector<double> all = merged(claim_us);
    std::printf("latency\t%s\t%ld\t%d\t%d\t%s\t%.3f\t%.3f\t%.3f\t%zu\n", sys.name.c_str(), jobs, workers, n,
                finish_name.c_str(), percentile(all, 0.50) / 1e3, percentile(all, 0.99) / 1e3,
                percentile(all, 1.0) / 1e3, all.size());
    return 0;
}

// ---------------------------------------------------------------------------
// enqueue: ROWS new jobs from THREADS connections, one autocommit call per
// job (single) or per 1,000 jobs (batch, batch_unique).
// ---------------------------------------------------------------------------

int cmd_enqueue(const System &sys, const std::string &kind, long rows, int threads)
{
    if (kind != "single" && kind != "batch" && kind != "batch_unique")
        die("unknown enqueue kind " + kind);
    double secs = timed_threads(threads, [&](int t, const std::function<void()> &start) {
        Conn c(sys);
        long first = rows * t / threads, last = rows * (t + 1) / threads;
        start();
        for (long i = first; i < last;) {
            if (kind == "single") {
                std::string p = payload(i);
                c.run("enqueue", {queue, p.c_str()});
                i++;
            } else {
                int count = static_cast<int>(std::min<long>(batch_rows, last - i));
                enqueue_batch(c, sys, i, count, kind == "batch_unique");
                i += count;
            }
        }
    });
    // enqueue SYSTEM KIND THREADS ROWS rows/s
    std::printf("enqueue\t%s\t%s\t%d\t%ld\t%.0f\n", sys.name.c_str(), kind.c_str(), threads, rows,
                static_cast<double>(rows) / secs);
    return 0;
}

// ---------------------------------------------------------------------------
// heartbeat: one worker holds JOBS leased jobs and renews them all, CALLS
// times. pg_stat_user_tables tells whether those updates were HOT (no index
// touched).
// ---------------------------------------------------------------------------

struct Updates {
    long all, hot;
};

// This session's counters reach the shared statistics only when it goes
// idle; force that flush, then read them in a fresh transaction.
Updates table_updates(Conn &c, const System &sys)
{
    c.sql("SELECT pg_stat_force_next_flush()");
    Result r = c.sql("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = '" + sys.table +
                     "'::regclass");
    return {std::atol(PQgetvalue(r.get(), 0, 0)), std::atol(PQgetvalue(r.get(), 0, 1))};
}

int cmd_heartbeat(const System &sys, long jobs, int calls)
{
    Conn c(sys);
    std::string worker = worker_name("hb", 0);
    long held = 0;
    for (;;) {
        Held h(c.run("claim", {queue, worker.c_str(), "1000"}));
        if (h.empty())
            break;
        held += static_cast<long>(h.size());
    }
    if (held != jobs)
        die(sys.name + ": heartbeat worker holds " + std::to_string(held) + " jobs, not " + std::to_string(jobs));

    Updates before = table_updates(c, sys);
    std::vector<double> ms;
    for (int i = 0; i < calls; i++) {
        Clock::time_point t0 = Clock::now();
        Result r = c.run("heartbeat", {worker.c_str()});
        ms.push_back(seconds_since(t0) * 1e3);
        if (PQntuples(r.get()) != jobs)
            die(sys.name + ": heartbeat renewed " + std::to_string(PQntuples(r.get())) + " leases");
    }
    Updates after = table_updates(c, sys);
    double mean = 0;
    for (double m : ms)
        mean += m / calls;
    // heartbeat SYSTEM JOBS CALLS mean_ms max_ms updated hot_updated
    std::printf("heartbeat\t%s\t%ld\t%d\t%.2f\t%.2f\t%ld\t%ld\n", sys.name.c_str(), jobs, calls, mean,
                percentile(ms, 1.0), after.all - before.all, after.hot - before.hot);
    return 0;
}

// ---------------------------------------------------------------------------
// churn: a producer enqueues JOBS jobs in batches (the first LOADED of them
// are the backlog `load` left) while WORKERS workers claim N at a time and
// complete them in batches, under default autovacuum.
// Claim latency and throughput are reported per tenth of the progress, so
// the first tenth (a young table) is the reference for the last.
// ---------------------------------------------------------------------------

constexpr int tenths = 10;
constexpr long backlog_cap = 10000;  // the producer waits above this many unfinished jobs

// Progress by tenths of `total` finished jobs: a call's latency is filed
// under the tenth running when it started, and the moment each tenth was
// done is kept. Shared by churn and soak.
struct Tenths {
    long total = 0;
    std::atomic<long> finished{0};
    Clock::time_point t0;
    std::vector<double> end_s = std::vector<double>(tenths, 0.0);  // when each tenth was done

    int tenth(long done) const { return static_cast<int>(std::min<long>(tenths - 1, done * tenths / total)); }
    int now() const { return tenth(finished); }
    long boundary(int t) const { return (t + 1) * total / tenths; }  // jobs finished at the end of tenth t

    void finish(long n)
    {
        long before = finished.fetch_add(n), after = before + n;
        for (int t = tenth(before); t < tenths; t++)
            if (boundary(t) <= after && boundary(t) > before)
                end_s[t] = seconds_since(t0);  // exactly one worker crosses each boundary
    }

    double jobs_per_s(int t) const
    {
        double span = end_s[t] - (t ? end_s[t - 1] : 0.0);
        return static_cast<double>(boundary(t) - (t ? boundary(t - 1) : 0)) / span;
    }
};

struct Churn : Tenths {
    std::atomic<long> produced{0}, empty_polls{0};
};

void churn_producer(const System &sys, Churn &s, const std::function<void()> &start)
{
    Conn c(sys);
    start();
    while (s.produced < s.total) {
        if (s.produced - s.finished > backlog_cap) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        int count = static_cast<int>(std::min<long>(batch_rows, s.total - s.produced));
        enqueue_batch(c, sys, s.produced, count, false);
        s.produced += count;
    }
}

void churn_worker(const System &sys, Churn &s, int n, int index, const std::function<void()> &start,
                  std::vector<std::vector<double>> &claim_us)
{
    Conn c(sys);
    std::string worker = worker_name("w", index), n_text = std::to_string(n);
    warm_up(c, worker, n_text);
    start();
    while (s.finished < s.total) {
        long done = s.finished;
        Clock::time_point t0 = Clock::now();
        Held held(c.run("claim", {queue, worker.c_str(), n_text.c_str()}));
        double us = seconds_since(t0) * 1e6;
        if (held.empty()) {  // the producer is behind: poll again shortly
            s.empty_polls++;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        claim_us[s.tenth(done)].push_back(us);
        std::string ids = array_literal(held.ids), tokens = array_literal(held.tokens);
        c.run("complete_batch", {ids.c_str(), tokens.c_str()});
        s.finish(static_cast<long>(held.size()));
    }
}

int cmd_churn(const System &sys, long jobs, int workers, int n, long loaded)
{
    Churn s;
    s.total = jobs;
    s.produced = loaded;
    // claim_us[worker][tenth]
    std::vector<std::vector<std::vector<double>>> claim_us(workers, std::vector<std::vector<double>>(tenths));
    double secs = timed_threads(workers + 1, [&](int i, const std::function<void()> &start) {
        if (i == workers) {
            churn_producer(sys, s, start);
        } else {
            churn_worker(sys, s, n, i, start, claim_us[i]);
        }
    }, &s.t0);
    for (int t = 0; t < tenths; t++) {
        std::vector<double> all;
        for (int w = 0; w < workers; w++)
            all.insert(all.end(), claim_us[w][t].begin(), claim_us[w][t].end());
        // churn SYSTEM TENTH p50_ms p99_ms claims jobs/s
        std::printf("churn\t%s\t%d\t%.3f\t%.3f\t%zu\t%.0f\n", sys.name.c_str(), t, percentile(all, 0.50) / 1e3,
                    percentile(all, 0.99) / 1e3, all.size(), s.jobs_per_s(t));
    }
    // churn_total SYSTEM JOBS seconds jobs/s empty_polls
    std::printf("churn_total\t%s\t%ld\t%.1f\t%.0f\t%ld\n", sys.name.c_str(), jobs, secs,
                static_cast<double>(jobs) / secs, s.empty_polls.load());
    return 0;
}

// ---------------------------------------------------------------------------
// soak: a production-shaped load on one queue until JOBS jobs are finished,
// every part at once, while finished jobs are removed as it goes (baton by
// itself after baton.set_retention, where this baton has it; the baseline by
// a janitor's DELETE every second, as applications do with cron):
//   4 app producers    BEGIN; INSERT an order; enqueue one job; COMMIT
//                      (1 job in 10 with a concurrency key, of 100 keys)
//   1 batch producer   enqueue_batch of 100 (1 batch in 5 with unique keys)
//   12 loop workers    complete_and_claim, n = 1..10
//   4 lease workers    claim 5, heartbeat every 3rd job, complete each job
//   8 idle listeners   wait for work on queues that never get any
//   1 wake-up probe    a job on queue soak_wake every 50 ms, and the idle
//                      worker waiting for it: claim returned - commit returned
//   1 monitor          per tenth: the jobs table's size, dead tuples, autovacuums
// The table starts empty (with statistics), and the producers wait while
// more than soak_cap jobs are unfinished. Job n fails every attempt when
// n % 200 == 0 (it ends dead) and its first attempt when n % 200 == 100 (it
// completes on retry): 1% of jobs fail. Every job must end completed or dead
// exactly once, or the run fails.
// ---------------------------------------------------------------------------

const char *const soak_queue = "soak";
const char *const wake_queue = "soak_wake";
constexpr int soak_app_producers = 4, soak_loop_workers = 12, soak_lease_workers = 4, soak_listeners = 8;
constexpr long soak_cap = 20000;        // unfinished jobs above which producers wait
constexpr int soak_batch_rows = 100;
constexpr int soak_lease_n = 5;         // jobs per claim of a lease worker
constexpr int soak_heartbeat_every = 3; // a lease worker's heartbeat, in jobs
constexpr auto probe_every = std::chrono::milliseconds(50);
constexpr auto poll_every = std::chrono::milliseconds(1000);  // a waiting worker's fallback
constexpr auto stall_limit = std::chrono::seconds(60);         // no job finished that long: jobs are lost

// The soak queue's failure policy, the same in both systems: a failed job is
// ready again after SOAK_RETRY_BASE * 2^(attempt-1), and its third failure
// is final (dead).
#define SOAK_MAX_ATTEMPTS "3"
#define SOAK_RETRY_BASE "100 milliseconds"

// Every claiming statement returns (refused, id, lease_token, payload,
// attempt): refused rows (only id set) are completions the system refused.
const std::vector<Statement> baton_soak{
    {"soak_order", "INSERT INTO soak_app.orders (body) VALUES ($1)"},
    {"soak_enqueue", "SELECT baton.enqueue($1, $2::jsonb, NULL, NULL, NULL, $3::text)"},
    {"soak_enqueue_batch", "SELECT id FROM baton.enqueue_batch($1, $2) WHERE inserted"},
    {"soak_probe", "SELECT baton.enqueue($1, $2)"},
    {"soak_claim", "SELECT false, id, lease_token, payload, attempt FROM baton.claim($1, $2, $3)"},
    {"soak_loop",
     "SELECT refused, id, lease_token, payload, attempt FROM baton.complete_and_claim("
     "$1::bigint[], $2::bigint[], $3::text, $4::text, $5::int, NULL::interval, $6::jsonb[])"},
    {"soak_complete", "SELECT 1 WHERE baton.complete($1, $2)"},
    {"soak_fail", "SELECT s FROM baton.fail($1, $2, 'soak: planned failure') AS s WHERE s IS NOT NULL"},
};

// The baseline's fail: baton's policy by hand (a claim counts attempts).
#define PLAIN_SOAK_FAIL                                                                                 \
    "UPDATE plain.jobs SET"                                                                             \
    "       state = CASE WHEN attempt >= " SOAK_MAX_ATTEMPTS " THEN 'dead' ELSE 'ready' END,"           \
    "       finished_at = CASE WHEN attempt >= " SOAK_MAX_ATTEMPTS " THEN clock_timestamp() END,"       \
    "       run_at = clock_timestamp() + interval '" SOAK_RETRY_BASE "' * 2 ^ (attempt - 1),"           \
    "       lease_expires_at = NULL, worker = NULL"                                                     \
    " WHERE id = $1 AND lease_token = $2 AND state = 'running' AND lease_expires_at > clock_timestamp()" \
    " RETURNING state"

// complete_and_claim with results, as PLAIN_COMPLETE_AND_CLAIM (completion
// first), also returning the ids it refused.
#define PLAIN_SOAK_LOOP                                                                               \
    "WITH done AS (UPDATE plain.jobs SET state = 'completed', finished_at = clock_timestamp(),"       \
    "                     result = ($6::jsonb[])[array_position($1::bigint[], id)]"                  \
    "               WHERE id = ANY ($1::bigint[]) AND lease_token = ANY ($2::bigint[])"              \
    "                 AND state = 'running' AND lease_expires_at > clock_timestamp() RETURNING id),"  \
    " claimed AS (" PLAIN_CLAIM("$3", "$4", "$5", " AND (SELECT count(*) FROM done) >= 0") ", attempt)" \
    " SELECT false, id, lease_token, payload, attempt FROM claimed"                                  \
    " UNION ALL SELECT true, r, NULL, NULL, NULL FROM unnest($1::bigint[]) AS r"                      \
    "  WHERE r NOT IN (SELECT id FROM done)"

const std::vector<Statement> plain_soak{
    {"soak_order", "INSERT INTO soak_app.orders (body) VALUES ($1)"},
    // The baseline has no concurrency keys: $3 is only echoed back.
    {"soak_enqueue", "INSERT INTO plain.jobs (queue, state, payload) VALUES ($1, 'ready', $2) RETURNING id, $3::text"},
    {"soak_enqueue_batch",
     "INSERT INTO plain.jobs (queue, state, payload, unique_key)"
     " SELECT $1, 'ready', p, k FROM unnest($2::jsonb[], $3::text[]) AS u(p, k)"
     " ON CONFLICT (queue, unique_key) WHERE state IN ('ready', 'running') DO NOTHING"
     " RETURNING id"},
    // The only notifying producer of the baseline.
    {"soak_probe",
     "WITH j AS (INSERT INTO plain.jobs (queue, state, payload) VALUES ($1::text, 'ready', $2::jsonb) RETURNING id)"
     " SELECT pg_notify('plain.' || $1::text, $1::text) FROM j"},
    {"soak_claim",
     "WITH c AS (" PLAIN_CLAIM("$1", "$2", "$3", "") ", attempt)"
     " SELECT false, id, lease_token, payload, attempt FROM c"},
    {"soak_loop", PLAIN_SOAK_LOOP},
    {"soak_complete",
     "UPDATE plain.jobs SET state = 'completed', finished_at = clock_timestamp()"
     " WHERE id = $1 AND lease_token = $2 AND state = 'running' AND lease_expires_at > clock_timestamp()"
     " RETURNING 1"},
    {"soak_fail", PLAIN_SOAK_FAIL},
    {"soak_janitor",
     "DELETE FROM plain.jobs WHERE state IN ('completed', 'dead') AND finished_at < clock_timestamp() - $1::interval"},
};

const std::vector<Statement> &soak_statements(const System &sys) { return &sys == &baton ? baton_soak : plain_soak; }

// ---------------------------------------------------------------------------
// How a worker waits for work: each system's notification contract in one
// small class, so that changing the contract changes nothing else. A worker
// claims after every wake-up, and after poll_every without one.
// ---------------------------------------------------------------------------

struct WaitContract {
    virtual ~WaitContract() = default;
    // What a worker of `queue` runs once on its connection to hear of work.
    virtual std::vector<std::string> listen(const std::string &queue) const = 0;
    // Whether notification `n` wakes that worker.
    virtual bool wakes(const PGnotify &n, const std::string &queue) const = 0;
};

// baton: a worker calls baton.listen(queue) once (LISTEN on the queue's
// channel "baton.<queue>"); from then on its claims that find nothing
// register it as waiting, and a commit that makes a job of the queue due
// notifies the channel while a worker waits (docs/contract.md).
struct BatonWait final : WaitContract {
    std::vector<std::string> listen(const std::string &queue) const override
    {
        return {"SELECT baton.listen('" + queue + "')"};
    }
    bool wakes(const PGnotify &n, const std::string &queue) const override { return queue == n.extra; }
};

// The baseline: a channel per queue too ("plain.<queue>"); only the probe
// notifies, pg_notify('plain.' || queue, queue), in its transaction.
struct PlainWait final : WaitContract {
    std::vector<std::string> listen(const std::string &queue) const override
    {
        return {"LISTEN \"plain." + queue + "\""};
    }
    bool wakes(const PGnotify &n, const std::string &queue) const override { return "plain." + queue == n.relname; }
};

const WaitContract &wait_contract(const System &sys)
{
    static const BatonWait baton_wait;
    static const PlainWait plain_wait;
    if (&sys == &baton)
        return baton_wait;
    return plain_wait;
}

// The mechanics, the same for every contract: the socket, and the
// notifications libpq read meanwhile (during a claim, say), which count too.
class Waiter {
public:
    Waiter(Conn &c, const System &sys, std::string queue)
        : c_(c), contract_(wait_contract(sys)), queue_(std::move(queue))
    {
        for (const std::string &sql : contract_.listen(queue_))
            c_.sql(sql);
    }

    // Until a notification wakes this worker (true) or `timeout` passes.
    bool wait(std::chrono::milliseconds timeout)
    {
        Clock::time_point deadline = Clock::now() + timeout;
        for (;;) {
            if (drain())
                return true;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0)
                return false;
            pollfd fd{PQsocket(c_.raw()), POLLIN, 0};
            if (poll(&fd, 1, static_cast<int>(left.count()) + 1) < 0 && errno != EINTR)
                die("poll failed");
            if (!PQconsumeInput(c_.raw()))
                die(std::string("waiting: ") + PQerrorMessage(c_.raw()));
        }
    }

private:
    bool drain()
    {
        bool woken = false;
        while (PGnotify *n = PQnotifies(c_.raw())) {
            woken = woken || contract_.wakes(*n, queue_);
            PQfreemem(n);
        }
        return woken;
    }

    Conn &c_;
    const WaitContract &contract_;
    std::string queue_;
};

// ---------------------------------------------------------------------------
// The soak's shared state.
// ---------------------------------------------------------------------------

using Samples = std::vector<std::vector<double>>;  // [tenth] -> microseconds

Samples tenth_samples() { return Samples(tenths); }

std::vector<double> merged_tenth(const std::vector<Samples> &threads, int t)
{
    std::vector<double> all;
    for (const Samples &s : threads)
        all.insert(all.end(), s[t].begin(), s[t].end());
    return all;
}

// The wake-up probe's jobs: when each commit returned and when its claim
// did (one steady clock), and the tenth it was sent in.
class Probes {
public:
    void committed(long seq, Clock::time_point at, int tenth)
    {
        std::lock_guard<std::mutex> g(m_);
        slot(seq).committed = at;
        slot(seq).tenth = tenth;
        sent_++;
    }
    void claimed(long seq, Clock::time_point at)
    {
        std::lock_guard<std::mutex> g(m_);
        if (slot(seq).claimed != Clock::time_point{})
            die("probe job " + std::to_string(seq) + " claimed twice");
        slot(seq).claimed = at;
        claimed_++;
    }
    void stop() { stopped_ = true; }
    bool all_claimed() const { return stopped_ && claimed_ == sent_; }
    long sent() const { return sent_; }

    // Wake-up latencies by the tenth each probe was sent in. A claim can
    // return before the probe's own COMMIT reply is read: that counts as 0.
    Samples latencies()
    {
        std::lock_guard<std::mutex> g(m_);
        Samples out = tenth_samples();
        for (const Probe &p : probes_)
            out[p.tenth].push_back(std::max(0.0, std::chrono::duration<double>(p.claimed - p.committed).count() * 1e6));
        return out;
    }

private:
    struct Probe {
        Clock::time_point committed, claimed;
        int tenth = 0;
    };
    Probe &slot(long seq)
    {
        if (probes_.size() <= static_cast<size_t>(seq))
            probes_.resize(seq + 1);
        return probes_[seq];
    }

    std::mutex m_;
    std::vector<Probe> probes_;
    std::atomic<long> sent_{0}, claimed_{0};
    std::atomic<bool> stopped_{false};
};

// The jobs table (and the backlog) as a tenth ends.
struct Snapshot {
    long size = 0, dead_tuples = 0, autovacuums = 0, backlog = 0;
};

Snapshot table_snapshot(Conn &c, const System &sys)
{
    Result r = c.sql("SELECT pg_total_relation_size(relid), n_dead_tup, autovacuum_count"
                     " FROM pg_stat_user_tables WHERE relid = '" + sys.table + "'::regclass");
    return {std::atol(PQgetvalue(r.get(), 0, 0)), std::atol(PQgetvalue(r.get(), 0, 1)),
            std::atol(PQgetvalue(r.get(), 0, 2)), 0};
}

struct Soak : Tenths {
    std::atomic<long> next{0};      // the next job number to hand out
    std::atomic<long> produced{0};  // committed jobs
    std::atomic<long> dead{0}, failures{0}, refused{0}, duplicates{0}, empty_claims{0}, idle_claims{0},
        janitor_deleted{0};
    std::vector<std::atomic<unsigned char>> ended;  // [job number]: finished yet
    std::vector<Samples> claim_us, enqueue_us;      // [thread][tenth]
    std::vector<Snapshot> snapshots = std::vector<Snapshot>(tenths);  // at the end of each tenth
    Probes probes;

    explicit Soak(long jobs) : ended(jobs)
    {
        total = jobs;
        claim_us.assign(soak_loop_workers + soak_lease_workers, tenth_samples());
        enqueue_us.assign(soak_app_producers, tenth_samples());
    }

    bool all_finished() const { return finished >= total; }

    // Job numbers [first, first + count) for up to `want` new jobs; count 0
    // once all are handed out.
    std::pair<long, int> reserve(int want)
    {
        long first = next;
        int count;
        do {
            count = static_cast<int>(std::min<long>(want, total - first));
            if (count <= 0)
                return {first, 0};
        } while (!next.compare_exchange_weak(first, first + count));
        return {first, count};
    }

    void wait_for_room() const
    {
        while (produced - finished > soak_cap)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }

    // Job n ended (completed, or dead): exactly once, or it is a duplicate.
    void ended_one(long n, bool is_dead)
    {
        if (n < 0 || n >= total || ended[n].exchange(1))
            duplicates++;
        if (is_dead)
            dead++;
        finish(1);
    }

    long never_ended() const
    {
        long missing = 0;
        for (const auto &e : ended)
            missing += e == 0;
        return missing;
    }
};

// A job as a claiming statement returned it.
struct Job {
    std::string id, token;
    long n;       // its payload's "n"
    int attempt;  // counting this claim
};

// The rows of a claiming statement: claimed jobs, and ids refused.
struct Claimed {
    std::vector<Job> jobs;
    std::vector<std::string> refused;

    explicit Claimed(const Result &r)
    {
        for (int row = 0; row < PQntuples(r.get()); row++) {
            if (*PQgetvalue(r.get(), row, 0) == 't') {
                refused.emplace_back(PQgetvalue(r.get(), row, 1));
                continue;
            }
            const char *payload = PQgetvalue(r.get(), row, 3), *colon = std::strchr(payload, ':');
            jobs.push_back({PQgetvalue(r.get(), row, 1), PQgetvalue(r.get(), row, 2),
                            colon ? std::atol(colon + 1) : -1, std::atoi(PQgetvalue(r.get(), row, 4))});
        }
    }
};

bool planned_failure(const Job &j) { return j.n % 200 == 0 || (j.n % 200 == 100 && j.attempt == 1); }

// baton.fail or the baseline's equivalent; a dead job has ended.
void soak_fail(Conn &c, Soak &s, const Job &j)
{
    Result r = c.run("soak_fail", {j.id.c_str(), j.token.c_str()});
    s.failures++;
    if (PQntuples(r.get()) == 0)
        s.refused++;
    else if (std::strcmp(PQgetvalue(r.get(), 0, 0), "dead") == 0)
        s.ended_one(j.n, true);
}

// Claim latency, filed under the tenth running when the call started.
template <typename Call>
Result timed_claim(Soak &s, Samples &claim_us, Call call)
{
    int t = s.now();
    Clock::time_point t0 = Clock::now();
    Result r = call();
    claim_us[t].push_back(seconds_since(t0) * 1e6);
    return r;
}

// ---------------------------------------------------------------------------
// The soak's threads.
// ---------------------------------------------------------------------------

// One job per application transaction, beside the application's own row.
void soak_app_producer(const System &sys, Soak &s, int index, const std::function<void()> &start)
{
    Conn c(sys, soak_statements(sys));
    Samples &enqueue_us = s.enqueue_us[index];
    start();
    for (;;) {
        s.wait_for_room();
        auto [n, count] = s.reserve(1);
        if (count == 0)
            break;
        std::string p = payload(n), body = "order " + std::to_string(n),
                    key = "ck" + std::to_string(n / 10 % 100);
        int t = s.now();
        Clock::time_point t0 = Clock::now();
        c.sql("BEGIN");
        c.run("soak_order", {body.c_str()});
        c.run("soak_enqueue", {soak_queue, p.c_str(), n % 10 == 3 ? key.c_str() : nullptr});
        c.sql("COMMIT");
        enqueue_us[t].push_back(seconds_since(t0) * 1e6);
        s.produced++;
    }
}

void soak_batch_producer(const System &sys, Soak &s, const std::function<void()> &start)
{
    Conn c(sys, soak_statements(sys));
    start();
    for (long batch = 0;; batch++) {
        s.wait_for_room();
        auto [first, count] = s.reserve(soak_batch_rows);
        if (count == 0)
            break;
        Batch b(sys, first, count, batch % 5 == 0);
        Result r = c.run("soak_enqueue_batch", b.params(soak_queue));
        if (PQntuples(r.get()) != count)  // keys k<n> are never reused
            die(sys.name + ": a batch of " + std::to_string(count) + " inserted " + std::to_string(PQntuples(r.get())));
        s.produced += count;
    }
}

// complete_and_claim: completes what it holds (the planned failures are
// failed first) and claims up to n more, until every job has ended.
void soak_loop_worker(const System &sys, Soak &s, int index, const std::function<void()> &start)
{
    Conn c(sys, soak_statements(sys));
    std::string worker = worker_name("loop", index), n_text = std::to_string(1 + index % 10);
    Samples &claim_us = s.claim_us[index];
    std::vector<Job> held;
    start();
    while (!(held.empty() && s.all_finished())) {
        std::vector<std::string> ids, tokens, results;
        std::vector<long> numbers;
        for (const Job &j : held) {
            if (planned_failure(j)) {
                soak_fail(c, s, j);
                continue;
            }
            ids.push_back(j.id);
            tokens.push_back(j.token);
            results.push_back("NULL");
            numbers.push_back(j.n);
        }
        std::string id_array = array_literal(ids), token_array = array_literal(tokens),
                    result_array = array_literal(results);
        Claimed got(timed_claim(s, claim_us, [&] {
            return c.run("soak_loop", {id_array.c_str(), token_array.c_str(), soak_queue, worker.c_str(),
                                       n_text.c_str(), result_array.c_str()});
        }));
        for (size_t i = 0; i < ids.size(); i++) {
            if (std::find(got.refused.begin(), got.refused.end(), ids[i]) == got.refused.end())
                s.ended_one(numbers[i], false);
        }
        s.refused += static_cast<long>(got.refused.size());
        held = std::move(got.jobs);
        if (held.empty() && ids.empty()) {  // nothing due: poll again shortly
            s.empty_claims++;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }
}

// The classic worker: claim a few, renew the leases every few jobs while
// working through them, complete (or fail) each on its own.
void soak_lease_worker(const System &sys, Soak &s, int index, const std::function<void()> &start)
{
    Conn c(sys, soak_statements(sys));
    std::string worker = worker_name("lease", index), n_text = std::to_string(soak_lease_n);
    Samples &claim_us = s.claim_us[soak_loop_workers + index];
    long handled = 0;
    start();
    while (!s.all_finished()) {
        Claimed got(timed_claim(s, claim_us,
                                [&] { return c.run("soak_claim", {soak_queue, worker.c_str(), n_text.c_str()}); }));
        if (got.jobs.empty()) {
            s.empty_claims++;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            continue;
        }
        for (size_t i = 0; i < got.jobs.size(); i++) {
            const Job &j = got.jobs[i];
            if (++handled % soak_heartbeat_every == 0) {
                Result r = c.run("heartbeat", {worker.c_str()});
                if (PQntuples(r.get()) != static_cast<int>(got.jobs.size() - i))
                    die(sys.name + ": heartbeat renewed " + std::to_string(PQntuples(r.get())) + " leases, not " +
                        std::to_string(got.jobs.size() - i));
            }
            if (planned_failure(j))
                soak_fail(c, s, j);
            else if (PQntuples(c.run("soak_complete", {j.id.c_str(), j.token.c_str()}).get()) == 1)
                s.ended_one(j.n, false);
            else
                s.refused++;
        }
    }
}

// A worker of a queue that never gets a job: it waits, and claims (nothing)
// after every wake-up and every poll.
void soak_listener(const System &sys, Soak &s, int index, const std::function<void()> &start)
{
    Conn c(sys, soak_statements(sys));
    std::string queue = "soak_idle" + std::to_string(index), worker = worker_name("idle", index);
    Waiter waiter(c, sys, queue);
    start();
    while (!s.all_finished()) {
        Claimed got(c.run("soak_claim", {queue.c_str(), worker.c_str(), "1"}));
        s.idle_claims++;
        if (!got.jobs.empty())
            die(sys.name + ": idle queue " + queue + " gave a job");
        waiter.wait(poll_every);
    }
}

// The idle worker of soak_wake: claims whenever it wakes, notes when each
// probe job's claim returned, completes it.
void soak_wake_worker(const System &sys, Soak &s, const std::function<void()> &start)
{
    Conn c(sys, soak_statements(sys));
    std::string worker = worker_name("wake", 0);
    Waiter waiter(c, sys, wake_queue);
    start();
    while (!s.probes.all_claimed()) {
        Claimed got(c.run("soak_claim", {wake_queue, worker.c_str(), "10"}));
        Clock::time_point now = Clock::now();
        for (const Job &j : got.jobs) {
            s.probes.claimed(j.n, now);
            if (PQntuples(c.run("soak_complete", {j.id.c_str(), j.token.c_str()}).get()) != 1)
                die(sys.name + ": probe job " + j.id + " refused");
        }
        if (got.jobs.empty())
            waiter.wait(poll_every);
    }
}

// One job on soak_wake every probe_every, in its own transaction.
void soak_probe(const System &sys, Soak &s, const std::function<void()> &start)
{
    Conn c(sys, soak_statements(sys));
    start();
    Clock::time_point next = Clock::now();
    for (long seq = 0; !s.all_finished(); seq++) {
        std::string p = payload(seq);
        int t = s.now();
        c.run("soak_probe", {wake_queue, p.c_str()});
        s.probes.committed(seq, Clock::now(), t);
        next += probe_every;
        std::this_thread::sleep_until(next);
    }
    s.probes.stop();
}

// The baseline's retention: what plain-SQL applications run from cron.
void soak_janitor(const System &sys, Soak &s, long keep_s, const std::function<void()> &start)
{
    std::unique_ptr<Conn> c;
    if (&sys == &plain)
        c = std::make_unique<Conn>(sys, soak_statements(sys));
    start();
    std::string keep = std::to_string(keep_s) + " seconds";
    while (c && !s.all_finished()) {
        Result r = c->run("soak_janitor", {keep.c_str()});
        s.janitor_deleted += std::atol(PQcmdTuples(r.get()));
        for (int i = 0; i < 10 && !s.all_finished(); i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

// Samples the jobs table as each tenth ends, tells progress on stderr, and
// fails the run when jobs stop finishing (a job lost leaves the rest waiting).
void soak_monitor(const System &sys, Soak &s, const std::function<void()> &start)
{
    Conn c(sys);
    start();
    long last = -1;
    Clock::time_point last_change = Clock::now();
    for (int t = 0; t < tenths;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        for (; t < tenths && s.finished >= s.boundary(t); t++) {
            Snapshot &snap = s.snapshots[t];
            snap = table_snapshot(c, sys);
            snap.backlog = s.produced - s.finished;
            std::fprintf(stderr, "   soak %s: %d%% (%ld jobs) in %.0f s, table %.0f MB\n", sys.name.c_str(),
                         10 * (t + 1), s.boundary(t), seconds_since(s.t0), static_cast<double>(snap.size) / 1048576);
        }
        if (s.finished != last) {
            last = s.finished;
            last_change = Clock::now();
        } else if (Clock::now() - last_change > stall_limit) {
            die(sys.name + ": soak stalled: no job ended for 60 s; " + std::to_string(s.finished.load()) + " of " +
                std::to_string(s.total) + " ended, " + std::to_string(s.produced.load()) + " produced, " +
                std::to_string(s.never_ended()) + " never ended");
        }
    }
}

// Tables, queues and retention; returns how finished jobs leave the table:
// "set_retention" (baton by itself), "none" (a baton without it keeps every
// finished job) or "janitor" (the baseline).
std::string soak_setup(const System &sys, long keep_s)
{
    Conn c(sys);
    c.sql("SET client_min_messages = warning");
    c.sql("CREATE SCHEMA IF NOT EXISTS soak_app");
    c.sql("CREATE TABLE IF NOT EXISTS soak_app.orders (id bigserial PRIMARY KEY, body text NOT NULL)");
    c.sql("TRUNCATE soak_app.orders");
    if (&sys == &plain)
        return "janitor";
    c.sql(std::string("SELECT baton.create_queue('") + soak_queue +
          "', '30 seconds', " SOAK_MAX_ATTEMPTS ", '" SOAK_RETRY_BASE "')");
    c.sql(std::string("SELECT baton.create_queue('") + wake_queue + "')");
    for (int i = 0; i < soak_listeners; i++)
        c.sql("SELECT baton.create_queue('soak_idle" + std::to_string(i) + "')");
    if (PQgetisnull(c.sql("SELECT to_regprocedure('baton.set_retention(text,interval)')").get(), 0, 0)) {
        std::fprintf(stderr, "   soak baton: baton.set_retention(text, interval) is absent: baton keeps every"
                             " finished job in this run (today's behaviour)\n");
        return "none";
    }
    for (const char *q : {soak_queue, wake_queue})
        c.sql(std::string("SELECT baton.set_retention('") + q + "', '" + std::to_string(keep_s) + " seconds')");
    return "set_retention";
}

// The soak starts on an empty table that has statistics, as a queue that has
// been running has: a backlog of soak_cap jobs is analyzed, then truncated
// (TRUNCATE keeps the column statistics). On a table never analyzed, the
// baseline's completions plan a scan of the whole backlog through its
// unique-key index until autovacuum's first ANALYZE, a minute or so in.
void soak_statistics(const System &sys)
{
    Conn c(sys, soak_statements(sys));
    c.sql("TRUNCATE " + sys.table);
    for (long first = 0; first < soak_cap; first += soak_batch_rows) {
        Batch b(sys, first, soak_batch_rows, false);
        c.run("soak_enqueue_batch", b.params(soak_queue));
    }
    c.sql("ANALYZE " + sys.table);
    c.sql("TRUNCATE " + sys.table);
}

// Every job ended exactly once, and none is left unfinished in the table.
void soak_check(const System &sys, const Soak &s)
{
    Conn c(sys);
    long left = scalar(c.sql("SELECT count(*) FROM " + sys.table + " WHERE queue = '" + soak_queue +
                             "' AND state IN ('ready', 'running')"));
    long missing = s.never_ended();
    // soak_check SYSTEM JOBS never_ended duplicates left_unfinished dead expected_dead
    std::printf("soak_check\t%s\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\n", sys.name.c_str(), s.total, missing,
                s.duplicates.load(), left, s.dead.load(), (s.total + 199) / 200);
    std::fflush(stdout);
    if (missing || s.duplicates || left)
        die(sys.name + ": " + std::to_string(missing) + " jobs never ended, " + std::to_string(s.duplicates.load()) +
            " ended twice, " + std::to_string(left) + " left unfinished");
}

int cmd_soak(const System &sys, long jobs, long keep_s)
{
    std::string retention = soak_setup(sys, keep_s);
    // soak_retention SYSTEM HOW KEEP_S (HOW: set_retention, none or janitor)
    std::printf("soak_retention\t%s\t%s\t%ld\n", sys.name.c_str(), retention.c_str(), keep_s);
    std::fflush(stdout);

    soak_statistics(sys);
    Soak s(jobs);
    std::vector<std::function<void(const std::function<void()> &)>> threads;
    auto add = [&](int count, auto body) {
        for (int i = 0; i < count; i++)
            threads.push_back([&s, &sys, body, i](const std::function<void()> &start) { body(sys, s, i, start); });
    };
    add(soak_app_producers, soak_app_producer);
    add(soak_loop_workers, soak_loop_worker);
    add(soak_lease_workers, soak_lease_worker);
    add(soak_listeners, soak_listener);
    auto one = [](auto body) {
        return [body](const System &sys, Soak &s, int, const std::function<void()> &start) { body(sys, s, start); };
    };
    add(1, one(soak_batch_producer));
    add(1, one(soak_wake_worker));
    add(1, one(soak_probe));
    add(1, one(soak_monitor));
    add(1, [keep_s](const System &sys, Soak &s, int, const std::function<void()> &start) {
        soak_janitor(sys, s, keep_s, start);
    });
    timed_threads(static_cast<int>(threads.size()),
                  [&](int i, const std::function<void()> &start) { threads[i](start); }, &s.t0);

    soak_check(sys, s);
    Samples wake_us = s.probes.latencies();
    for (int t = 0; t < tenths; t++) {
        std::vector<double> claims = merged_tenth(s.claim_us, t), enqueues = merged_tenth(s.enqueue_us, t);
        const Snapshot &snap = s.snapshots[t];
        // soak SYSTEM TENTH jobs/s claim_p50_ms claim_p99_ms claims enqueue_p99_ms wake_p99_ms
        //      size_bytes dead_tuples autovacuums backlog end_s
        // (the jobs table's pg_total_relation_size, n_dead_tup and autovacuum_count, and
        // the jobs produced but not ended, as the tenth ended; end_s: since the start)
        std::printf("soak\t%s\t%d\t%.0f\t%.3f\t%.3f\t%zu\t%.3f\t%.3f\t%ld\t%ld\t%ld\t%ld\t%.1f\n", sys.name.c_str(),
                    t, s.jobs_per_s(t), percentile(claims, 0.50) / 1e3, percentile(claims, 0.99) / 1e3, claims.size(),
                    percentile(enqueues, 0.99) / 1e3, percentile(wake_us[t], 0.99) / 1e3, snap.size,
                    snap.dead_tuples, snap.autovacuums, snap.backlog, s.end_s[t]);
    }
    std::vector<double> all_wake = merged(wake_us);
    // soak_total SYSTEM JOBS seconds jobs/s wake_p99_ms dead failures refused empty_claims idle_claims
    //            probes janitor_deleted
    double secs = s.end_s[tenths - 1];
    std::printf("soak_total\t%s\t%ld\t%.1f\t%.0f\t%.3f\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\n", sys.name.c_str(), jobs,
                secs, static_cast<double>(jobs) / secs, percentile(all_wake, 0.99) / 1e3, s.dead.load(),
                s.failures.load(), s.refused.load(), s.empty_claims.load(), s.idle_claims.load(), s.probes.sent(),
                s.janitor_deleted.load());
    return 0;
}

[[noreturn]] void usage()
{
    die("usage: loadgen load SYSTEM JOBS | drain SYSTEM FINISH JOBS WORKERS N |"
        " enqueue SYSTEM KIND ROWS THREADS | heartbeat SYSTEM JOBS CALLS | churn SYSTEM JOBS WORKERS N LOADED |"
        " soak SYSTEM JOBS KEEP_SECONDS");
}

} // namespace

int main(int argc, char **argv)
{
    std::vector<std::string> a(argv + 1, argv + argc);
    if (a.size() < 2)
        usage();
    const System &sys = system_named(a[1]);
    auto num = [&](size_t i) { return i < a.size() ? std::atol(a[i].c_str()) : (usage(), 0L); };
    int rc = 0;
    if (a[0] == "load" && a.size() == 3)
        rc = cmd_load(sys, num(2));
    else if (a[0] == "drain" && a.size() == 6)
        rc = cmd_drain(sys, a[2], num(3), static_cast<int>(num(4)), static_cast<int>(num(5)));
    else if (a[0] == "enqueue" && a.size() == 5)
        rc = cmd_enqueue(sys, a[2], num(3), static_cast<int>(num(4)));
    else if (a[0] == "heartbeat" && a.size() == 4)
        rc = cmd_heartbeat(sys, num(2), static_cast<int>(num(3)));
    else if (a[0] == "churn" && a.size() == 6)
        rc = cmd_churn(sys, num(2), static_cast<int>(num(3)), static_cast<int>(num(4)), num(5));
    else if (a[0] == "soak" && a.size() == 4)
        rc = cmd_soak(sys, num(2), num(3));
    else
        usage();
    std::fflush(stdout);
    return rc;
}
