/*
 * fuzz_chain.c - libFuzzer harness for the stage language.
 *
 * The bytes, NUL-terminated, go to imf_chain_parse; an accepted chain gets
 * the --dry-run report for a fixed 64x48x3 input (and a 5x4x1 one, where
 * most stages do not fit) written to memory, and, when it is runnable, is
 * run on a small image under small limits.  Specs that could name a device
 * or a kernel file outside the working folder are skipped: a spec may be a
 * path, and /dev/stdin or a FIFO would block.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void report(const imf_chain *c, size_t w, size_t h, size_t ch)
{
	imf_error err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (!mem)
		abort();
	imf_status st = imf_chain_report(c, w, h, ch, mem, &err);
	fuzz_check_error(st, &err, 0, "imf_chain_report");
	fclose(mem);
	free(buf);
}

static void run_small(imf_chain *c)
{
	imf_limits lim;
	imf_image *in = NULL, *out = NULL;
	imf_error err = { 0 };

	if (imf_chain_shape_only(c))
		return;
	imf_limits_default(&lim);
	lim.max_pixels = 1 << 16;
	lim.max_side = 4096;
	imf_chain_set_limits(c, &lim);
	if (imf_image_new(9, 7, 1, 0, NULL, &in, &err) != IMF_OK)
		abort();
	for (size_t y = 0; y < 7; y++)
		for (size_t x = 0; x < 9; x++)
			imf_image_row(in, 0, y)[x] = (float)((x * 37 + y * 91) % 256);
	imf_status st = imf_chain_run(c, in, &out, &err);
	fuzz_check_error(st, &err, 0, "imf_chain_run");
	imf_image_free(out);
	imf_image_free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	imf_chain *c = NULL;
	imf_error err = { 0 };
	char *text;

	if (!(text = fuzz_strdup(data, size)))
		return 0;
	if (strstr(text, "/dev") || strstr(text, "/proc") || strstr(text, "/sys") ||
	    strstr(text, "..")) {
		free(text);
		return -1;
	}
	imf_status st = imf_chain_parse(text, &c, &err);
	fuzz_check_error(st, &err, 0, "imf_chain_parse");
	if (st == IMF_OK) {
		report(c, 64, 48, 3);
		report(c, 5, 4, 1);
		run_small(c);
	}
	imf_chain_free(c);
	free(text);
	return 0;
}
