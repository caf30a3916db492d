/* fuzz_otlp_pb.c: the OTLP/protobuf decoder of the admin receiver
 * (filters/trace/otlp_decode_pb.c): an ExportTraceServiceRequest body as
 * POST /v1/traces hands it over. The contract is in fuzz_otlp.h.
 */
#include "fuzz_otlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_otlp_check(otlp_decode_pb, data, size);
	return 0;
}
