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
//
// SYSTEM is baton or plain; FINISH is complete, batch or loop; KIND is
// single, batch or batch_unique.
#include <libpq-fe.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <latch>
#include <memory>
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

[[noreturn]] void usage()
{
    die("usage: loadgen load SYSTEM JOBS | drain SYSTEM FINISH JOBS WORKERS N |"
        " enqueue SYSTEM KIND ROWS THREADS | heartbeat SYSTEM JOBS CALLS | churn SYSTEM JOBS WORKERS N LOADED");
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
    else
        usage();
    std::fflush(stdout);
    return rc;
}
