// Breaks the boundary rule on purpose, so that `make check-boundary` can show
// that test/boundary/check.py catches it. Not part of the extension: it is
// compiled with the extension's flags and never linked.
//
// test/boundary/planted.sh expects check.py to fail and to print a line
// matching each "expect:" regular expression below; no function named ok_*
// may appear in its report.
#include "src/pg_boundary.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
}

using baton::pg::call;

namespace planted {

// A direct call under a std::string; DatumGetTextPP is inline Postgres code
// that calls pg_detoast_datum_packed.
// expect: planted::direct_call.* -> text_to_cstring$
// expect: planted::direct_call.* -> pg_detoast_datum_packed$
std::string direct_call(Datum d)
{
    std::string s = "prefix:";
    s += text_to_cstring(DatumGetTextPP(d));
    return s;
}

// CHECK_FOR_INTERRUPTS is a macro: its ProcessInterrupts call lands here.
// expect: planted::interrupts_in_loop.* -> ProcessInterrupts$
size_t interrupts_in_loop(const std::vector<int> &v)
{
    std::string log;
    for (int x : v) {
        CHECK_FOR_INTERRUPTS();
        log += static_cast<char>('0' + x % 10);
    }
    return log.size();
}

// A lambda, but a std::sort comparator, not one given to pg::call (wherever
// the compiler puts its code: the lambda's body or std::sort's helpers).
// expect: sort_with_postgres.* -> DirectFunctionCall2Coll$
void sort_with_postgres(std::vector<int32> &v)
{
    std::sort(v.begin(), v.end(), [](int32 a, int32 b) {
        return DatumGetInt32(DirectFunctionCall2(btint4cmp, Int32GetDatum(a), Int32GetDatum(b))) < 0;
    });
}

// A lambda given to pg::call and also called directly.
// expect: planted::called_twice.*lambda.* -> palloc  \(called inside pg::call, but also from planted::called_twice
size_t called_twice(Size n)
{
    std::string s(n, 'x');
    auto alloc = [n]() __attribute__((noinline)) { return palloc(n); };
    void *a = call(alloc);
    void *b = alloc();
    return s.size() + (a != b);
}

// Under pg::call, but the lambda owns a std::string: a Postgres error would
// longjmp over its destructor. (Seen in a frame of its own only: inlined into
// pg::call, its objects are not told from those pg::call's frame may own.)
// expect: planted::owning_lambda.*lambda.*: under pg::call, but owns C\+\+ objects with destructors
char *owning_lambda(const char *s)
{
    return call([s]() __attribute__((noinline)) {
        std::string copy(s);
        return pstrdup(copy.c_str());
    });
}

// Registered under pg::call, but Postgres calls it later from anywhere.
// expect: planted::xact_callback.* -> palloc$
void xact_callback(XactEvent, void *)
{
    std::string s = "callback";
    (void) palloc(s.size());
}

void register_callback()
{
    call([] { RegisterXactCallback(xact_callback, nullptr); });
}

// Correct code: none of it may be reported.

size_t ok_guarded(Datum d)
{
    std::string s = "prefix:";
    char *c = call([d] { return text_to_cstring(DatumGetTextPP(d)); });
    s += c;
    return s.size();
}

// A C-shaped helper called only from a lambda given to pg::call.
static __attribute__((noinline)) char *ok_helper(const char *s, int n)
{
    return psprintf("%s-%d", s, n);
}

size_t ok_through_helper(const char *s)
{
    std::string k(s);
    char *c = call([s] { return ok_helper(s, 1); });
    char *d = call([s] { return ok_helper(s, 2); });
    return k.size() + strlen(c) + strlen(d);
}

// GetCurrentTimestamp is in check.py's CANNOT_RAISE.
TimestampTz ok_cannot_raise(const std::string &s)
{
    return GetCurrentTimestamp() + static_cast<TimestampTz>(s.size());
}

// Helpers only _PG_init (C-shaped) calls are C-shaped too, if they own no
// C++ objects.
static bool setting;

static __attribute__((noinline)) void ok_define_setting()
{
    DefineCustomBoolVariable("planted.ok", nullptr, nullptr, &setting, false, PGC_USERSET, 0, nullptr, nullptr,
                             nullptr);
}

// expect: planted::owning_define_setting.*: C-shaped, but owns C\+\+ objects with destructors
static __attribute__((noinline)) void owning_define_setting()
{
    std::string name = "planted.owning";
    DefineCustomBoolVariable(name.c_str(), nullptr, nullptr, &setting, false, PGC_USERSET, 0, nullptr, nullptr,
                             nullptr);
}

} // namespace planted

extern "C" void _PG_init(void)
{
    planted::ok_define_setting();
    planted::owning_define_setting();
}
