// SPDX-License-Identifier: GPL-2.0
/*
 * The module itself (fs-bus-endpoint.md §1, §2.1, §2.2): the sysfs mount
 * point, the filesystem type, the attach_flags_mask parameter, what pins
 * the module, and the superblock every mount creates.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

TEST(sysfs_mount_point_exists)
{
	struct stat st;

	ASSERT_EQ(0, stat(KDBUS_SYSFS_DIR, &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(filesystem_type_registered)
{
	static char buf[8192];

	ASSERT_LT(0, kdbus_read_file("/proc/filesystems", buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "nodev\t" KDBUS_FSTYPE "\n"));
}

TEST(param_mode_0644_root)
{
	struct stat st;

	ASSERT_EQ(0, stat(KDBUS_PARAM_PATH, &st));
	EXPECT_EQ(0644, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, st.st_gid);
}

TEST(param_default_reads_decimal)
{
	char buf[64];

	ASSERT_LT(0, kdbus_read_file(KDBUS_PARAM_PATH, buf, sizeof(buf)));
	EXPECT_STREQ("10271\n", buf);
}

TEST(param_roundtrip_any_u64)
{
	static const char *const values[] = {
		"0", "18446744073709551615", "1", "16383", "9223372036854775808",
	};
	char buf[64], want[64];
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, values[i]));
		ASSERT_LT(0, kdbus_read_file(KDBUS_PARAM_PATH, buf, sizeof(buf)));
		snprintf(want, sizeof(want), "%s\n", values[i]);
		EXPECT_STREQ(want, buf);
	}
	/* Hex is accepted on write and reads back decimal. */
	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, "0x281f"));
	ASSERT_LT(0, kdbus_read_file(KDBUS_PARAM_PATH, buf, sizeof(buf)));
	EXPECT_STREQ("10271\n", buf);
	/* Garbage is refused and leaves the value alone. */
	EXPECT_EQ(-EINVAL, kdbus_write_file(KDBUS_PARAM_PATH, "lots"));
	ASSERT_LT(0, kdbus_read_file(KDBUS_PARAM_PATH, buf, sizeof(buf)));
	EXPECT_STREQ("10271\n", buf);
}

static int write_param(void *arg)
{
	int fd = open(KDBUS_PARAM_PATH, O_WRONLY);

	if (fd >= 0)
		return 1;
	return errno == EACCES ? 0 : 2;
}

static int read_param(void *arg)
{
	char buf[64];

	return kdbus_read_file(KDBUS_PARAM_PATH, buf, sizeof(buf)) > 0 ? 0 : 1;
}

TEST(param_world_readable_root_writable)
{
	EXPECT_EQ(0, kdbus_run_as(65534, 65534, read_param, NULL));
	EXPECT_EQ(0, kdbus_run_as(65534, 65534, write_param, NULL));
}

TEST(mount_statfs)
{
	char dir[64];
	struct statfs sfs;

	ASSERT_EQ(0, kdbus_mount_tmp(dir, sizeof(dir)));
	ASSERT_EQ(0, statfs(dir, &sfs));
	EXPECT_EQ(KDBUS_SUPER_MAGIC, (unsigned long)sfs.f_type);
	EXPECT_EQ(4096, sfs.f_bsize);
	EXPECT_EQ(255, sfs.f_namelen);
	EXPECT_EQ(0, sfs.f_blocks);
	EXPECT_EQ(0, sfs.f_files);
	kdbus_umount_tmp(dir);
}

TEST(mount_root_is_0555_root_owned)
{
	char dir[64];
	struct stat st;

	ASSERT_EQ(0, kdbus_mount_tmp(dir, sizeof(dir)));
	ASSERT_EQ(0, stat(dir, &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(0555, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, st.st_gid);
	EXPECT_EQ(2, st.st_nlink);
	kdbus_umount_tmp(dir);
}

TEST(mount_at_sysfs_mount_point)
{
	struct statfs sfs;

	ASSERT_EQ(0, mount("kdbusfs", KDBUS_SYSFS_DIR, KDBUS_FSTYPE,
			   MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL));
	EXPECT_EQ(0, statfs(KDBUS_SYSFS_DIR, &sfs));
	EXPECT_EQ(KDBUS_SUPER_MAGIC, (unsigned long)sfs.f_type);
	EXPECT_EQ(0, umount(KDBUS_SYSFS_DIR));
}

TEST(every_mount_is_a_new_superblock)
{
	char a[64], b[64];
	struct stat sa, sb;

	ASSERT_EQ(0, kdbus_mount_tmp(a, sizeof(a)));
	ASSERT_EQ(0, kdbus_mount_tmp(b, sizeof(b)));
	ASSERT_EQ(0, stat(a, &sa));
	ASSERT_EQ(0, stat(b, &sb));
	EXPECT_NE(sa.st_dev, sb.st_dev);
	kdbus_umount_tmp(a);
	kdbus_umount_tmp(b);
}

TEST(mount_options_are_ignored)
{
	char dir[64];

	ASSERT_EQ(0, kdbus_mount_tmp(dir, sizeof(dir)));
	kdbus_umount_tmp(dir);
	ASSERT_EQ(0, mkdir(dir, 0700));
	EXPECT_EQ(0, mount("x", dir, KDBUS_FSTYPE, 0, "no-such-option,other=1"));
	umount(dir);
	rmdir(dir);
}

TEST(mount_pins_module)
{
	char dir[64];

	if (kdbus_builtin())
		SKIP(return, "kdbus is built into the kernel");
	ASSERT_EQ(0, kdbus_mount_tmp(dir, sizeof(dir)));
	EXPECT_EQ(-1, syscall(SYS_delete_module, KDBUS_MODULE, O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	kdbus_umount_tmp(dir);
}

TEST_HARNESS_MAIN
