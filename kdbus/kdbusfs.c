// SPDX-License-Identifier: GPL-2.0
/*
 * kdbusfs: the filesystem glue of kdbus.
 *
 * This is the only C in kdbus.ko besides helpers.c. It exists because the
 * Rust bindings of the kernel cannot reach the fs_context layout and
 * get_tree_nodev() (the same reason Rust Binder keeps rust_binderfs.c):
 * the file system type, the superblock and the mount. Inodes, lookup,
 * readdir and dentry revalidation are Rust (kdbus/fs.rs), declared in
 * kdbusfs.h.
 *
 * sb->s_fs_info holds the domain's root node (dropped at kill_sb).
 */

#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/sysfs.h>
#include <linux/user_namespace.h>

#include "kdbusfs.h"

static const struct dentry_operations kdbusfs_dentry_ops = {
	.d_revalidate	= kdbusfs_d_revalidate,
	.d_delete	= always_delete_dentry,
};

static const struct super_operations kdbusfs_super_ops = {
	.statfs		= simple_statfs,
	.drop_inode	= inode_just_drop,
	.evict_inode	= kdbusfs_evict_inode,
};

static int kdbusfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct kdbus_node *root;
	struct inode *inode;
	int ret;

	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = KDBUS_SUPER_MAGIC;
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_time_gran = 1;
	sb->s_op = &kdbusfs_super_ops;
	set_default_d_op(sb, &kdbusfs_dentry_ops);

	ret = kdbus_domain_new(sb, fc->user_ns, &root);
	if (ret)
		return ret;
	sb->s_fs_info = root;

	inode = kdbusfs_iget_root(sb, root);
	if (IS_ERR(inode))
		return PTR_ERR(inode);
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

static void kdbusfs_kill_sb(struct super_block *sb)
{
	struct kdbus_node *root = sb->s_fs_info;

	kill_anon_super(sb);
	if (root)
		kdbus_domain_destroy(root);
}

static struct file_system_type kdbusfs_type = {
	.owner			= THIS_MODULE,
	.name			= KBUILD_MODNAME "fs",
	.init_fs_context	= kdbusfs_init_fs_context,
	.kill_sb		= kdbusfs_kill_sb,
	.fs_flags		= FS_USERNS_MOUNT,
};

/* Called from the Rust module init: /sys/fs/<module>, then the fs type. */
int kdbusfs_init(void)
{
	int ret;

	ret = sysfs_create_mount_point(fs_kobj, KBUILD_MODNAME);
	if (ret)
		return ret;

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
