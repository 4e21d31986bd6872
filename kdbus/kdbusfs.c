// SPDX-License-Identifier: GPL-2.0
/*
 * kdbusfs: the filesystem glue of kdbus.
 *
 * This is the only C in kdbus.ko besides helpers.c. It exists because the
 * Rust bindings of the kernel cannot reach the fs_context layout,
 * get_tree_nodev() and inode creation (the same reason Rust Binder keeps
 * rust_binderfs.c). Everything here is mechanical VFS plumbing; every
 * decision (what a node is, whether it is visible, who may open it, what an
 * ioctl does) is made by the Rust side, through the kdbus_node_*() calls
 * declared in kdbusfs.h.
 *
 * inode->i_private holds a counted reference to the node (dropped at
 * eviction); sb->s_fs_info holds the domain's root node (dropped at
 * kill_sb). Inode numbers are node IDs.
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

static struct inode *kdbusfs_iget(struct super_block *sb, struct kdbus_node *node);

static const struct dentry_operations kdbusfs_dentry_ops;

/* Cached dentries of nodes that became inactive are discarded. */
static int kdbusfs_d_revalidate(struct inode *dir, const struct qstr *name,
				struct dentry *dentry, unsigned int flags)
{
	struct inode *inode = d_inode_rcu(dentry);

	if (!inode)
		return 0;
	return kdbus_node_is_active(inode->i_private) ? 1 : 0;
}

static const struct dentry_operations kdbusfs_dentry_ops = {
	.d_revalidate	= kdbusfs_d_revalidate,
	.d_delete	= always_delete_dentry,
};

static struct dentry *kdbusfs_lookup(struct inode *dir, struct dentry *dentry,
				     unsigned int flags)
{
	struct kdbus_node *node;
	struct inode *inode;

	node = kdbus_node_lookup(dir->i_private, dentry->d_name.name,
				 dentry->d_name.len);
	if (!node)
		return NULL; /* negative; never cached (always_delete_dentry) */
	inode = kdbusfs_iget(dir->i_sb, node);
	kdbus_node_put(node);
	if (IS_ERR(inode))
		return ERR_CAST(inode);
	return d_splice_alias(inode, dentry);
}

/* D2: attribute changes are refused, so nothing can silently revert. */
static int kdbusfs_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
			   struct iattr *iattr)
{
	return -EPERM;
}

static const struct inode_operations kdbusfs_dir_iops = {
	.lookup		= kdbusfs_lookup,
	.setattr	= kdbusfs_setattr,
};

static const struct inode_operations kdbusfs_file_iops = {
	.setattr	= kdbusfs_setattr,
};

/*
 * readdir: ".", "..", then the active children by increasing node ID; the
 * position after a child is its ID + 2, so a saved position resumes without
 * repeating or skipping (fs-bus-endpoint.md §12 D3).
 */
static int kdbusfs_readdir(struct file *file, struct dir_context *ctx)
{
	struct inode *dir = file_inode(file);
	struct kdbus_node *child;
	struct kdbus_node_attr attr;

	if (!dir_emit_dots(file, ctx))
		return 0;
	while ((child = kdbus_node_next(dir->i_private, ctx->pos - 2, &attr))) {
		bool ok = dir_emit(ctx, attr.name, attr.name_len, attr.id,
				   S_ISDIR(attr.mode) ? DT_DIR : DT_REG);
		kdbus_node_put(child);
		if (!ok)
			break;
		ctx->pos = (loff_t)attr.id + 2;
	}
	return 0;
}

static const struct file_operations kdbusfs_dir_fops = {
	.read		= generic_read_dir,
	.iterate_shared	= kdbusfs_readdir,
	.llseek		= generic_file_llseek,
};

static void kdbusfs_evict_inode(struct inode *inode)
{
	clear_inode(inode);
	kdbus_node_put(inode->i_private);
}

static const struct super_operations kdbusfs_super_ops = {
	.statfs		= simple_statfs,
	.drop_inode	= inode_just_drop,
	.evict_inode	= kdbusfs_evict_inode,
};

static struct inode *kdbusfs_iget(struct super_block *sb, struct kdbus_node *node)
{
	struct kdbus_node_attr attr;
	struct inode *inode;

	kdbus_node_attr(node, &attr);
	inode = iget_locked(sb, attr.id);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (!(inode_state_read_once(inode) & I_NEW))
		return inode;

	kdbus_node_get(node);
	inode->i_private = node;
	inode->i_mode = attr.mode;
	inode->i_uid = attr.uid;
	inode->i_gid = attr.gid;
	simple_inode_init_ts(inode);
	if (S_ISDIR(attr.mode)) {
		inode->i_op = &kdbusfs_dir_iops;
		inode->i_fop = &kdbusfs_dir_fops;
		set_nlink(inode, 2);
	} else {
		inode->i_op = &kdbusfs_file_iops;
		inode->i_fop = &kdbus_handle_fops;
	}
	unlock_new_inode(inode);
	return inode;
}

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

	inode = kdbusfs_iget(sb, root);
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
