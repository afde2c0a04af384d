/*
 * batch.c - many inputs: imfilter [OPTIONS] -O DIR INPUT... [-@ LIST].
 *
 * A batch is planned completely before any work starts:
 *   1. inputs: the INPUT arguments, then the lines of --files-from (blank
 *      lines skipped; "-" cannot be an input, since a batch names files);
 *   2. names:  DIR/STEM SUFFIX.EXT, where STEM is the input's base name
 *      without its extension and EXT is -f's canonical extension (png, jpg,
 *      pnm, pfm, txt) or else the input's own (none if it has none);
 *   3. clashes (exit 2, nothing written): two inputs with one output name,
 *      an output that would replace another input of the batch (whose
 *      result would then depend on the order of the work), or an output
 *      that is its own input (-O with the input's folder and --suffix '')
 *      unless --in-place allows it;
 *   4. DIR: created like mkdir -p and checked writable (exit 1).
 * Then -j workers take the files in order from a shared counter; each file
 * is read, filtered and written by one worker through cli_run_file, exactly
 * as a single file would be, so the bytes written do not depend on -j.  A bad
 * file is reported in one line and counted; the others go on.  At the end:
 * "imfilter: N written, M failed" (N counts inputs), exit 1 if any failed.
 *
 * Inputs that do not exist or are folders skip the clash checks: they fail
 * on their own line when their turn comes, as any bad file does.
 *
 * Threads share only the read-only chain and options, the counters below
 * (atomics) and stderr (through cli_message).  A signal (SIGINT, SIGTERM...)
 * only sets a flag here (cli_signals_defer): no file starts after it, the
 * files being written are abandoned and their temporary files removed by
 * their own workers, and imfilter then dies by the signal.
 */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct job {
	const char *input;
	char *output;
	int exists; /* a readable non-folder at planning time: takes part in clash checks */
	dev_t dev;
	ino_t ino;
} job;

typedef struct batch {
	const cli_opts *o;
	const imf_chain *chain;
	job *jobs;
	size_t n;
	atomic_size_t next, written, failed;
	cli_progress *progress;
} batch;

/* ---- inputs ------------------------------------------------------------- */

typedef struct strlist {
	char **v;
	size_t n, cap;
} strlist;

static int strlist_push(strlist *l, char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **v = cap > SIZE_MAX / sizeof *v ? NULL : realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = s;
	return 0;
}

static void strlist_free(strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int is_blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t')
			return 0;
	return 1;
}

/*
 * The paths listed in name ("-": stdin), one per line; a line ending
 * "\r\n" loses the "\r"; blank lines are skipped.  Exit status.
 */
static int read_list(const char *name, strlist *out)
{
	const char *who = strcmp(name, "-") == 0 ? "<stdin>" : name;
	FILE *fp = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = EXIT_BAD_INPUT;

	if (!fp) {
		cli_error(who, "cannot open: %s", strerror(errno));
		return EXIT_BAD_INPUT;
	}
	errno = 0;
	while ((len = getline(&line, &cap, fp)) >= 0) {
		char *copy;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (is_blank(line))
			continue;
		copy = strdup(line);
		if (!copy || strlist_push(out, copy) != 0) {
			free(copy);
			cli_error(who, "out of memory");
			goto done;
		}
		errno = 0;
	}
	if (ferror(fp)) {
		cli_error(who, "read error: %s", strerror(errno ? errno : EIO));
		goto done;
	}
	rc = EXIT_OK;
done:
	free(line);
	if (fp != stdin)
		fclose(fp);
	return rc;
}

/* ---- output names -------------------------------------------------------- */

static const char *format_ext(imf_format f)
{
	switch (f) {
	case IMF_FORMAT_PNG: return "png";
	case IMF_FORMAT_JPEG: return "jpg";
	case IMF_FORMAT_PNM: return "pnm";
	case IMF_FORMAT_PFM: return "pfm";
	case IMF_FORMAT_TEXT: return "txt";
	case IMF_FORMAT_UNKNOWN: break;
	}
	return NULL;
}

/*
 * DIR/STEM SUFFIX.EXT for input.  STEM is the base name up to its last dot
 * (a leading dot, as in ".hidden", starts no extension); EXT is -f's
 * canonical extension, else the input's own.
 */
static char *output_path(const cli_opts *o, const char *input)
{
	size_t len = strlen(input), blen, stem, dirlen = strlen(o->out_dir);
	const char *base, *dot = NULL, *ext;
	const char *suffix = o->suffix ? o->suffix : "";
	char *path;
	size_t need;

	while (len > 1 && input[len - 1] == '/')
		len--;
	base = input + len;
	while (base > input && base[-1] != '/')
		base--;
	blen = (size_t)(input + len - base);
	for (const char *p = base + blen; p > base + 1; p--)
		if (p[-1] == '.') {
			dot = p - 1;
			break;
		}
	stem = dot ? (size_t)(dot - base) : blen;
	ext = o->format != IMF_FORMAT_UNKNOWN ? format_ext(o->format) : dot ? dot + 1 : NULL;
	need = dirlen + 1 + stem + strlen(suffix) + 1 + (ext ? strlen(ext) : 0) + 1;
	path = malloc(need);
	if (!path)
		return NULL;
	if (ext && dot && o->format == IMF_FORMAT_UNKNOWN)
		snprintf(path, need, "%s%s%.*s%s.%.*s", o->out_dir,
		         o->out_dir[dirlen - 1] == '/' ? "" : "/", (int)stem, base, suffix,
		         (int)(blen - stem - 1), ext);
	else
		snprintf(path, need, "%s%s%.*s%s%s%s", o->out_dir,
		         o->out_dir[dirlen - 1] == '/' ? "" : "/", (int)stem, base, suffix,
		         ext ? "." : "", ext ? ext : "");
	return path;
}

/* ---- clash checks ------------------------------------------------------- */

static int by_output(const void *a, const void *b)
{
	const job *x = *(const job *const *)a, *y = *(const job *const *)b;
	int c = strcmp(x->output, y->output);
	return c ? c : (x < y ? -1 : x > y);
}

static int by_file(const void *a, const void *b)
{
	const job *x = *(const job *const *)a, *y = *(const job *const *)b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

/*
 * Exit 2 if two inputs map to one output, an output would replace another
 * input, or its own without --in-place (a symlink in DIR counts as its
 * target, as output.c follows it; files are compared by device and inode).
 */
static int check_clashes(batch *b)
{
	job **v = malloc((b->n ? b->n : 1) * sizeof *v);
	size_t m = 0;
	int rc = EXIT_OK;

	if (!v) {
		cli_error(NULL, "out of memory");
		return EXIT_BAD_INPUT;
	}
	for (size_t i = 0; i < b->n; i++)
		if (b->jobs[i].exists)
			v[m++] = &b->jobs[i];
	qsort(v, m, sizeof *v, by_output);
	for (size_t i = 1; i < m; i++)
		if (strcmp(v[i - 1]->output, v[i]->output) == 0) {
			cli_error(NULL, "%s and %s would both write %s", v[i - 1]->input, v[i]->input,
			          v[i]->output);
			rc = EXIT_USAGE;
			goto done;
		}
	qsort(v, m, sizeof *v, by_file);
	for (size_t i = 0; i < b->n; i++) {
		job *j = &b->jobs[i], key, *kp = &key, **hit;
		struct stat st;
		if (!j->exists || stat(j->output, &st) != 0)
			continue;
		key.dev = st.st_dev;
		key.ino = st.st_ino;
		hit = bsearch(&kp, v, m, sizeof *v, by_file);
		if (!hit)
			continue;
		/* All inputs that are this file (hard links, two spellings of one path). */
		while (hit > v && by_file(hit - 1, &kp) == 0)
			hit--;
		for (job **h = hit; h < v + m && by_file(h, &kp) == 0; h++) {
			if (*h != j)
				continue;
			if (b->o->in_place)
				goto next; /* its own input: replaced only once read */
			cli_error(NULL, "refusing to overwrite the input %s (give --in-place to replace it)",
			          j->input);
			rc = EXIT_USAGE;
			goto done;
		}
		cli_error(NULL, "%s would write %s over the input %s", j->input, j->output,
		          (*hit)->input);
		rc = EXIT_USAGE;
		goto done;
next:;
	}
done:
	free(v);
	return rc;
}

/* ---- the output folder ---------------------------------------------------- */

/* mkdir -p dir, then check that files can be created in it.  Exit status. */
static int make_dir(const char *dir)
{
	char *p = strdup(dir);
	struct stat st;
	int rc = EXIT_BAD_INPUT;

	if (!p) {
		cli_error(dir, "out of memory");
		return EXIT_BAD_INPUT;
	}
	for (char *s = p + 1; ; s++) {
		int last = *s == '\0';
		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p, 0777) != 0 && errno != EEXIST) {
			cli_error(dir, "cannot create the output folder: %s", strerror(errno));
			goto done;
		}
		if (last)
			break;
		*s = '/';
	}
	if (stat(dir, &st) != 0) {
		cli_error(dir, "cannot create the output folder: %s", strerror(errno));
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_error(dir, "cannot create the output folder: %s", strerror(ENOTDIR));
		goto done;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		cli_error(dir, "cannot write into the output folder: %s", strerror(errno));
		goto done;
	}
	rc = EXIT_OK;
done:
	free(p);
	return rc;
}

/* ---- workers --------------------------------------------------------------- */

static void *worker(void *arg)
{
	batch *b = arg;

	while (!cli_stop_signal()) {
		size_t i = atomic_fetch_add(&b->next, 1);
		cli_opts fo;
		int rc;
		if (i >= b->n)
			break;
		fo = *b->o;
		fo.input = b->jobs[i].input;
		fo.output = b->jobs[i].output;
		fo.output_given = 1;
		fo.batch = 1;
		rc = cli_run_file(&fo, b->chain);
		if (cli_stop_signal())
			break; /* abandoned: neither written nor failed */
		atomic_fetch_add(rc == EXIT_OK ? &b->written : &b->failed, 1);
		cli_progress_step(b->progress);
	}
	return NULL;
}

static size_t worker_count(const cli_opts *o, size_t n)
{
	size_t j = cli_thread_count(o);
	if (j > CLI_MAX_JOBS)
		j = CLI_MAX_JOBS;
	return j < n ? j : n ? n : 1;
}

/* Run the planned jobs on nthreads threads, this one included. */
static void run_workers(batch *b, size_t nthreads)
{
	pthread_t tid[CLI_MAX_JOBS];
	size_t started = 0;

	/* Fewer threads than asked (pthread_create failing) only means slower. */
	while (started + 1 < nthreads && pthread_create(&tid[started], NULL, worker, b) == 0)
		started++;
	worker(b);
	for (size_t i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
}

int cli_batch(const cli_opts *o, const imf_chain *chain)
{
	strlist listed = { 0 };
	batch b;
	int rc;
	size_t written, failed;

	memset(&b, 0, sizeof b);
	b.o = o;
	b.chain = chain;
	if (o->files_from && (rc = read_list(o->files_from, &listed)) != EXIT_OK)
		goto done;
	b.n = o->ninputs + listed.n;
	rc = EXIT_BAD_INPUT;
	b.jobs = calloc(b.n ? b.n : 1, sizeof *b.jobs);
	if (!b.jobs) {
		cli_error(NULL, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < b.n; i++) {
		job *j = &b.jobs[i];
		struct stat st;
		j->input = i < o->ninputs ? o->inputs[i] : listed.v[i - o->ninputs];
		if (strcmp(j->input, "-") == 0) {
			cli_error(NULL, "-O DIR: '-' (standard input) cannot be one of a batch's inputs");
			rc = EXIT_USAGE;
			goto done;
		}
		j->output = output_path(o, j->input);
		if (!j->output) {
			cli_error(j->input, "out of memory");
			goto done;
		}
		if (stat(j->input, &st) == 0 && !S_ISDIR(st.st_mode)) {
			j->exists = 1;
			j->dev = st.st_dev;
			j->ino = st.st_ino;
		}
	}
	if ((rc = check_clashes(&b)) != EXIT_OK)
		goto done;
	if ((rc = make_dir(o->out_dir)) != EXIT_OK)
		goto done;

	cli_signals_defer();
	b.progress = cli_progress_start(b.n, o->quiet);
	run_workers(&b, worker_count(o, b.n));
	cli_progress_end(b.progress);
	if (cli_stop_signal())
		cli_die_by_signal(cli_stop_signal());

	written = atomic_load(&b.written);
	failed = atomic_load(&b.failed);
	if (!o->quiet || failed) {
		char line[96];
		snprintf(line, sizeof line, "imfilter: %zu written, %zu failed", written, failed);
		cli_message(line);
	}
	rc = failed ? EXIT_BAD_INPUT : EXIT_OK;
done:
	if (b.jobs)
		for (size_t i = 0; i < b.n; i++)
			free(b.jobs[i].output);
	free(b.jobs);
	strlist_free(&listed);
	return rc;
}
