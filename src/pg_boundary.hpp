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
// objects (an ERROR longjmps past its frame) and throws nothing (if it does,
// pg::call() puts Postgres's error stacks back and lets the exception go on
// to run_entry(), which makes it an ERROR).
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

namespace detail {

// Postgres's two error stacks as they were when the guard was made, put
// back by restore() and by the destructor: whatever way the guarded block
// is left (return, Postgres error, C++ exception), no pointer into its dead
// frame (its sigjmp_buf, an error context callback) survives it.
class StackGuard {
public:
    StackGuard() noexcept : exception_stack_(PG_exception_stack), context_stack_(error_context_stack) {}
    ~StackGuard() { restore(); }
    StackGuard(const StackGuard &) = delete;
    StackGuard &operator=(const StackGuard &) = delete;

    void restore() const noexcept
    {
        PG_exception_stack = exception_stack_;
        error_context_stack = context_stack_;
    }

private:
    sigjmp_buf *const exception_stack_;
    ErrorContextCallback *const context_stack_;
};

// After a Postgres ERROR was caught: copies it into caller_cxt, clears
// Postgres's error state and throws it as PgError.
[[noreturn]] void throw_caught_error(MemoryContext caller_cxt);

} // namespace detail

// Runs f (Postgres calls only) and turns a Postgres ERROR into PgError.
// One body serves void and value results: `return f()` may leave the
// guarded block because the guard, not a PG_TRY, owns the stacks; and
// nothing set after sigsetjmp is read after the longjmp, so no volatile.
template <typename F>
auto call(F &&f) -> decltype(f())
{
    // A plain value (Datum, pointer, integer) or void: no destructor.
    static_assert(std::is_void_v<decltype(f())> || std::is_trivially_destructible_v<decltype(f())>);
    MemoryContext caller_cxt = CurrentMemoryContext;
    try {
        detail::StackGuard guard;
        sigjmp_buf jump;
        if (sigsetjmp(jump, 0) != 0) {
            guard.restore();  // before anything here may raise again
            detail::throw_caught_error(caller_cxt);
        }
        PG_exception_stack = &jump;
        return f();
    } catch (...) {
        // Entered after the guard has put the stacks back, with the PgError
        // thrown above or a C++ exception from f (against its rule, but not
        // fatal): it goes on, unchanged, to run_entry (a nested call's
        // PgError keeps its SQLSTATE, bad_alloc is 53200, the rest XX000).
        MemoryContextSwitchTo(caller_cxt);
        throw;
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
