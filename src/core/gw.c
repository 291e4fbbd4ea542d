/* Starting and stopping Kannel's libgw (gwlib/gwlib.h), and its log. libgw 1.4.5 writes its
 * own line format to stderr and to files opened with log_open(), and offers no callback. So
 * its stderr output is cut down to panics (which end the process at once), and a log "file"
 * is opened on a pipe whose read end is ours: each line libgw writes there is parsed and
 * re-emitted through logging_msg(), in ceirgw's format (text or JSON) and destination.
 * libgw's end of the pipe is non-blocking: when nobody drains it and it fills (1 MiB), libgw
 * loses lines instead of stopping the process; ours reads a bounded amount per call. */
#define _GNU_SOURCE	/* pipe2, F_SETPIPE_SZ */
#include "core/gw.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gwlib/gwlib.h"

#include "core/logging.h"

static int started;
static int pipe_rd = -1, pipe_wr = -1;
static int raw_index = -1;
static struct {
	char buf[2048];		/* a line being read; longer ones are cut here */
	size_t len;
	int cut;		/* the rest of an overlong line is skipped */
} rd;

/* libgw opens "/proc/self/fd/N" as a new open file of the same pipe: that descriptor (not
 * ours) is made non-blocking, found by its inode among the process's descriptors. */
static void nonblock_libgw_end(void)
{
	struct stat want, st;
	struct dirent *e;
	DIR *dir;

	if (fstat(pipe_wr, &want) < 0 || (dir = opendir("/proc/self/fd")) == NULL)
		return;
	while ((e = readdir(dir)) != NULL) {
		int fd = atoi(e->d_name);

		if (fd <= 2 || fd == pipe_rd || fd == pipe_wr || fd == dirfd(dir))
			continue;
		if (fstat(fd, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino) {
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			/* Not to the embedded redis-server, which ceirgw starts. */
			fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
		}
	}
	closedir(dir);
}

/* Opens the pipe as libgw's log file at GW_WARNING; without it (no /proc), libgw's warnings
 * go to stderr in libgw's format, as before. */
static void open_pipe_log(void)
{
	char path[64];

	log_set_output_level(GW_WARNING);
	if (pipe_wr < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pipe_wr);
	if (log_open(path, GW_WARNING, GW_NON_EXCL) >= 0) {
		nonblock_libgw_end();
		log_set_output_level(GW_PANIC);
	}
}

void gw_start(void)
{
	int fds[2];

	if (started)
		return;
	gwlib_init();
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
		pipe_rd = fds[0];
		pipe_wr = fds[1];
		fcntl(pipe_wr, F_SETPIPE_SZ, 1 << 20);	/* best effort; 64 KiB otherwise */
	}
	open_pipe_log();
	started = 1;
}

int gw_log_fd(void)
{
	return pipe_rd;
}

static const struct {
	const char *label;
	enum log_level level;
} levels[] = {
	{ "DEBUG: ", LOGL_DEBUG }, { "INFO: ", LOGL_INFO }, { "WARNING: ", LOGL_WARN },
	{ "ERROR: ", LOGL_ERROR }, { "PANIC: ", LOGL_ERROR },
};

/* One libgw line: "2026-12-03 16:30:00 [123] [0] WARNING: text". Its time, pid and thread
 * are dropped (ceirgw's line has its own), its level mapped. */
static void emit(char *line)
{
	enum log_level level = LOGL_WARN;
	char *p = line;
	size_t i;

	if (strlen(p) > 20 && p[4] == '-' && p[10] == ' ' && p[19] == ' ') {
		p += 20;
		for (i = 0; i < 2 && *p == '['; i++) {
			char *rb = strchr(p, ']');

			if (rb == NULL || rb[1] != ' ')
				break;
			p = rb + 2;
		}
	}
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		size_t n = strlen(levels[i].label);

		if (strncmp(p, levels[i].label, n) == 0) {
			level = levels[i].level;
			p += n;
			break;
		}
	}
	if (*p)
		LOGP(LOGC_GW, level, "%s", p);
}

void gw_log_drain(void)
{
	char chunk[4096];
	size_t total = 0;
	ssize_t n;

	if (pipe_rd < 0)
		return;
	while (total < 64 * 1024 && (n = read(pipe_rd, chunk, sizeof(chunk))) > 0) {
		total += (size_t)n;
		for (ssize_t i = 0; i < n; i++) {
			if (chunk[i] == '\n') {
				rd.buf[rd.len] = '\0';
				if (!rd.cut)
					emit(rd.buf);
				rd.len = 0;
				rd.cut = 0;
			} else if (rd.cut) {
				continue;	/* the rest of an overlong line */
			} else if (rd.len + 1 < sizeof(rd.buf)) {
				rd.buf[rd.len++] = chunk[i];
			} else {
				rd.buf[rd.len] = '\0';
				emit(rd.buf);
				rd.len = 0;
				rd.cut = 1;
			}
		}
	}
}

int gw_log_to(const char *path)
{
	if (!started)
		return -EINVAL;
	if (raw_index >= 0 || path) {
		/* libgw can only close all of its files: the pipe is opened again. */
		gw_log_drain();
		log_close_all();
		raw_index = -1;
		open_pipe_log();
	}
	if (path == NULL)
		return 0;
	raw_index = log_open((char *)path, GW_WARNING, GW_NON_EXCL);
	return raw_index < 0 ? -EIO : 0;
}

void gw_stop(void)
{
	if (!started)
		return;
	gw_log_drain();
	gwlib_shutdown();
	if (pipe_rd >= 0) {
		close(pipe_rd);
		close(pipe_wr);
	}
	pipe_rd = pipe_wr = -1;
	rd.len = 0;
	rd.cut = 0;
	started = 0;
}
