/* A private redis-server for the embedded default and for the tests: listens only on a Unix
 * socket (port 0), persists with the append-only file in its folder, and is stopped by its
 * parent, or by the kernel when the parent dies (prctl PR_SET_PDEATHSIG, Linux). */
#define _GNU_SOURCE
#include "store/redis_embed.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <talloc.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

struct redis_embed {
	pid_t pid;		/* 0 once stopped or reaped */
	char *dir;
	char *socket;
};

/* 1 when a server answers PING on path within one short attempt. */
static int answers(const char *path)
{
	struct timeval tv = { 0, 200 * 1000 };
	redisContext *c = redisConnectUnixWithTimeout(path, tv);
	redisReply *r;
	int ok = 0;

	if (c == NULL)
		return 0;
	if (!c->err) {
		redisSetTimeout(c, tv);
		r = redisCommand(c, "PING");
		ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
		freeReplyObject(r);
	}
	redisFree(c);
	return ok;
}

bool redis_embed_answers(const char *socket_path)
{
	return answers(socket_path);
}

static int destructor(struct redis_embed *re)
{
	redis_embed_stop(re);
	return 0;
}

/* mkdir -p: the folders above dir as 0755, dir itself 0700 (it holds subscriber data). */
static int make_dirs(const char *dir)
{
	char path[4096];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (i = 1; i < n; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		path[i] = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

struct redis_embed *redis_embed_start(void *ctx, const char *server, const char *dir,
				      int timeout_ms, char *err, size_t errsz)
{
	struct redis_embed *re;
	char *logfile;
	int waited, status;

	int rc = make_dirs(dir);

	if (rc < 0) {
		snprintf(err, errsz, "%s: cannot create: %s", dir, strerror(-rc));
		return NULL;
	}
	re = talloc_zero(ctx, struct redis_embed);
	if (re == NULL)
		goto oom;
	re->dir = talloc_strdup(re, dir);
	re->socket = talloc_asprintf(re, "%s/redis.sock", dir);
	logfile = talloc_asprintf(re, "%s/redis.log", dir);
	if (re->dir == NULL || re->socket == NULL || logfile == NULL)
		goto oom;
	if (strlen(re->socket) >= 108) {
		snprintf(err, errsz, "%s: socket path longer than 107 bytes; use a shorter data-dir",
			 re->socket);
		goto fail;
	}
	if (answers(re->socket)) {
		snprintf(err, errsz, "%s: another Redis already answers there (is another ceirgw "
			 "running on this data-dir?)", re->socket);
		goto fail;
	}
	re->pid = fork();
	if (re->pid < 0) {
		snprintf(err, errsz, "fork: %s", strerror(errno));
		goto fail;
	}
	if (re->pid == 0) {
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* Its own process group: a Ctrl-C meant for ceirgw reaches ceirgw, which then
		 * stops Redis after it has finished its own work. */
		setpgid(0, 0);
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			if (fd > 2)
				close(fd);
		}
		execl(server, server, "--port", "0", "--unixsocket", re->socket,
		      "--unixsocketperm", "700", "--dir", re->dir, "--appendonly", "yes",
		      "--save", "", "--daemonize", "no", "--logfile", logfile,
		      "--protected-mode", "yes",
		      /* Pairing buckets stay compact listpacks (doc/redis-keys.md). */
		      "--hash-max-listpack-entries", "512", "--hash-max-listpack-value", "128",
		      (char *)NULL);
		fprintf(stderr, "%s: cannot start: %s\n", server, strerror(errno));
		_exit(127);
	}
	talloc_set_destructor(re, destructor);
	for (waited = 0; waited < timeout_ms; waited += 20) {
		if (answers(re->socket))
			return re;
		if (waitpid(re->pid, &status, WNOHANG) == re->pid) {
			re->pid = 0;
			snprintf(err, errsz, "%s exited with status %d before answering; see %s",
				 server, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
				 logfile);
			goto fail;
		}
		sleep_ms(20);
	}
	snprintf(err, errsz, "%s did not answer on %s within %d ms; see %s", server, re->socket,
		 timeout_ms, logfile);
fail:
	talloc_free(re);
	return NULL;
oom:
	snprintf(err, errsz, "out of memory");
	talloc_free(re);
	return NULL;
}

const char *redis_embed_socket(const struct redis_embed *re)
{
	return re->socket;
}

pid_t redis_embed_pid(const struct redis_embed *re)
{
	return re->pid;
}

void redis_embed_reaped(struct redis_embed *re)
{
	re->pid = 0;
}

int redis_embed_stop(struct redis_embed *re)
{
	int status = 0, i;
	pid_t r;

	if (re == NULL || re->pid <= 0)
		return 0;
	kill(re->pid, SIGTERM);
	/* Redis flushes the append-only file on SIGTERM; give it time to. */
	for (i = 0; i < 500; i++) {
		r = waitpid(re->pid, &status, WNOHANG);
		if (r == re->pid || (r < 0 && errno == ECHILD))
			break;
		sleep_ms(10);
	}
	if (i == 500) {
		kill(re->pid, SIGKILL);
		waitpid(re->pid, &status, 0);
	}
	re->pid = 0;
	return status;
}
