/*
 * fuzz_pfm.c - libFuzzer harness for the PFM reader: imf_read and
 * imf_read_info on the input bytes (fuzz_common.h checks the contracts).
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_reader(data, size, IMF_FORMAT_PFM);
}
