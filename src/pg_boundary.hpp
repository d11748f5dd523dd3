// The one place where C++ and PostgreSQL meet.
//
// Two rules keep a backend alive:
//  1. No C++ exception may reach Postgres: every SQL-callable symbol is
//     defined with BATON_FUNCTION, whose body runs inside run_entry(); it
//     catches everything and raises an ERROR only after leaving the catch.
//  2. No ereport() longjmp may skip a C++ destructor: code that owns C++
//     objects calls Postgres only through pg::call(), which catches the
//     Postgres error, rethrows it as baton::PgError, and lets run_entry()
//     re-raise it with its SQLSTATE, detail and hint intact.
// A lambda given to pg::call() holds only Postgres calls: it owns no C++
// objects and throws nothing.
#pragma once

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "fmgr.h"
}

#include <exception>
#include <type_traits>

namespace baton {

// A Postgres error caught under C++ frames; the ErrorData lives in the
// memory context that was current when pg::call() was entered.
struct PgError {
    ErrorData *edata;
};

// An error baton raises itself: SQLSTATE (a MAKE_SQLSTATE value) and text.
class Error : public std::exception {
public:
    Error(int sqlstate, const char *fmt, ...) pg_attribute_printf(3, 4);
    const char *what() const noexcept override { return message_; }
    int sqlstate() const { return sqlstate_; }

private:
    int sqlstate_;
    char message_[512];
};

using EntryBody = Datum (*)(FunctionCallInfo);
Datum run_entry(FunctionCallInfo fcinfo, EntryBody body);

namespace pg {

// Runs f (Postgres calls only) and turns a Postgres ERROR into PgError.
template <typename F>
auto call(F &&f) -> decltype(f())
{
    using R = decltype(f());
    MemoryContext caller_cxt = CurrentMemoryContext;
    ErrorData *volatile edata = nullptr;
    if constexpr (std::is_void_v<R>) {
        PG_TRY();
        {
            f();
        }
        PG_CATCH();
        {
            MemoryContextSwitchTo(caller_cxt);
            edata = CopyErrorData();
            FlushErrorState();
        }
        PG_END_TRY();
        if (edata)
            throw PgError{edata};
    } else {
        // R is a plain value (Datum, pointer, integer): no destructor.
        static_assert(std::is_trivially_destructible_v<R>);
        volatile R result{};
        PG_TRY();
        {
            result = f();
        }
        PG_CATCH();
        {
            MemoryContextSwitchTo(caller_cxt);
            edata = CopyErrorData();
            FlushErrorState();
        }
        PG_END_TRY();
        if (edata)
            throw PgError{edata};
        return result;
    }
}

} // namespace pg
} // namespace baton

// Defines an SQL-callable function `name` whose body is C++ run behind the
// boundary. Use: BATON_FUNCTION(baton_claim) { ...; return datum; }
#define BATON_FUNCTION(name)                                                 \
    static Datum name##_body(FunctionCallInfo fcinfo);                       \
    extern "C" {                                                             \
    PG_FUNCTION_INFO_V1(name);                                               \
    Datum name(PG_FUNCTION_ARGS)                                             \
    {                                                                        \
        return baton::run_entry(fcinfo, name##_body);                        \
    }                                                                        \
    }                                                                        \
    static Datum name##_body(FunctionCallInfo fcinfo)
