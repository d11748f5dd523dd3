// The wake-up: NOTIFY baton, '<queue>' at the commit of a call that makes a
// job due now, unless the setting baton.notify is off.
#pragma once

#include "pg_boundary.hpp"

namespace baton::notify {

// Defines baton.notify; called once, when the library is loaded (_PG_init).
void define_settings();

// NOTIFY baton, '<queue>' at commit (Postgres folds duplicates into one).
void due(Datum queue_text);

} // namespace baton::notify
