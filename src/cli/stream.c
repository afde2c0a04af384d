/*
 * stream.c - read -> intensity -> convolve -> write in bands of rows.
 *
 * A single convolution (-k) needs only the input rows under the kernel to
 * make a row of output, so a file goes through in bands of output rows.
 * For band i the reader fills an input window with the rows the band reads
 * (the rows it shares with band i-1 are copied from that band's window, the
 * rest decoded, and turned into luma when asked), the engine makes the
 * band's output rows (its threads splitting the band), and the writer
 * encodes them.  Memory depends on the width and the kernel, not on the
 * height.
 *
 * With -j N, N workers (the calling thread is one) each take the next band
 * and carry it through: read it when the band before has been read,
 * compute it, write it when the band before has been written.  A writer
 * that can encode bands apart (PNG: its deflate is most of the work) has
 * the worker encode its band before its turn, so only appending the bytes
 * waits for the order.  Reading and
 * writing stay in order, one band at a time, while the other workers
 * compute theirs, and a band's rows stay in the cache of the core that read
 * them.  With -j 1 the one worker does read, compute, write, band after
 * band.  Every band is computed by the same code from the same rows
 * whoever runs it, so the output is identical, byte for byte, for every
 * -j, and identical to the whole-image path's; the tests hold them
 * together.
 *
 * Where the file allows it, the turns go: a reader with random access (a
 * raw netpbm raster in a regular file) lets every worker read its band's
 * whole window where it lies, at once (rows a band shares with the next
 * are read twice, which costs less than waiting); a writer with random
 * access too (netpbm out to a regular file) takes each encoded band at its
 * place, one worker writing at a time while the others queue their bands
 * for it and go on computing.  The bytes are the same either way.
 *
 * Formats that cannot stream are held whole by their reader or writer (the
 * library says which); --verbose says so.
 */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Encoded bands waiting for the writer, per worker, before workers wait too. */
#define PUT_QUEUE_PER_WORKER 2

/* How long a worker started on a CPU of its own waits there for the first band. */
#define CREW_SPIN_S 0.002

/* Output rows per band: about this many bytes, at least BAND_MIN_ROWS. */
#define BAND_BYTES (1u << 18)
#define BAND_MIN_ROWS 16

typedef struct window {
	imf_image *img;
	size_t lo, hi; /* it holds input rows lo .. hi-1 (from row 0) */
} window;

typedef struct pipe_state {
	const cli_opts *o;
	const char *in_name, *out_name;
	imf_reader *r;
	imf_info info;
	imf_conv_stream *s;
	imf_writer *w;
	cli_output *dst;
	size_t ow, oh, band, nbands;
	size_t read_rows;    /* input rows decoded so far */
	imf_image **raw;     /* gray from colour: the reader's rows before luma (else NULL),
	                        one per worker when reading at the place */
	size_t nthreads;
	size_t nin;          /* windows: nthreads + 1 in order (see worker_main), else one a worker */
	int at_place_in;     /* bands read at their place (imf_reader_read_at), no turns */
	int at_place_out;    /* bands written at their place (imf_writer_put_at), no turns */
	window *in;
	imf_image **out;     /* one output band per worker */

	/* The pipeline's progress, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t next, nread, nwritten; /* bands taken by a worker, read, written */
	size_t block;                 /* imf_writer_block_rows: encoded by the workers */
	/*
	 * Writing at the place: one worker at a time writes (two would only
	 * queue on the file's lock, spinning); bands finished meanwhile wait
	 * in queue for it, and the others go on computing.
	 */
	int writing;
	imf_encoded **queue; /* PUT_QUEUE_PER_WORKER * nthreads */
	size_t queued, queue_cap;
	int failed; /* some step failed and reported it: everyone stops */
	int rc;     /* the exit status of the failure */

	/*
	 * The crew: worker threads started during the setup, waiting until
	 * run_bands lets them go (see crew_start); go and cancel under mu,
	 * released set with either for the workers spinning.
	 */
	pthread_t tid[IMF_MAX_THREADS];
	struct worker_arg *args;
	size_t started;
	int go, cancel;
	atomic_int released;
	int cpu[IMF_MAX_THREADS]; /* each worker's CPU (-1: none of its own): set by crew_start
	                             before the threads start, then under mu */
} pipe_state;

typedef struct worker_arg {
	pipe_state *ps;
	size_t slot; /* the engine buffers this worker computes with */
} worker_arg;

static void band_rows(const pipe_state *ps, size_t i, size_t *oy, size_t *n)
{
	*oy = i * ps->band;
	*n = ps->oh - *oy < ps->band ? ps->oh - *oy : ps->band;
}

/*
 * Decode the next n input rows into rows at .. at+n-1 of dst (which has room
 * for them), through raw when making luma.
 */
static imf_status decode(pipe_state *ps, imf_image *dst, size_t at, size_t n, imf_error *err)
{
	imf_status st;
	if (n == 0)
		return IMF_OK;
	if (ps->raw) {
		if ((st = imf_reader_read(ps->r, ps->raw[0], 0, n, err)) != IMF_OK)
			return st;
		imf_image_luma_rows(ps->raw[0], 0, dst, at, n);
	} else if ((st = imf_reader_read(ps->r, dst, at, n, err)) != IMF_OK) {
		return st;
	}
	ps->read_rows += n;
	return IMF_OK;
}

/* Decode and drop the input rows up to row end, using dst as scratch. */
static imf_status skip_to(pipe_state *ps, imf_image *dst, size_t end, imf_error *err)
{
	imf_status st;
	while (ps->read_rows < end) {
		size_t m = end - ps->read_rows, cap = imf_image_height(dst);
		if ((st = decode(ps, dst, 0, m < cap ? m : cap, err)) != IMF_OK)
			return st;
	}
	return IMF_OK;
}

/*
 * Fill band i's window: the rows it shares with band i-1's window are
 * copied from there, rows no band reads (strides) are decoded into the
 * window and dropped, the rest decoded.  Bands move down the image, so the
 * rows wanted never go back.
 */
static imf_status fill_window(pipe_state *ps, size_t i, imf_error *err)
{
	window *win = &ps->in[i % ps->nin];
	const window *prev = i > 0 ? &ps->in[(i - 1) % ps->nin] : NULL;
	size_t oy, n, lo, hi, at = 0;
	imf_status st;

	band_rows(ps, i, &oy, &n);
	imf_conv_stream_input_rows(ps->s, oy, n, &lo, &hi);
	if (hi <= lo) { /* only zero padding under this band */
		win->lo = win->hi = ps->read_rows;
		return IMF_OK;
	}
	if (hi < ps->read_rows)
		hi = ps->read_rows;
	if (prev && lo < prev->lo)
		return imf_error_set(err, IMF_EINVAL, "internal: band window moved backwards");
	if (prev && lo < prev->hi) {
		at = prev->hi - lo;
		for (int c = 0; c < imf_image_channels(win->img); c++)
			for (size_t y = 0; y < at; y++)
				memcpy(imf_image_row(win->img, c, y),
				       imf_image_row_const(prev->img, c, prev->hi - prev->lo - at + y),
				       imf_image_width(win->img) * sizeof(float));
	}
	/* Rows between windows (strides) are decoded, not kept. */
	if ((st = skip_to(ps, win->img, lo, err)) != IMF_OK)
		return st;
	if ((st = decode(ps, win->img, at, hi - ps->read_rows, err)) != IMF_OK)
		return st;
	win->lo = lo;
	win->hi = hi;
	return IMF_OK;
}

/*
 * Fill worker slot's window with every input row band i reads, at their
 * place in the file: no order, no rows shared with other windows.
 */
static imf_status fill_window_at(pipe_state *ps, size_t i, size_t slot, imf_error *err)
{
	window *win = &ps->in[slot];
	size_t oy, n, lo, hi;
	imf_status st;

	band_rows(ps, i, &oy, &n);
	imf_conv_stream_input_rows(ps->s, oy, n, &lo, &hi);
	win->lo = win->hi = 0;
	if (hi <= lo) /* only zero padding under this band */
		return IMF_OK;
	if (ps->raw) {
		if ((st = imf_reader_read_at(ps->r, ps->raw[slot], 0, lo, hi - lo, err)) != IMF_OK)
			return st;
		imf_image_luma_rows(ps->raw[slot], 0, win->img, 0, hi - lo);
	} else if ((st = imf_reader_read_at(ps->r, win->img, 0, lo, hi - lo, err)) != IMF_OK) {
		return st;
	}
	win->lo = lo;
	win->hi = hi;
	return IMF_OK;
}

/* Band i's input window: worker slot's own when reading at the place. */
static window *band_window(pipe_state *ps, size_t i, size_t slot)
{
	return &ps->in[ps->at_place_in ? slot : i % ps->nin];
}

static imf_status compute_band(pipe_state *ps, size_t i, size_t slot, imf_error *err)
{
	const window *win = band_window(ps, i, slot);
	size_t oy, n;
	band_rows(ps, i, &oy, &n);
	return imf_conv_stream_run_part(ps->s, slot, win->img, win->lo, ps->out[slot], oy, n, err);
}

/* The writer's encoding, on this worker (ps->block > 0). */
static imf_status encode_band(pipe_state *ps, size_t i, size_t slot, imf_encoded **out,
                              imf_error *err)
{
	size_t oy, n;
	band_rows(ps, i, &oy, &n);
	return imf_writer_encode(ps->w, ps->out[slot], 0, n, oy, out, err);
}

static imf_status write_band(pipe_state *ps, size_t i, size_t slot, imf_error *err)
{
	size_t oy, n;
	band_rows(ps, i, &oy, &n);
	return imf_writer_write(ps->w, ps->out[slot], 0, n, err);
}

/* Report a failed step once (call with mu held); later failures stay quiet. */
static void fail_locked(pipe_state *ps, const char *who, const imf_error *err, int rc, int quiet)
{
	if (!ps->failed) {
		ps->failed = 1;
		ps->rc = rc;
		if (!quiet)
			cli_error(who, "%s", err->msg);
	}
	pthread_cond_broadcast(&ps->cv);
}

/* A reader that went away (EPIPE, when SIGPIPE is ignored) is a quiet failure. */
static int write_quiet(const pipe_state *ps)
{
	return errno == EPIPE && ferror(cli_output_file(ps->dst));
}

/* ---- the pipeline -------------------------------------------------------------- */

/*
 * Write enc at its place (called with mu held, returned with it held).  If
 * another worker is writing, leave enc in its queue and go on; otherwise
 * write it, and then whatever the others queued meanwhile.  0 after a
 * failure (reported).
 */
static int put_at_place(pipe_state *ps, imf_encoded *enc)
{
	imf_error err = { 0 };

	/* A full queue waits; the writer may finish meanwhile, and then this one writes. */
	while (!ps->failed && ps->writing && ps->queued == ps->queue_cap)
		pthread_cond_wait(&ps->cv, &ps->mu);
	if (ps->failed) {
		imf_encoded_free(enc);
		return 0;
	}
	if (ps->writing) {
		ps->queue[ps->queued++] = enc;
		return 1;
	}
	ps->writing = 1;
	while (enc && !ps->failed) {
		pthread_mutex_unlock(&ps->mu);
		imf_status st = imf_writer_put_at(ps->w, enc, &err); /* frees enc */
		pthread_mutex_lock(&ps->mu);
		enc = NULL;
		if (st != IMF_OK) {
			fail_locked(ps, ps->out_name, &err, EXIT_BAD_INPUT, 0);
			break;
		}
		enc = ps->queued > 0 ? ps->queue[--ps->queued] : NULL;
		pthread_cond_broadcast(&ps->cv);
	}
	imf_encoded_free(enc); /* stopped by another's failure (the queue is freed at the end) */
	ps->writing = 0;
	return !ps->failed;
}

/* Wait (mu held) until *counter reaches i or the pipeline failed; 0 on failure. */
static int wait_turn(pipe_state *ps, const size_t *counter, size_t i)
{
	while (!ps->failed && *counter != i)
		pthread_cond_wait(&ps->cv, &ps->mu);
	return !ps->failed;
}

/*
 * One worker: take the next band, read it in its turn, compute it, write it
 * in its turn; until no band is left.  Windows are safe without more
 * waiting: a worker takes band b only after finishing its last one, and
 * band j is written only after every earlier band, so when b is taken all
 * bands up to b - nthreads are written; the window b shares with band
 * b - (nthreads + 1) is free, and band b-1's window (whose rows band b may
 * copy) is not reused before band b is read.  Reading at the place, each
 * worker has a window of its own, and nothing depends on the order.
 */
static void *worker_main(void *arg)
{
	pipe_state *ps = ((worker_arg *)arg)->ps;
	const size_t slot = ((worker_arg *)arg)->slot;
	imf_encoded *enc = NULL;
	imf_error err = { 0 };
	imf_status st;

	pthread_mutex_lock(&ps->mu);
	while (!ps->failed && ps->next < ps->nbands) {
		const size_t b = ps->next++;
		if (cli_stop_signal()) {
			fail_locked(ps, NULL, &err, EXIT_BAD_INPUT, 1);
			break;
		}
		if (ps->at_place_in) {
			pthread_mutex_unlock(&ps->mu);
			st = fill_window_at(ps, b, slot, &err);
		} else {
			if (!wait_turn(ps, &ps->nread, b))
				break;
			pthread_mutex_unlock(&ps->mu);
			st = fill_window(ps, b, &err);
			pthread_mutex_lock(&ps->mu);
			if (st == IMF_OK) {
				ps->nread++;
				pthread_cond_broadcast(&ps->cv);
			}
			pthread_mutex_unlock(&ps->mu);
		}
		if (st != IMF_OK) {
			pthread_mutex_lock(&ps->mu);
			fail_locked(ps, ps->in_name, &err, EXIT_BAD_INPUT, 0);
			break;
		}

		st = compute_band(ps, b, slot, &err);
		const char *who = ps->in_name;
		if (st == IMF_OK && ps->block > 0) {
			st = encode_band(ps, b, slot, &enc, &err);
			who = ps->out_name;
		}
		pthread_mutex_lock(&ps->mu);
		if (st == IMF_OK && ps->at_place_out) {
			/* No turn: the band goes to its place, now or from the queue. */
			int ok = put_at_place(ps, enc);
			enc = NULL;
			if (!ok)
				break;
			continue;
		}
		if (st != IMF_OK) {
			fail_locked(ps, who, &err, EXIT_BAD_INPUT, 0);
			break;
		}
		if (!wait_turn(ps, &ps->nwritten, b))
			break;
		pthread_mutex_unlock(&ps->mu);
		if (enc) {
			st = imf_writer_put(ps->w, enc, &err);
			enc = NULL;
		} else {
			st = write_band(ps, b, slot, &err);
		}
		int quiet = st != IMF_OK && write_quiet(ps);
		pthread_mutex_lock(&ps->mu);
		if (st != IMF_OK) {
			fail_locked(ps, ps->out_name, &err, EXIT_BAD_INPUT, quiet);
			break;
		}
		ps->nwritten++;
		pthread_cond_broadcast(&ps->cv);
	}
	pthread_mutex_unlock(&ps->mu);
	imf_encoded_free(enc); /* a band encoded, then abandoned */
	return NULL;
}

/* Spin until the crew is released, for at most CREW_SPIN_S; 1 if it was. */
static int crew_spin(pipe_state *ps)
{
	struct timespec t0, t;
	if (clock_gettime(CLOCK_MONOTONIC, &t0) != 0)
		return 0;
	for (unsigned i = 1;; i++) {
		if (atomic_load_explicit(&ps->released, memory_order_acquire))
			return 1;
		cli_cpu_pause();
		if (i % 64 == 0 &&
		    (clock_gettime(CLOCK_MONOTONIC, &t) != 0 || cli_seconds_between(&t0, &t) > CREW_SPIN_S))
			return 0;
	}
}

/*
 * A crew thread: wait until run_bands lets the crew go, then work (or
 * leave).  One started on a CPU of its own waits there, spinning; one that
 * had to sleep checks where it was woken (see crew_start).
 */
static void *crew_main(void *arg)
{
	pipe_state *ps = ((worker_arg *)arg)->ps;
	const size_t slot = ((worker_arg *)arg)->slot;
	int work, here = -1, cpu = -1;
	int spun = ps->cpu[slot] >= 0 && crew_spin(ps); /* cpu[slot]: set before the start */

	pthread_mutex_lock(&ps->mu);
	while (!ps->go && !ps->cancel)
		pthread_cond_wait(&ps->cv, &ps->mu);
	work = !ps->cancel && slot < ps->nthreads;
	if (work && !spun) {
		/* Not on a CPU another worker holds (see cpus.c). */
		here = cli_cpu_current();
		ps->cpu[slot] = -1;
		cpu = ps->cpu[slot] = cli_cpu_claim(here, ps->cpu, ps->nthreads);
	}
	pthread_mutex_unlock(&ps->mu);
	if (work && cpu != here)
		(void)cli_cpu_move(cpu);
	return work ? worker_main(arg) : NULL;
}

/*
 * Start n - 1 worker threads (slots 1..n-1) before the rest of the setup.
 * A new thread is queued on the CPU of the thread that made it, and a
 * sleeping one that is woken often on the CPU of the thread that woke it;
 * either moves to an idle CPU only when the scheduler next balances the
 * load, up to a clock tick later (measured on a 2-CPU virtual machine: 1 to
 * 5 ms, a tenth of goal 7's whole run; README, goal 7).  So each worker is
 * started on a CPU no other worker holds (cli_thread_start_on), and waits
 * for the first band there spinning, which for the setup's fraction of a
 * millisecond costs nothing another thread could have used; released, it
 * starts at once.  Past CREW_SPIN_S it sleeps, as do workers with no CPU
 * of their own (more workers than CPUs), and a sleeper woken where another
 * worker runs moves to a free CPU (crew_main).  A thread that cannot start
 * leaves its share to the others.
 */
static void crew_start(pipe_state *ps, worker_arg *args, size_t n)
{
	for (size_t t = 0; t < n; t++)
		args[t] = (worker_arg){ ps, t };
	ps->args = args;
	ps->cpu[0] = cli_cpu_current();
	for (size_t t = 1; t < n; t++) {
		/* A free CPU of the mask, or none (-1): every one has a worker. */
		int cpu = cli_cpu_claim(ps->cpu[0], ps->cpu, t);
		int bound = 0;
		ps->cpu[t] = cpu != ps->cpu[0] ? cpu : -1;
		if (cli_thread_start_on(&ps->tid[ps->started], crew_main, &args[t], ps->cpu[t],
		                        &bound) == 0)
			ps->started++;
		/* Not bound (not started, or affinity refused): it holds no CPU, and sleeps. */
		if (!bound)
			ps->cpu[t] = -1;
	}
}

/* Let the crew go (go: to work, worker 0 being the caller; else home). */
static void crew_release(pipe_state *ps, int go)
{
	pthread_mutex_lock(&ps->mu);
	if (go) {
		ps->cpu[0] = cli_cpu_current();
		ps->go = 1;
	} else {
		ps->cancel = !ps->go;
	}
	atomic_store_explicit(&ps->released, 1, memory_order_release);
	pthread_cond_broadcast(&ps->cv);
	pthread_mutex_unlock(&ps->mu);
}

/* Send the crew home (setup failed, or all done) and wait for it. */
static void crew_stop(pipe_state *ps)
{
	crew_release(ps, 0);
	for (size_t t = 0; t < ps->started; t++)
		pthread_join(ps->tid[t], NULL);
	ps->started = 0;
}

/* Every band through read, compute and write; 0 after a failure (reported). */
static int run_bands(pipe_state *ps)
{
	crew_release(ps, 1);
	worker_main(&ps->args[0]);
	crew_stop(ps);
	return !ps->failed;
}

/* ---- setup -------------------------------------------------------------------- */

/* The most input rows one band reads. */
static size_t window_rows(const pipe_state *ps)
{
	size_t most = 1;
	for (size_t i = 0; i < ps->nbands; i++) {
		size_t oy, n, lo, hi;
		band_rows(ps, i, &oy, &n);
		imf_conv_stream_input_rows(ps->s, oy, n, &lo, &hi);
		if (hi > lo && hi - lo > most)
			most = hi - lo;
	}
	return most;
}

/* How the file is processed, for --verbose; a batch keeps to one line a file. */
static void verbose_line(const pipe_state *ps, const char *what)
{
	char line[1024];
	if (!ps->o->verbose || ps->o->batch)
		return;
	snprintf(line, sizeof line, "%s: %s", ps->in_name, what);
	cli_message(line);
}

int cli_stream_file(const cli_opts *o, const imf_kernel *k, const imf_conv_params *p,
                    imf_reader *r, imf_format fmt, int *fallback)
{
	pipe_state ps;
	worker_arg args[IMF_MAX_THREADS];
	imf_error err = { 0 };
	size_t threads = p->threads ? p->threads : 1, row_bytes, wrows;
	imf_conv_params pp = *p;
	int och, oalpha, ich, ialpha, gray, rc = EXIT_BAD_INPUT;

	memset(&ps, 0, sizeof ps);
	atomic_init(&ps.released, 0);
	*fallback = 0;
	ps.o = o;
	ps.in_name = strcmp(o->input, "-") == 0 ? "<stdin>" : o->input;
	ps.out_name = strcmp(o->output, "-") == 0 ? "<stdout>" : o->output;
	ps.r = r;
	imf_reader_info(r, &ps.info);
	gray = o->channels == CLI_CHANNELS_GRAY && ps.info.channels > 1;
	ich = gray ? 1 : ps.info.channels;
	ialpha = gray ? 0 : ps.info.has_alpha;
	if (pthread_mutex_init(&ps.mu, NULL) != 0 || pthread_cond_init(&ps.cv, NULL) != 0) {
		cli_error(ps.in_name, "cannot start threads");
		return EXIT_BAD_INPUT; /* (no cleanup: neither exists on this path in practice) */
	}
	/* One engine slot per worker; each band runs on one worker. */
	threads = threads > IMF_MAX_THREADS ? IMF_MAX_THREADS : threads;
	pp.threads = threads;
	if (imf_conv_stream_new(k, &pp, ps.info.width, ps.info.height, ich, ialpha, &ps.s, &err) !=
	    IMF_OK) {
		cli_error(ps.in_name, "%s", err.msg);
		rc = err.code == IMF_EINVAL ? EXIT_USAGE : EXIT_BAD_INPUT;
		goto done;
	}
	if (!imf_conv_stream_bounded(ps.s)) {
		verbose_line(&ps, "holding the whole image: a wrap border (or padding past the "
		                  "image) reads the far edge");
		*fallback = 1;
		goto done;
	}
	imf_conv_stream_output(ps.s, &ps.ow, &ps.oh, &och, &oalpha);
	if (cli_output_open(o->output, &ps.dst) != 0)
		goto done;
	if (imf_writer_open(cli_output_file(ps.dst), fmt, ps.ow, ps.oh, och, oalpha, ps.info.format,
	                    ps.info.depth, &o->write, &ps.w, &err) != IMF_OK) {
		cli_error(ps.out_name, "%s", err.msg);
		goto done;
	}
	row_bytes = ps.ow * (size_t)och * sizeof(float);
	ps.band = BAND_BYTES / row_bytes;
	if (ps.band < BAND_MIN_ROWS)
		ps.band = BAND_MIN_ROWS;
	/* A writer that encodes on the workers (PNG) takes whole blocks of rows. */
	ps.block = imf_writer_block_rows(ps.w);
	if (ps.block > 0 && ps.band % ps.block != 0)
		ps.band += ps.block - ps.band % ps.block;
	if (ps.band > ps.oh)
		ps.band = ps.oh;
	ps.nbands = (ps.oh + ps.band - 1) / ps.band;
	wrows = window_rows(&ps);
	/* More workers than bands would only wait. */
	ps.nthreads = threads < ps.nbands ? threads : ps.nbands;
	crew_start(&ps, args, ps.nthreads);
	/*
	 * A raw netpbm file in, rows read where they lie: no turns to read.
	 * Written at their place too (PNM out to a file), no turns at all; that
	 * needs the reading apart too, as windows are then per worker.
	 */
	ps.at_place_in = imf_reader_random_access(r);
	ps.at_place_out = ps.at_place_in && ps.block > 0 && imf_writer_random_access(ps.w);
	ps.nin = ps.at_place_in ? ps.nthreads : ps.nthreads + 1;
	ps.in = calloc(ps.nin, sizeof *ps.in);
	ps.out = calloc(ps.nthreads, sizeof *ps.out);
	ps.raw = gray ? calloc(ps.nthreads, sizeof *ps.raw) : NULL;
	ps.queue_cap = PUT_QUEUE_PER_WORKER * ps.nthreads;
	ps.queue = ps.at_place_out ? calloc(ps.queue_cap, sizeof *ps.queue) : NULL;
	if (!ps.in || !ps.out || (gray && !ps.raw) || (ps.at_place_out && !ps.queue)) {
		imf_error_set(&err, IMF_ENOMEM, "out of memory");
		goto nomem;
	}
	/*
	 * Unset: every row is written before it is read (windows by the
	 * reader, bands by the engine), and a worker's buffers are first
	 * touched by that worker, not here in the setup, which every -j waits
	 * for (zeroing them here took 0.2 ms a worker on goal 1).
	 */
	for (size_t i = 0; i < ps.nin; i++)
		if (imf_image_new_uninit(ps.info.width, wrows, ich, ialpha, &o->limits, &ps.in[i].img,
		                         &err) != IMF_OK)
			goto nomem;
	for (size_t i = 0; i < ps.nthreads; i++)
		if (imf_image_new_uninit(ps.ow, ps.band, och, oalpha, &o->limits, &ps.out[i], &err) !=
		    IMF_OK)
			goto nomem;
	for (size_t i = 0; gray && i < (ps.at_place_in ? ps.nthreads : 1); i++)
		if (imf_image_new_uninit(ps.info.width, wrows, ps.info.channels, ps.info.has_alpha,
		                         &o->limits, &ps.raw[i], &err) != IMF_OK)
			goto nomem;

	if (o->verbose && !o->batch) {
		char line[512];
		snprintf(line, sizeof line,
		         "streaming %zu output rows a band, %s; %zu thread%s; %s; reader %s, "
		         "writer %s",
		         ps.band,
		         ps.nthreads > 1 ? "bands read, computed and written at once" : "one step at a time",
		         ps.nthreads, ps.nthreads > 1 ? "s" : "", imf_conv_stream_method(ps.s),
		         ps.at_place_in ? "reads rows at their place"
		         : imf_reader_streams(r) ? "streams" : "holds the whole image",
		         ps.at_place_out ? "writes rows at their place"
		         : imf_writer_streams(ps.w) ? "streams" : "holds the whole image");
		verbose_line(&ps, line);
	}

	if (!run_bands(&ps)) {
		rc = ps.rc;
		goto done;
	}
	/*
	 * Rows below the last window (valid padding, strides) must decode
	 * cleanly too; read at the place, every row is valid (the reader
	 * says so).
	 */
	if (!ps.at_place_in && skip_to(&ps, ps.in[0].img, ps.info.height, &err) != IMF_OK) {
		cli_error(ps.in_name, "%s", err.msg);
		goto done;
	}
	if (imf_writer_finish(ps.w, &err) != IMF_OK) {
		if (!write_quiet(&ps))
			cli_error(ps.out_name, "%s", err.msg);
		goto done;
	}
	if (cli_stop_signal())
		goto done;
	rc = cli_output_commit(ps.dst) == 0 ? EXIT_OK : EXIT_BAD_INPUT;
	ps.dst = NULL;
	if (rc == EXIT_OK && o->verbose) {
		char line[2 * 4096 + 8];
		snprintf(line, sizeof line, "%s -> %s", ps.in_name, ps.out_name);
		cli_message(line);
	}
	goto done;
nomem:
	cli_error(ps.in_name, "%s", err.msg);
done:
	crew_stop(&ps); /* when the setup failed; after run_bands, nothing is left */
	if (ps.dst)
		cli_output_abort(ps.dst);
	imf_writer_free(ps.w);
	imf_conv_stream_free(ps.s);
	for (size_t i = 0; ps.in && i < ps.nin; i++)
		imf_image_free(ps.in[i].img);
	for (size_t i = 0; ps.out && i < ps.nthreads; i++)
		imf_image_free(ps.out[i]);
	for (size_t i = 0; ps.raw && i < ps.nthreads; i++)
		imf_image_free(ps.raw[i]);
	free(ps.in);
	free(ps.out);
	free(ps.raw);
	for (size_t i = 0; i < ps.queued; i++) /* after a failure */
		imf_encoded_free(ps.queue[i]);
	free(ps.queue);
	pthread_cond_destroy(&ps.cv);
	pthread_mutex_destroy(&ps.mu);
	return rc;
}
