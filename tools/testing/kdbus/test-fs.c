// SPDX-License-Identifier: GPL-2.0
/*
 * kdbusfs as a filesystem and the module around it (fs-bus-endpoint.md §1,
 * §2, checklist §13 "Module and filesystem"; what test-module.c already
 * covers is not repeated): the empty sysfs mount point, the parameter's
 * effect on BUS_CREATOR_INFO, the fresh mount's listing and attributes,
 * domains per mount, bind mounts, the operations the VFS refuses, ioctl on
 * directories, (lazy) unmount, unloading and loading with parameters, and
 * a bounded stress of path walks racing bus and endpoint teardown.
 *
 * Not covered here: "existing connections keep exchanging messages" after
 * a lazy unmount (needs SEND/RECV); the lazy-unmount test checks the
 * non-messaging commands instead.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

FIXTURE(fs) {
	struct kdbus_domain d;
	struct kdbus_domain d2;	/* a second mount, if a test needs one */
	char bind[64];		/* a bind mount, if a test made one */
	char param[64];		/* attach_flags_mask to restore, if saved */
};

FIXTURE_SETUP(fs)
{
	self->param[0] = 0;
	self->bind[0] = 0;
	self->d2.root[0] = 0;
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
}

FIXTURE_TEARDOWN(fs)
{
	if (self->param[0])
		kdbus_write_file(KDBUS_PARAM_PATH, self->param);
	if (self->bind[0]) {
		umount2(self->bind, MNT_DETACH);
		rmdir(self->bind);
	}
	kdbus_domain_fini(&self->d2);
	kdbus_domain_fini(&self->d);
}

TEST(sysfs_mount_point_is_empty_directory)
{
	struct kdbus_dirent ents[8];
	struct statfs sfs;
	int n;

	ASSERT_EQ(0, statfs(KDBUS_SYSFS_DIR, &sfs));
	if (sfs.f_type == KDBUS_SUPER_MAGIC)
		SKIP(return, "a kdbusfs is mounted on " KDBUS_SYSFS_DIR);
	n = kdbus_read_dir(KDBUS_SYSFS_DIR, ents, 8);
	ASSERT_EQ(2, n);
	EXPECT_LE(0, kdbus_dirent_find(ents, n, "."));
	EXPECT_LE(0, kdbus_dirent_find(ents, n, ".."));
}

TEST_F(fs, param_zero_leaves_only_make_name_in_creator_info)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	char name[64], path[256];
	int ctl;

	ASSERT_LT(0, kdbus_read_file(KDBUS_PARAM_PATH, self->param, sizeof(self->param)));
	self->param[strcspn(self->param, "\n")] = 0;
	ctl = kdbus_open_control(self->d.root);
	ASSERT_LE(0, ctl);
	kdbus_domain_name(&self->d, name, sizeof(name), "pz");
	ASSERT_EQ(0, kdbus_bus_make(ctl, 0, name, 64, 1,
				    KDBUS_OPT_ATTACH_SEND(_KDBUS_ATTACH_ALL)));
	ASSERT_EQ(0, kdbus_conn_open(&c, kdbus_path(path, sizeof(path), self->d.root,
						    "%s/bus", name),
				     0, KDBUS_TEST_POOL_SIZE));

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, "0"));
	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, _KDBUS_ATTACH_ALL, &info, NULL));
	EXPECT_EQ(1, kdbus_info_count(info));
	EXPECT_EQ(KDBUS_ITEM_MAKE_NAME, info->items[0].type);
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, KDBUS_PARAM_DEFAULT));
	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, _KDBUS_ATTACH_ALL, &info, NULL));
	EXPECT_EQ(KDBUS_ITEM_MAKE_NAME, info->items[0].type);
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_CREDS));
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_PIDS));
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	kdbus_conn_close(&c);
	close(ctl);
}

TEST_F(fs, fresh_mount_lists_only_control)
{
	struct kdbus_dirent ents[8];
	int n, i;

	n = kdbus_read_dir(self->d.root, ents, 8);
	ASSERT_EQ(3, n);
	EXPECT_LE(0, kdbus_dirent_find(ents, n, "."));
	EXPECT_LE(0, kdbus_dirent_find(ents, n, ".."));
	i = kdbus_dirent_find(ents, n, "control");
	ASSERT_LE(0, i);
	EXPECT_EQ(DT_REG, ents[i].type);
}

TEST_F(fs, control_is_0666_root_owned_regular_file)
{
	struct kdbus_dirent ents[8];
	char path[256];
	struct stat st;
	int n, i;

	ASSERT_EQ(0, stat(kdbus_path(path, sizeof(path), self->d.root, "control"), &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(0666, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, st.st_gid);
	EXPECT_EQ(0, st.st_size);
	EXPECT_EQ(1, st.st_nlink);

	n = kdbus_read_dir(self->d.root, ents, 8);
	i = kdbus_dirent_find(ents, n, "control");
	ASSERT_LE(0, i);
	EXPECT_EQ(st.st_ino, ents[i].ino);
}

TEST_F(fs, inode_numbers_are_unique_and_match_readdir)
{
	struct kdbus_dirent ents[8];
	struct stat root, ctl, bus, ep;
	char name[64], path[256];
	int owner, n, i;

	owner = kdbus_create_bus(self->d.root, 0, "ino", name);
	ASSERT_LE(0, owner);
	ASSERT_EQ(0, stat(self->d.root, &root));
	ASSERT_EQ(0, stat(kdbus_path(path, sizeof(path), self->d.root, "control"), &ctl));
	ASSERT_EQ(0, stat(kdbus_path(path, sizeof(path), self->d.root, "%s", name), &bus));
	ASSERT_EQ(0, stat(kdbus_path(path, sizeof(path), self->d.root, "%s/bus", name), &ep));

	EXPECT_NE(root.st_ino, ctl.st_ino);
	EXPECT_NE(root.st_ino, bus.st_ino);
	EXPECT_NE(root.st_ino, ep.st_ino);
	EXPECT_NE(ctl.st_ino, bus.st_ino);
	EXPECT_NE(ctl.st_ino, ep.st_ino);
	EXPECT_NE(bus.st_ino, ep.st_ino);

	n = kdbus_read_dir(self->d.root, ents, 8);
	i = kdbus_dirent_find(ents, n, name);
	ASSERT_LE(0, i);
	EXPECT_EQ(bus.st_ino, ents[i].ino);
	EXPECT_EQ(DT_DIR, ents[i].type);
	n = kdbus_read_dir(kdbus_path(path, sizeof(path), self->d.root, "%s", name), ents, 8);
	i = kdbus_dirent_find(ents, n, "bus");
	ASSERT_LE(0, i);
	EXPECT_EQ(ep.st_ino, ents[i].ino);
	EXPECT_EQ(DT_REG, ents[i].type);
	close(owner);
}

TEST_F(fs, separate_mounts_are_separate_domains)
{
	struct kdbus_domain *d2 = &self->d2;
	struct kdbus_dirent ents[8];
	char name[64], path[256];
	struct stat st;
	int owner, ctl2;

	ASSERT_EQ(0, kdbus_domain_init(d2));
	owner = kdbus_create_bus(self->d.root, 0, "dom", name);
	ASSERT_LE(0, owner);

	/* Invisible in the other mount... */
	EXPECT_EQ(-1, stat(kdbus_path(path, sizeof(path), d2->root, "%s", name), &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(3, kdbus_read_dir(d2->root, ents, 8));
	/* ...and the same name can be created there. */
	ctl2 = kdbus_open_control(d2->root);
	ASSERT_LE(0, ctl2);
	EXPECT_EQ(0, kdbus_bus_make(ctl2, 0, name, 64, 1));
	EXPECT_EQ(0, stat(kdbus_path(path, sizeof(path), d2->root, "%s", name), &st));

	close(ctl2);
	close(owner);
}

TEST_F(fs, bind_mount_shows_same_buses)
{
	char *bind = self->bind;
	char name[64], name2[64], path[256];
	struct stat a, b;
	int owner, ctl;

	strcpy(bind, "/tmp/kdbus-bind.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(bind));
	ASSERT_EQ(0, mount(self->d.root, bind, NULL, MS_BIND, NULL));

	owner = kdbus_create_bus(self->d.root, 0, "bind", name);
	ASSERT_LE(0, owner);
	EXPECT_EQ(0, stat(kdbus_path(path, sizeof(path), bind, "%s/bus", name), &b));
	EXPECT_EQ(0, stat(kdbus_path(path, sizeof(path), self->d.root, "%s/bus", name), &a));
	EXPECT_EQ(a.st_dev, b.st_dev);
	EXPECT_EQ(a.st_ino, b.st_ino);

	/* And the other way round: made through the bind mount. */
	ctl = kdbus_open_control(bind);
	ASSERT_LE(0, ctl);
	kdbus_domain_name(&self->d, name2, sizeof(name2), "bind");
	EXPECT_EQ(0, kdbus_bus_make(ctl, 0, name2, 64, 1));
	EXPECT_EQ(0, stat(kdbus_path(path, sizeof(path), self->d.root, "%s", name2), &a));

	close(ctl);
	close(owner);
}

static int mkdir_as_user(void *arg)
{
	const char *path = arg;

	if (mkdir(path, 0700) == 0)
		return 1;
	return errno == EACCES ? 0 : 2;
}

TEST_F(fs, mkdir_eperm_for_root_eacces_for_others)
{
	char path[256];

	kdbus_path(path, sizeof(path), self->d.root, "x");
	EXPECT_EQ(-1, mkdir(path, 0700));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, mkdir_as_user, path));
}

TEST_F(fs, symlink_link_mknod_eperm_for_root)
{
	char path[256], ctl[256];

	kdbus_path(path, sizeof(path), self->d.root, "x");
	kdbus_path(ctl, sizeof(ctl), self->d.root, "control");
	EXPECT_EQ(-1, symlink("control", path));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, link(ctl, path));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mknod(path, S_IFIFO | 0600, 0));
	EXPECT_EQ(EPERM, errno);
}

static int create_as_user(void *arg)
{
	const char *path = arg;
	int fd = open(path, O_CREAT | O_RDWR, 0600);

	if (fd >= 0)
		return 1;
	return errno == EACCES ? 0 : 2;
}

TEST_F(fs, open_creat_new_name_eacces)
{
	char path[256];

	kdbus_path(path, sizeof(path), self->d.root, "newfile");
	EXPECT_EQ(-1, open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, create_as_user, path));
}

TEST_F(fs, open_creat_existing_file_opens_it)
{
	char path[256];
	int fd;

	kdbus_path(path, sizeof(path), self->d.root, "control");
	fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(-1, open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
	EXPECT_EQ(EEXIST, errno);
}

TEST_F(fs, unlink_rmdir_rename_eperm_for_root)
{
	char name[64], other[64], path[256], path2[256];
	struct stat st;
	int owner;

	owner = kdbus_create_bus(self->d.root, 0, "rm", name);
	ASSERT_LE(0, owner);

	EXPECT_EQ(-1, unlink(kdbus_path(path, sizeof(path), self->d.root, "control")));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, unlink(kdbus_path(path, sizeof(path), self->d.root, "%s/bus", name)));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, rmdir(kdbus_path(path, sizeof(path), self->d.root, "%s", name)));
	EXPECT_EQ(EPERM, errno);
	kdbus_domain_name(&self->d, other, sizeof(other), "rm");
	EXPECT_EQ(-1, rename(kdbus_path(path, sizeof(path), self->d.root, "%s", name),
			     kdbus_path(path2, sizeof(path2), self->d.root, "%s", other)));
	EXPECT_EQ(EPERM, errno);

	/* Nothing changed. */
	EXPECT_EQ(0, stat(kdbus_path(path, sizeof(path), self->d.root, "control"), &st));
	EXPECT_EQ(0, stat(kdbus_path(path, sizeof(path), self->d.root, "%s/bus", name), &st));
	EXPECT_EQ(-1, stat(kdbus_path(path, sizeof(path), self->d.root, "%s", other), &st));
	EXPECT_EQ(ENOENT, errno);
	close(owner);
}

TEST_F(fs, kdbus_ioctl_on_directory_enotty)
{
	struct kdbus_builder b;
	struct kdbus_cmd_hello hello;
	char name[64], path[256];
	int dirs[2], owner, i;

	owner = kdbus_create_bus(self->d.root, 0, "dir", name);
	ASSERT_LE(0, owner);
	dirs[0] = open(self->d.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dirs[1] = open(kdbus_path(path, sizeof(path), self->d.root, "%s", name),
		       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dirs[0]);
	ASSERT_LE(0, dirs[1]);

	for (i = 0; i < 2; i++) {
		kdbus_b_init(&b, sizeof(struct kdbus_cmd));
		kdbus_b_str(&b, KDBUS_ITEM_MAKE_NAME, name);
		kdbus_b_bloom(&b, 64, 1);
		EXPECT_EQ(-ENOTTY, kdbus_ioctl(dirs[i], KDBUS_CMD_BUS_MAKE, kdbus_b_cmd(&b)));
		EXPECT_EQ(-ENOTTY, kdbus_ep_make(dirs[i], 0, name));
		EXPECT_EQ(-ENOTTY, kdbus_hello(dirs[i], 0, 0, 0, KDBUS_TEST_POOL_SIZE, &hello));
		EXPECT_EQ(-ENOTTY, kdbus_cmd_simple(dirs[i], KDBUS_CMD_LIST));
		EXPECT_EQ(-ENOTTY, kdbus_cmd_simple(dirs[i], KDBUS_CMD_ENDPOINT_UPDATE));
		close(dirs[i]);
	}
	close(owner);
}

TEST_F(fs, read_on_directory_eisdir)
{
	char buf[16];
	int fd = open(self->d.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EISDIR, errno);
	close(fd);
}

TEST_F(fs, plain_umount_busy_lazy_umount_keeps_domain_working)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	char name[64], path[256];
	int owner, untyped, dirfd, fd2;

	owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "um", name);
	ASSERT_LE(0, owner);
	ASSERT_EQ(0, kdbus_conn_open(&c, kdbus_path(path, sizeof(path), self->d.root,
						    "%s/bus", name),
				     0, KDBUS_TEST_POOL_SIZE));
	untyped = kdbus_open_bus(self->d.root, name);
	ASSERT_LE(0, untyped);
	dirfd = open(kdbus_path(path, sizeof(path), self->d.root, "%s", name),
		     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dirfd);

	EXPECT_EQ(-1, umount(self->d.root));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, umount2(self->d.root, MNT_DETACH));

	/* Existing handles keep working after the detach. */
	EXPECT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, 0, &info, NULL));
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	EXPECT_EQ(0, kdbus_hello(untyped, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
	/* openat() through an open directory handle too. */
	fd2 = openat(dirfd, "bus", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, kdbus_hello(fd2, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));

	close(fd2);
	close(dirfd);
	close(untyped);
	kdbus_conn_close(&c);
	close(owner);
}

/*
 * Stress (bounded: CHURN_SECS): path walks below the mount, most of them
 * in RCU mode, revalidate cached dentries of a bus and of a custom
 * endpoint while another thread creates and tears down a bus and an
 * endpoint with those very names, over and over. Revalidation under RCU
 * must not touch a node that teardown already freed; a use-after-free
 * shows as a KASAN report in the kernel log (which fails the VM run), so
 * the test itself checks only that every walk ends in success or in the
 * errors of a vanished node.
 */
#define CHURN_SECS	4
#define CHURN_WALKERS	2

struct churn {
	char root[64];
	char bus[64];
	char ep[64];
	char bus_dir[256], bus_path[256], ep_path[256];
	uint64_t deadline;
	int stop;		/* atomic */
	unsigned long cycles, walks, hits;
	int err;		/* first unexpected errno */
	char what[64];
};

static void churn_unexpected(struct churn *c, const char *what, int err)
{
	if (!__atomic_load_n(&c->err, __ATOMIC_SEQ_CST)) {
		snprintf(c->what, sizeof(c->what), "%s", what);
		__atomic_store_n(&c->err, err, __ATOMIC_SEQ_CST);
	}
}

static void *churn_make(void *arg)
{
	struct churn *c = arg;

	while (kdbus_now_ns() < c->deadline && !__atomic_load_n(&c->err, __ATOMIC_SEQ_CST)) {
		int ctl, epo, ret, held;

		ctl = kdbus_open_control(c->root);
		if (ctl < 0) {
			churn_unexpected(c, "open control", -ctl);
			break;
		}
		ret = kdbus_bus_make(ctl, KDBUS_MAKE_ACCESS_WORLD, c->bus, 64, 1);
		if (ret < 0) {
			churn_unexpected(c, "BUS_MAKE", -ret);
			close(ctl);
			break;
		}
		epo = kdbus_open_bus(c->root, c->bus);
		ret = epo < 0 ? epo : kdbus_ep_make(epo, KDBUS_MAKE_ACCESS_WORLD, c->ep);
		if (ret < 0) {
			churn_unexpected(c, "ENDPOINT_MAKE", -ret);
			if (epo >= 0)
				close(epo);
			close(ctl);
			break;
		}
		/* Hold the endpoint's dentry a moment, as a client would. */
		held = kdbus_open_ep(c->root, c->bus, c->ep);
		if (held >= 0)
			close(held);
		close(epo);	/* endpoint teardown */
		close(ctl);	/* bus teardown */
		c->cycles++;
	}
	__atomic_store_n(&c->stop, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* 0 if @ret is success or the error of a node that is not (or no longer)
 * there, else the errno. */
static int churn_check(int ret)
{
	if (ret >= 0)
		return 0;
	return errno == ENOENT || errno == ESHUTDOWN ? 0 : errno;
}

/* Walks: stat() and access() (cheap, RCU walks through cached dentries),
 * and every eighth time open() of both nodes. */
static void *churn_walk(void *arg)
{
	struct churn *c = arg;
	unsigned long n = 0;
	struct stat st;
	int fd, ret, err;

	while (!__atomic_load_n(&c->stop, __ATOMIC_SEQ_CST)) {
		ret = stat(c->bus_path, &st);
		if (ret == 0)
			__atomic_add_fetch(&c->hits, 1, __ATOMIC_RELAXED);
		else if ((err = churn_check(ret)))
			churn_unexpected(c, "stat bus", err);
		if ((err = churn_check(access(c->ep_path, F_OK))))
			churn_unexpected(c, "access endpoint", err);
		if ((err = churn_check(stat(c->bus_dir, &st))))
			churn_unexpected(c, "stat bus dir", err);
		__atomic_add_fetch(&c->walks, 1, __ATOMIC_RELAXED);
		if (n++ % 8)
			continue;
		fd = open(c->bus_path, O_RDWR | O_CLOEXEC);
		if ((err = churn_check(fd)))
			churn_unexpected(c, "open bus", err);
		if (fd >= 0)
			close(fd);
		fd = open(c->ep_path, O_RDWR | O_CLOEXEC);
		if ((err = churn_check(fd)))
			churn_unexpected(c, "open endpoint", err);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

TEST_F_TIMEOUT(fs, stress_path_walks_while_buses_and_endpoints_come_and_go, 120)
{
	struct churn *c = calloc(1, sizeof(*c));
	pthread_t maker, walkers[CHURN_WALKERS];
	struct stat st;
	int i;

	ASSERT_NE(NULL, c);
	snprintf(c->root, sizeof(c->root), "%s", self->d.root);
	kdbus_domain_name(&self->d, c->bus, sizeof(c->bus), "churn");
	kdbus_domain_name(&self->d, c->ep, sizeof(c->ep), "churn-ep");
	kdbus_path(c->bus_dir, sizeof(c->bus_dir), c->root, "%s", c->bus);
	kdbus_path(c->bus_path, sizeof(c->bus_path), c->root, "%s/bus", c->bus);
	kdbus_path(c->ep_path, sizeof(c->ep_path), c->root, "%s/%s", c->bus, c->ep);
	c->deadline = kdbus_now_ns() + CHURN_SECS * 1000000000ULL;
	for (i = 0; i < CHURN_WALKERS; i++)
		ASSERT_EQ(0, pthread_create(&walkers[i], NULL, churn_walk, c));
	ASSERT_EQ(0, pthread_create(&maker, NULL, churn_make, c));
	pthread_join(maker, NULL);
	for (i = 0; i < CHURN_WALKERS; i++)
		pthread_join(walkers[i], NULL);
	TH_LOG("%lu bus/endpoint cycles, %lu walks, %lu found the bus", c->cycles, c->walks,
	       c->hits);
	EXPECT_EQ(0, c->err) TH_LOG("%s: errno %d", c->what, c->err);
	EXPECT_LT(0, c->cycles);
	EXPECT_LT(0, c->walks);
	/* Everything is gone at the end. */
	EXPECT_EQ(-1, stat(c->bus_dir, &st));
	EXPECT_EQ(ENOENT, errno);
	free(c);
}

/*
 * Unloading and loading. These need the module file (default
 * /kdbus/kdbus.ko in the test VM, or $KDBUS_MODULE_KO) and no kdbusfs in
 * use anywhere; they leave the module loaded with default parameters.
 * They have their own fixture, declared last, so that the harness runs
 * them after every other test of this file.
 */
FIXTURE(module_reload) {
	int unused;
};

FIXTURE_SETUP(module_reload)
{
}

FIXTURE_TEARDOWN(module_reload)
{
}

static const char *module_ko(void)
{
	const char *p = getenv("KDBUS_MODULE_KO");

	return p && *p ? p : KDBUS_MODULE_KO;
}

static bool kdbusfs_mounted(void)
{
	static char buf[65536];

	if (kdbus_read_file("/proc/mounts", buf, sizeof(buf)) < 0)
		return true;
	return strstr(buf, " " KDBUS_FSTYPE " ") != NULL;
}

static int load_module(const char *params)
{
	int ret, fd = open(module_ko(), O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/* Superblocks of lazily detached mounts may be released asynchronously
 * after the processes of earlier tests exited: retry for a while. */
static int unload_module(void)
{
	int i, ret = 0;

	for (i = 0; i < 50; i++) {
		if (syscall(SYS_delete_module, KDBUS_MODULE, O_NONBLOCK) == 0)
			return 0;
		ret = -errno;
		if (ret != -EWOULDBLOCK && ret != -EBUSY)
			break;
		usleep(100 * 1000);
	}
	return ret;
}

TEST_F(module_reload, unload_when_unused_removes_sysfs_dir)
{
	struct stat st;

	if (access(module_ko(), R_OK))
		SKIP(return, "no module file at %s", module_ko());
	if (kdbusfs_mounted())
		SKIP(return, "a kdbusfs is mounted");
	ASSERT_EQ(0, unload_module());
	EXPECT_EQ(-1, stat(KDBUS_SYSFS_DIR, &st));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, load_module(""));
	EXPECT_EQ(0, stat(KDBUS_SYSFS_DIR, &st));
}

TEST_F(module_reload, load_with_all_ones_mask_reads_u64_max)
{
	char buf[64];

	if (access(module_ko(), R_OK))
		SKIP(return, "no module file at %s", module_ko());
	if (kdbusfs_mounted())
		SKIP(return, "a kdbusfs is mounted");
	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module("attach_flags_mask=0xffffffffffffffff"));
	EXPECT_LT(0, kdbus_read_file(KDBUS_PARAM_PATH, buf, sizeof(buf)));
	EXPECT_STREQ("18446744073709551615\n", buf);

	ASSERT_EQ(0, unload_module());
	ASSERT_EQ(0, load_module(""));
	ASSERT_LT(0, kdbus_read_file(KDBUS_PARAM_PATH, buf, sizeof(buf)));
	EXPECT_STREQ(KDBUS_PARAM_DEFAULT "\n", buf);
}

TEST_HARNESS_MAIN
