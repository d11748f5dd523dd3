#include "result.hpp"

extern "C" {
#include "utils/tuplestore.h"
}

namespace baton {

ResultRows::ResultRows(FunctionCallInfo fcinfo, bool scalar)
{
    bits32 flags = scalar ? MAT_SRF_USE_EXPECTED_DESC : 0;
    pg::call([&] { InitMaterializedSRF(fcinfo, flags); });
    rsinfo_ = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
}

void ResultRows::add(const Datum *values, const bool *nulls)
{
    pg::call([&] {
        tuplestore_putvalues(rsinfo_->setResult, rsinfo_->setDesc, const_cast<Datum *>(values),
                             const_cast<bool *>(nulls));
    });
}

} // namespace baton
