// run_entry(): the catch-all between Postgres and baton's C++ code; and
// what pg::call() does once it has caught a Postgres error.
#include "pg_boundary.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>

#include "notify.hpp"
#include "vacuum.hpp"

extern "C" {
#include "mb/pg_wchar.h"
#include "utils/elog.h"
#include "utils/guc.h"
PG_MODULE_MAGIC;

// Called by Postgres when the library is loaded. It raises through
// Postgres's own error handling: no C++ object lives in this frame.
PGDLLEXPORT void _PG_init(void);
void _PG_init(void)
{
    baton::notify::define_settings();
    baton::vacuum::define_settings();
    MarkGUCPrefixReserved("baton");
}
}

namespace baton {

Error::Error(int sqlstate, const char *fmt, ...) : sqlstate_(sqlstate)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message_, sizeof message_, fmt, ap);
    va_end(ap);
}

// Raised outside any catch block: ereport() longjmps, and a longjmp out of a
// catch handler would leave the C++ runtime's exception state behind.
[[noreturn]] static void raise(int sqlstate, char *message);
static void raise(int sqlstate, char *message)
{
    // snprintf may have cut the message inside a multibyte character.
    int len = static_cast<int>(strlen(message));
    message[pg_mbcliplen(message, len, len)] = '\0';
    ereport(ERROR, (errcode(sqlstate), errmsg("%s", message)));
    pg_unreachable();
}

Datum run_entry(FunctionCallInfo fcinfo, EntryBody body)
{
    // Filled inside the handlers without calling Postgres.
    static char message[512];
    ErrorData *pg_error = nullptr;
    int sqlstate = 0;

    try {
        return body(fcinfo);
    } catch (const PgError &e) {
        pg_error = e.edata;
    } catch (const Error &e) {
        sqlstate = e.sqlstate();
        snprintf(message, sizeof message, "%s", e.what());
    } catch (const std::bad_alloc &) {
        sqlstate = ERRCODE_OUT_OF_MEMORY;
        snprintf(message, sizeof message, "baton: out of memory");
    } catch (const std::exception &e) {
        sqlstate = ERRCODE_INTERNAL_ERROR;
        snprintf(message, sizeof message, "baton: internal error: %s", e.what());
    } catch (...) {
        sqlstate = ERRCODE_INTERNAL_ERROR;
        snprintf(message, sizeof message, "baton: internal error: unknown C++ exception");
    }
    if (pg_error)
        ReThrowError(pg_error);
    raise(sqlstate, message);
}

namespace pg::detail {

// Called by pg::call() when its sigsetjmp returns from an ERROR's longjmp,
// the stacks already put back: the error now belongs to the caller, as in a
// PG_CATCH block.
void throw_caught_error(MemoryContext caller_cxt)
{
    MemoryContextSwitchTo(caller_cxt);
    ErrorData *edata = CopyErrorData();
    FlushErrorState();
    throw PgError{edata};
}

} // namespace pg::detail

} // namespace baton
