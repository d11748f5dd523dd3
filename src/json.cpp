#include "json.hpp"
#include "interrupts.hpp"

extern "C" {
#include "utils/builtins.h"
}

namespace baton::json {

const char *type_name(const JsonbValue &v)
{
    switch (v.type) {
    case jbvNull:
        return "null";
    case jbvString:
        return "string";
    case jbvNumeric:
        return "number";
    case jbvBool:
        return "boolean";
    case jbvBinary:
        return JsonContainerIsArray(v.val.binary.data) ? "array" : "object";
    default:
        return "value";
    }
}

static Object fields_of(JsonbContainer *container)
{
    Object out;
    JsonbIterator *it = pg::call([&] { return JsonbIteratorInit(container); });
    for (int steps = 0;; steps++) {
        check_interrupts_every(steps + 1);
        JsonbValue v;
        JsonbIteratorToken tok = pg::call([&] { return JsonbIteratorNext(&it, &v, true); });
        if (tok == WJB_DONE)
            break;
        if (tok == WJB_KEY)
            out.push_back({std::string(v.val.string.val, v.val.string.len), {}});
        else if (tok == WJB_VALUE)
            out.back().value = v;
    }
    return out;
}

std::vector<Object> objects(Datum array, const char *name, int max_elems)
{
    Jsonb *jb = pg::call([&] { return DatumGetJsonbP(array); });
    if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: %s must be a JSON array", name);
    int count = static_cast<int>(JB_ROOT_COUNT(jb));
    if (count < 1 || count > max_elems)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: %s must hold 1 to %d elements, got %d",
                    name, max_elems, count);
    std::vector<Object> out;
    out.reserve(count);
    for (int i = 0; i < count; i++) {
        check_interrupts_every(i);
        JsonbValue *elem = pg::call([&] { return getIthJsonbValueFromContainer(&jb->root, i); });
        if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
            throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "baton: %s element %d must be a JSON object, got %s", name, i + 1,
                        type_name(*elem));
        out.push_back(fields_of(elem->val.binary.data));
    }
    return out;
}

Datum to_jsonb(const JsonbValue &v)
{
    JsonbValue copy = v;
    return pg::call([&] { return PointerGetDatum(JsonbValueToJsonb(&copy)); });
}

Datum to_text(const JsonbValue &v)
{
    const char *s = v.val.string.val;
    int len = v.val.string.len;
    return pg::call([&] { return PointerGetDatum(cstring_to_text_with_len(s, len)); });
}

Datum empty_object()
{
    return pg::call([] {
        JsonbValue v;
        v.type = jbvObject;
        v.val.object.nPairs = 0;
        v.val.object.pairs = nullptr;
        return PointerGetDatum(JsonbValueToJsonb(&v));
    });
}

} // namespace baton::json
