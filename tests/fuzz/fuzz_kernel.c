/*
 * fuzz_kernel.c - libFuzzer harness for the kernel parser.
 *
 * The bytes, NUL-terminated, go to imf_kernel_from_text (kernel-file text).
 * An accepted kernel is printed to /dev/null, then printed to memory and
 * parsed again: imf_kernel_print promises text that loads back, so the copy
 * must have the same size, description, scale and weights, bit for bit.
 * Inputs without '/' also go to imf_kernel_parse (built-in names and inline
 * matrices; with a '/' the spec could name a file to open).
 */
#include "fuzz_common.h"

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_kernel(const imf_kernel *a, const imf_kernel *b, const char *text)
{
	char detail[600];
	int same = a->combine == b->combine && a->count == b->count &&
	           strcmp(a->description, b->description) == 0;
	for (size_t i = 0; same && i < a->count; i++) {
		const imf_matrix *ma = &a->m[i], *mb = &b->m[i];
		same = ma->rows == mb->rows && ma->cols == mb->cols && ma->scale == mb->scale;
		for (size_t j = 0; same && j < ma->rows * ma->cols; j++)
			same = ma->w[j] == mb->w[j];
	}
	if (!same) {
		snprintf(detail, sizeof detail, "the printed kernel reads back different:\n%s", text);
		fuzz_fail("imf_kernel_print", detail);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	imf_kernel *k = NULL, *k2 = NULL;
	imf_error err = { 0 };
	imf_status st;
	char *text, *printed = NULL;
	size_t plen = 0;
	FILE *mem;

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	if (!(text = fuzz_strdup(data, size)))
		return 0;
	st = imf_kernel_from_text(text, "fuzz", &k, &err);
	fuzz_check_error(st, &err, 0, "imf_kernel_from_text");
	if (st == IMF_OK) {
		if (!k)
			fuzz_fail("imf_kernel_from_text", "OK without a kernel");
		if (imf_kernel_print(k, devnull) != 0)
			fuzz_fail("imf_kernel_print", "failed on /dev/null");
		if (!(mem = open_memstream(&printed, &plen)))
			abort();
		if (imf_kernel_print(k, mem) != 0)
			fuzz_fail("imf_kernel_print", "failed on a memstream");
		fclose(mem);
		st = imf_kernel_from_text(printed, "fuzz", &k2, &err);
		if (st != IMF_OK) {
			char detail[600];
			snprintf(detail, sizeof detail, "printed kernel does not load: %s\n%s", err.msg,
			         printed);
			fuzz_fail("imf_kernel_print", detail);
		}
		same_kernel(k, k2, printed);
		imf_kernel_free(k2);
		free(printed);
	}
	imf_kernel_free(k);

	if (!memchr(data, '/', size)) {
		k = NULL;
		st = imf_kernel_parse(text, &k, &err);
		fuzz_check_error(st, &err, 0, "imf_kernel_parse");
		if (st == IMF_OK && imf_kernel_print(k, devnull) != 0)
			fuzz_fail("imf_kernel_print", "failed on /dev/null");
		imf_kernel_free(k);
	}
	free(text);
	return 0;
}
