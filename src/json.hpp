// Reading the batch arguments: a JSON array of objects, checked in C++.
#pragma once

#include "pg_boundary.hpp"

extern "C" {
#include "utils/jsonb.h"
}

#include <string>
#include <vector>

namespace baton::json {

struct Field {
    std::string key;
    JsonbValue value;  // a scalar, or jbvBinary for a nested array/object
};
using Object = std::vector<Field>;

// The elements of `array` (a jsonb Datum), which must be a JSON array of 1 to
// max_elems objects; `name` is the argument's name for error messages.
std::vector<Object> objects(Datum array, const char *name, int max_elems);

// The JSON type name of a value, for error messages.
const char *type_name(const JsonbValue &v);

// A jsonb Datum holding the value (palloc'd).
Datum to_jsonb(const JsonbValue &v);

// The value of a JSON string as a text Datum (palloc'd).
Datum to_text(const JsonbValue &v);

// '{}' as a jsonb Datum (palloc'd): the payload of a job enqueued without one.
Datum empty_object();

} // namespace baton::json
