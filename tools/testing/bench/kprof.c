// SPDX-License-Identifier: GPL-2.0
/*
 * kprof: a minimal system-wide sampling profiler for the guest, which has no
 * perf binary. Runs COMMAND and, while it runs, samples every online CPU
 * with the software CPU clock (perf_event_open, PERF_COUNT_SW_CPU_CLOCK,
 * pid -1), then prints the hottest kernel symbols (self: the sampled IP;
 * with -g also inclusive: any frame of the kernel call chain), symbolised
 * with /proc/kallsyms (module symbols included; Rust names stay mangled:
 * pipe the report through c++filt). Samples of the idle task and of kprof
 * itself are not counted; user-mode samples count as "[user]".
 *
 * Needs root, or kernel.perf_event_paranoid = -1 and kernel.kptr_restrict
 * = 0 (kprof sets both when it can).
 *
 * Usage: kprof [-F HZ] [-g] [-n TOP] [-p PREFIX] [-c SYM]... -- COMMAND [ARGS...]
 *   -F HZ      sampling frequency per CPU (default 10000)
 *   -g         record kernel call chains: inclusive costs too
 *   -n TOP     symbols to print (default 40)
 *   -p PREFIX  also list only the symbols containing PREFIX (e.g. kdbus),
 *              inclusive, all of them
 *   -c SYM     (with -g; up to 4 times) who calls the first symbol whose
 *              name contains SYM: the calling frames, % of all samples
 *   -a SYM     (up to 4 times) where in the first symbol whose name contains
 *              SYM its self samples fall: the hottest offsets from its start
 *              (match them with `llvm-objdump -d` of the object)
 *
 * The kernel of the bench VM has no high-resolution timers: the CPU clock
 * then fires at the tick (250 Hz) whatever -F asks, and a tick that comes
 * while interrupts are off is taken when they come back on, so the time of
 * an interrupts-off region shows as self time of the unlock that ends it
 * (_raw_spin_unlock_irq*); inclusive figures still place it in its callers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CPUS	64
#define RING_PAGES	256		/* data pages per CPU (1 MiB) */
#define MAX_DEPTH	64

struct sym {
	uint64_t addr;
	char *name;
	uint64_t self, incl;
	uint64_t stamp;		/* last sample that counted it inclusively */
	uint64_t calls[4];	/* samples calling -c symbol i from here */
};

#define MAX_CALLEES 4
static const char *callee_pat[MAX_CALLEES];
static int n_callees;
static uint64_t callee_hits[MAX_CALLEES];

#define MAX_ANNOTATE	4
#define ANNOTATE_BYTES	65536	/* offsets counted from a symbol's start */
static const char *annotate_pat[MAX_ANNOTATE];
static struct sym *annotate_sym[MAX_ANNOTATE];
static uint32_t *annotate_hits[MAX_ANNOTATE];
static int n_annotate;

static struct sym *syms;
static size_t n_syms, cap_syms;
static uint64_t n_samples, n_user, n_idle, n_self_prof, n_lost, n_unknown;
static uint64_t sample_no;
static pid_t self_pid;
static int callchains;

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, val, strlen(val)) < 0)
			perror(path);
		close(fd);
	}
}

static int cmp_sym(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int load_kallsyms(void)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[1024];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[900], mod[128] = "";
		int n = sscanf(line, "%llx %c %899s %127s", &addr, &type, name, mod);

		if (n < 3 || !addr)
			continue;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		if (n_syms == cap_syms) {
			cap_syms = cap_syms ? 2 * cap_syms : 65536;
			syms = realloc(syms, cap_syms * sizeof(*syms));
			if (!syms)
				return -1;
		}
		syms[n_syms].addr = addr;
		if (mod[0]) {
			size_t l = strlen(name) + strlen(mod) + 2;

			syms[n_syms].name = malloc(l);
			if (syms[n_syms].name)
				snprintf(syms[n_syms].name, l, "%s %s", name, mod);
		} else {
			syms[n_syms].name = strdup(name);
		}
		if (!syms[n_syms].name)
			return -1;
		syms[n_syms].self = syms[n_syms].incl = 0;
		syms[n_syms].stamp = 0;
		memset(syms[n_syms].calls, 0, sizeof(syms[n_syms].calls));
		n_syms++;
	}
	fclose(f);
	qsort(syms, n_syms, sizeof(*syms), cmp_sym);
	return n_syms ? 0 : -1;
}

static struct sym *lookup(uint64_t ip)
{
	size_t lo = 0, hi = n_syms;

	if (!n_syms || ip < syms[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (syms[mid].addr <= ip)
			lo = mid;
		else
			hi = mid;
	}
	return &syms[lo];
}

static int kernel_ip(uint64_t ip)
{
	return ip >= 0xffff800000000000ULL && ip < (uint64_t)-4096;
}

static void account(uint32_t pid, uint64_t ip, const uint64_t *chain, uint64_t nr)
{
	struct sym *s;

	sample_no++;
	if (pid == (uint32_t)self_pid) {
		n_self_prof++;
		return;
	}
	if (pid == 0) {
		n_idle++;
		return;
	}
	n_samples++;
	if (!kernel_ip(ip)) {
		n_user++;
		return;
	}
	s = lookup(ip);
	if (!s) {
		n_unknown++;
		return;
	}
	s->self++;
	for (int k = 0; k < n_annotate; k++)
		if (s == annotate_sym[k] && ip - s->addr < ANNOTATE_BYTES)
			annotate_hits[k][ip - s->addr]++;
	if (!callchains) {
		s->incl++;
		return;
	}
	s->incl++;
	s->stamp = sample_no;
	for (uint64_t i = 0; i < nr && i < MAX_DEPTH; i++) {
		struct sym *c;

		if (!kernel_ip(chain[i]))
			continue;	/* context markers, user frames */
		c = lookup(chain[i]);
		if (c && c->stamp != sample_no) {
			c->stamp = sample_no;
			c->incl++;
		}
	}
	/* -c: the frame above the first (innermost) frame matching. */
	for (int k = 0; k < n_callees; k++) {
		for (uint64_t i = 0; i < nr && i < MAX_DEPTH; i++) {
			struct sym *c = kernel_ip(chain[i]) ? lookup(chain[i]) : NULL;

			if (!c || !strstr(c->name, callee_pat[k]))
				continue;
			callee_hits[k]++;
			for (uint64_t j = i + 1; j < nr && j < MAX_DEPTH; j++) {
				struct sym *up = kernel_ip(chain[j]) ? lookup(chain[j]) : NULL;

				if (up && up != c) {
					up->calls[k]++;
					break;
				}
			}
			break;
		}
	}
}

static int cmp_calls_k;

static int by_calls(const void *a, const void *b)
{
	const struct sym *x = *(struct sym *const *)a, *y = *(struct sym *const *)b;

	return x->calls[cmp_calls_k] < y->calls[cmp_calls_k] ? 1 :
	       x->calls[cmp_calls_k] > y->calls[cmp_calls_k] ? -1 : 0;
}

struct ring {
	int fd;
	struct perf_event_mmap_page *meta;
	uint8_t *data;
	size_t size;
};

static void drain(struct ring *r)
{
	uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->meta->data_tail;
	uint8_t buf[8 * (MAX_DEPTH + 512)];

	while (tail < head) {
		struct perf_event_header h;
		size_t off = tail % r->size;

		for (size_t i = 0; i < sizeof(h); i++)
			((uint8_t *)&h)[i] = r->data[(off + i) % r->size];
		if (h.size < sizeof(h) || h.size > sizeof(buf))
			break;
		for (size_t i = 0; i < h.size; i++)
			buf[i] = r->data[(off + i) % r->size];
		if (h.type == PERF_RECORD_SAMPLE) {
			uint64_t *p = (uint64_t *)(buf + sizeof(h));
			uint64_t ip = p[0];
			uint32_t pid = (uint32_t)p[1];
			uint64_t nr = 0, *chain = NULL;

			if (callchains) {
				nr = p[2];
				chain = &p[3];
				if ((3 + nr) * 8 + sizeof(h) > h.size)
					nr = 0;
			}
			account(pid, ip, chain, nr);
		} else if (h.type == PERF_RECORD_LOST) {
			n_lost += ((uint64_t *)(buf + sizeof(h)))[1];
		}
		tail += h.size;
	}
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
}

static int by_self(const void *a, const void *b)
{
	const struct sym *x = *(struct sym *const *)a, *y = *(struct sym *const *)b;

	return x->self < y->self ? 1 : x->self > y->self ? -1 : 0;
}

static int by_incl(const void *a, const void *b)
{
	const struct sym *x = *(struct sym *const *)a, *y = *(struct sym *const *)b;

	return x->incl < y->incl ? 1 : x->incl > y->incl ? -1 : 0;
}

static double pct(uint64_t n)
{
	return n_samples ? 100.0 * n / n_samples : 0;
}

int main(int argc, char **argv)
{
	struct ring rings[MAX_CPUS];
	int n_rings = 0, top = 40, hz = 10000, opt, status = 0;
	const char *prefix = NULL;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct sym **hot;
	size_t n_hot = 0;
	pid_t child;

	while ((opt = getopt(argc, argv, "+F:gn:p:c:a:")) != -1) {
		switch (opt) {
		case 'F': hz = atoi(optarg); break;
		case 'g': callchains = 1; break;
		case 'n': top = atoi(optarg); break;
		case 'p': prefix = optarg; break;
		case 'c':
			if (n_callees < MAX_CALLEES)
				callee_pat[n_callees++] = optarg;
			break;
		case 'a':
			if (n_annotate < MAX_ANNOTATE)
				annotate_pat[n_annotate++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: kprof [-F HZ] [-g] [-n TOP] [-p PREFIX] [-c SYM]... "
				"[-a SYM]... -- CMD...\n");
			return 2;
		}
	}
	if (optind >= argc || hz <= 0) {
		fprintf(stderr, "kprof: no command\n");
		return 2;
	}
	self_pid = getpid();
	write_file("/proc/sys/kernel/kptr_restrict", "0");
	write_file("/proc/sys/kernel/perf_event_paranoid", "-1");
	if (load_kallsyms()) {
		fprintf(stderr, "kprof: cannot read /proc/kallsyms\n");
		return 1;
	}
	for (int k = 0; k < n_annotate; k++) {
		for (size_t i = 0; i < n_syms && !annotate_sym[k]; i++)
			if (strstr(syms[i].name, annotate_pat[k]))
				annotate_sym[k] = &syms[i];
		annotate_hits[k] = calloc(ANNOTATE_BYTES, sizeof(uint32_t));
		if (!annotate_sym[k] || !annotate_hits[k]) {
			fprintf(stderr, "kprof: no symbol contains \"%s\"\n", annotate_pat[k]);
			return 1;
		}
	}
	if (ncpu > MAX_CPUS)
		ncpu = MAX_CPUS;
	for (int cpu = 0; cpu < ncpu; cpu++) {
		struct perf_event_attr a = { 0 };
		struct ring *r = &rings[n_rings];
		long pg = sysconf(_SC_PAGESIZE);
		void *m;

		a.size = sizeof(a);
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_CPU_CLOCK;
		a.sample_period = 1000000000ULL / hz;	/* ns of CPU clock */
		a.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID |
				(callchains ? PERF_SAMPLE_CALLCHAIN : 0);
		a.disabled = 1;
		a.exclude_callchain_user = 1;
		a.wakeup_events = 64;
		r->fd = (int)syscall(SYS_perf_event_open, &a, -1, cpu, -1, 0);
		if (r->fd < 0) {
			fprintf(stderr, "kprof: perf_event_open(cpu %d): %s\n", cpu, strerror(errno));
			return 1;
		}
		r->size = RING_PAGES * pg;
		m = mmap(NULL, (RING_PAGES + 1) * pg, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
		if (m == MAP_FAILED) {
			fprintf(stderr, "kprof: mmap: %s\n", strerror(errno));
			return 1;
		}
		r->meta = m;
		r->data = (uint8_t *)m + pg;
		n_rings++;
	}
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		execvp(argv[optind], &argv[optind]);
		perror(argv[optind]);
		_exit(127);
	}
	for (int i = 0; i < n_rings; i++)
		ioctl(rings[i].fd, PERF_EVENT_IOC_ENABLE, 0);
	for (;;) {
		struct pollfd p[MAX_CPUS];
		pid_t w;

		for (int i = 0; i < n_rings; i++)
			p[i] = (struct pollfd){ .fd = rings[i].fd, .events = POLLIN };
		poll(p, n_rings, 20);
		for (int i = 0; i < n_rings; i++)
			drain(&rings[i]);
		w = waitpid(child, &status, WNOHANG);
		if (w == child)
			break;
	}
	for (int i = 0; i < n_rings; i++) {
		ioctl(rings[i].fd, PERF_EVENT_IOC_DISABLE, 0);
		drain(&rings[i]);
	}

	printf("kprof: %llu samples (%.1f%% user, %.1f%% kernel) at %d Hz per CPU, %d CPUs; "
	       "not counted: %llu idle, %llu of kprof; %llu lost, %llu unknown IP\n",
	       (unsigned long long)n_samples, pct(n_user), 100 - pct(n_user), hz, n_rings,
	       (unsigned long long)n_idle, (unsigned long long)n_self_prof,
	       (unsigned long long)n_lost, (unsigned long long)n_unknown);
	hot = malloc(n_syms * sizeof(*hot));
	if (!hot)
		return 1;
	for (size_t i = 0; i < n_syms; i++)
		if (syms[i].incl)
			hot[n_hot++] = &syms[i];
	qsort(hot, n_hot, sizeof(*hot), by_self);
	printf("kprof: top %d kernel symbols by self samples (%% of non-idle samples)%s\n", top,
	       callchains ? "; incl: % of samples with it anywhere in the kernel chain" : "");
	printf("%7s %7s  %s\n", "self%", callchains ? "incl%" : "", "symbol");
	for (size_t i = 0; i < n_hot && i < (size_t)top && hot[i]->self; i++)
		if (callchains)
			printf("%6.2f%% %6.2f%%  %s\n", pct(hot[i]->self), pct(hot[i]->incl),
			       hot[i]->name);
		else
			printf("%6.2f%% %7s  %s\n", pct(hot[i]->self), "", hot[i]->name);
	if (callchains) {
		qsort(hot, n_hot, sizeof(*hot), by_incl);
		printf("kprof: top %d kernel symbols by inclusive samples\n", top);
		printf("%7s %7s  %s\n", "incl%", "self%", "symbol");
		for (size_t i = 0; i < n_hot && i < (size_t)top; i++)
			printf("%6.2f%% %6.2f%%  %s\n", pct(hot[i]->incl), pct(hot[i]->self),
			       hot[i]->name);
	}
	if (prefix) {
		if (!callchains)
			qsort(hot, n_hot, sizeof(*hot), by_incl);
		printf("kprof: symbols containing \"%s\", by inclusive samples\n", prefix);
		printf("%7s %7s  %s\n", "incl%", "self%", "symbol");
		for (size_t i = 0; i < n_hot; i++)
			if (strstr(hot[i]->name, prefix))
				printf("%6.2f%% %6.2f%%  %s\n", pct(hot[i]->incl),
				       pct(hot[i]->self), hot[i]->name);
	}
	for (int k = 0; callchains && k < n_callees; k++) {
		size_t n = 0;

		for (size_t i = 0; i < n_syms; i++)
			if (syms[i].calls[k])
				hot[n++] = &syms[i];
		cmp_calls_k = k;
		qsort(hot, n, sizeof(*hot), by_calls);
		printf("kprof: callers of \"%s\" (in %.2f%% of samples)\n", callee_pat[k],
		       pct(callee_hits[k]));
		for (size_t i = 0; i < n && i < (size_t)top; i++)
			printf("%6.2f%%  %s\n", pct(hot[i]->calls[k]), hot[i]->name);
	}
	for (int k = 0; k < n_annotate; k++) {
		printf("kprof: self samples of %s (%.2f%%) by offset\n", annotate_sym[k]->name,
		       pct(annotate_sym[k]->self));
		for (uint32_t off = 0; off < ANNOTATE_BYTES; off++)
			if (annotate_hits[k][off])
				printf("%6.2f%%  +0x%x\n", pct(annotate_hits[k][off]), off);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
