// SPDX-License-Identifier: GPL-2.0
/*
 * kdbusfs: the filesystem glue of kdbus.
 *
 * This is the only C in kdbus.ko. It exists because the Rust bindings of the
 * kernel cannot reach the fs_context layout, get_tree_nodev() and inode
 * creation (the same reason Rust Binder keeps rust_binderfs.c). Everything
 * here is mechanical VFS plumbing; every decision (what a node is, who may
 * open it, what an ioctl does) is made by the Rust side.
 */

#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/sysfs.h>

#include "kdbusfs.h"

static const struct super_operations kdbusfs_super_ops = {
	.statfs		= simple_statfs,
	.drop_inode	= inode_just_drop,
};

static int kdbusfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct inode *inode;

	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = KDBUS_SUPER_MAGIC;
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_time_gran = 1;
	sb->s_op = &kdbusfs_super_ops;

	inode = new_inode(sb);
	if (!inode)
		return -ENOMEM;
	inode->i_ino = 1;
	inode->i_mode = S_IFDIR | 0555;
	inode->i_op = &simple_dir_inode_operations;
	inode->i_fop = &simple_dir_operations;
	simple_inode_init_ts(inode);
	set_nlink(inode, 2);

	sb->s_root = d_make_root(inode);
	if (!sb->s_root)
		return -ENOMEM;
	return 0;
}

static int kdbusfs_get_tree(struct fs_context *fc)
{
	return get_tree_nodev(fc, kdbusfs_fill_super);
}

/* Mount options are ignored, unknown ones included (fs-bus-endpoint §2.1). */
static int kdbusfs_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	if (!strcmp(param->key, "source"))
		return -ENOPARAM; /* let the VFS record it for /proc/mounts */
	return 0;
}

static const struct fs_context_operations kdbusfs_context_ops = {
	.parse_param	= kdbusfs_parse_param,
	.get_tree	= kdbusfs_get_tree,
};

static int kdbusfs_init_fs_context(struct fs_context *fc)
{
	fc->ops = &kdbusfs_context_ops;
	return 0;
}

static struct file_system_type kdbusfs_type = {
	.owner			= THIS_MODULE,
	.name			= KBUILD_MODNAME "fs",
	.init_fs_context	= kdbusfs_init_fs_context,
	.kill_sb		= kill_anon_super,
	.fs_flags		= FS_USERNS_MOUNT,
};

/* Called from the Rust module init: /sys/fs/<module>, then the fs type. */
int kdbusfs_init(void)
{
	int ret;

	ret = sysfs_create_mount_point(fs_kobj, KBUILD_MODNAME);
	if (ret)
		return -ENOMEM;

	ret = register_filesystem(&kdbusfs_type);
	if (ret) {
		sysfs_remove_mount_point(fs_kobj, KBUILD_MODNAME);
		return ret;
	}
	return 0;
}

/* Called from the Rust module exit; no superblock can exist any more. */
void kdbusfs_exit(void)
{
	unregister_filesystem(&kdbusfs_type);
	sysfs_remove_mount_point(fs_kobj, KBUILD_MODNAME);
}
