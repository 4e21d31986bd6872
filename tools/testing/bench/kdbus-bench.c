// SPDX-License-Identifier: GPL-2.0
/*
 * kdbus-bench: one-way throughput and ping-pong latency, side by side, in
 * one run, for payloads of 8 B to 1 MiB over
 *
 *   pipe      a pipe pair (two copies: sender -> pipe buffer -> receiver)
 *   unix      an AF_UNIX SOCK_STREAM socketpair (two copies)
 *   kdbus     kdbus SEND/RECV with PAYLOAD_VEC (one copy, into the pool)
 *
 * and prints a table with ratios. Absolute numbers mean nothing under QEMU
 * TCG; the ratios measured side by side in the same guest do. The kdbus
 * columns read "n/a" until the module implements SEND/RECV (the messaging
 * issue); the pipe and AF_UNIX baselines are measured now.
 *
 * Usage: kdbus-bench [seconds-per-cell]   (default 0.5)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int xwrite(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int xread(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* A byte-stream transport: fds[0] is the "a" side, fds[1] the "b" side of
 * each direction. */
struct chan {
	int a_tx, b_rx, b_tx, a_rx;
};

static int make_pipe(struct chan *c)
{
	int p1[2], p2[2];

	if (pipe(p1) || pipe(p2))
		return -1;
	fcntl(p1[1], F_SETPIPE_SZ, 1 << 20);
	fcntl(p2[1], F_SETPIPE_SZ, 1 << 20);
	*c = (struct chan){ p1[1], p1[0], p2[1], p2[0] };
	return 0;
}

static int make_unix(struct chan *c)
{
	int sv[2];
	int sz = 4 << 20;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	*c = (struct chan){ sv[0], sv[1], sv[1], sv[0] };
	return 0;
}

/* Throughput in MB/s: a child receives, the parent sends for `secs`. */
static double throughput(struct chan *c, size_t size, double secs)
{
	char *buf = calloc(1, size);
	uint64_t count = 0, got;
	double t0, t;
	pid_t pid = fork();

	if (pid == 0) {
		for (;;) {
			if (xread(c->b_rx, buf, size))
				_exit(0);
			count++;
			if (!memcmp(buf, "STOP", 4) && size >= 4)
				break;
		}
		xwrite(c->b_tx, &count, sizeof(count));
		_exit(0);
	}
	t0 = now();
	do {
		xwrite(c->a_tx, buf, size);
		count++;
	} while ((t = now()) - t0 < secs);
	memcpy(buf, "STOP", size >= 4 ? 4 : size);
	xwrite(c->a_tx, buf, size);
	xread(c->a_rx, &got, sizeof(got));
	t = now() - t0;
	waitpid(pid, NULL, 0);
	free(buf);
	return (double)got * size / t / 1e6;
}

/* Round-trip latency in microseconds. */
static double pingpong(struct chan *c, size_t size, double secs)
{
	char *buf = calloc(1, size);
	uint64_t rounds = 0;
	double t0, t;
	pid_t pid = fork();

	if (pid == 0) {
		while (!xread(c->b_rx, buf, size) && buf[0] != 'Q')
			xwrite(c->b_tx, buf, size);
		_exit(0);
	}
	t0 = now();
	do {
		xwrite(c->a_tx, buf, size);
		xread(c->a_rx, buf, size);
		rounds++;
	} while ((t = now()) - t0 < secs);
	buf[0] = 'Q';
	xwrite(c->a_tx, buf, size);
	waitpid(pid, NULL, 0);
	free(buf);
	return (t - t0) * 1e6 / rounds;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 8, 64, 512, 4096, 65536, 1 << 20 };
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("kdbus-bench: %.2f s per cell; ratios are against AF_UNIX\n\n", secs);
	printf("%-8s | %12s %12s %12s %8s | %10s %10s %10s %8s\n", "payload",
	       "pipe MB/s", "unix MB/s", "kdbus MB/s", "k/unix", "pipe us", "unix us",
	       "kdbus us", "k/unix");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct chan p, u;
		double tp, tu, lp, lu;

		if (make_pipe(&p) || make_unix(&u)) {
			perror("kdbus-bench: setup");
			return 1;
		}
		tp = throughput(&p, sizes[i], secs);
		tu = throughput(&u, sizes[i], secs);
		lp = pingpong(&p, sizes[i], secs);
		lu = pingpong(&u, sizes[i], secs);
		printf("%-8zu | %12.1f %12.1f %12s %8s | %10.1f %10.1f %10s %8s\n", sizes[i],
		       tp, tu, "n/a", "n/a", lp, lu, "n/a", "n/a");
		close(p.a_tx); close(p.b_rx); close(p.b_tx); close(p.a_rx);
		close(u.a_tx); close(u.b_tx);
	}
	printf("\nkdbus: n/a: SEND/RECV are not implemented yet (messaging issue)\n");
	return 0;
}
