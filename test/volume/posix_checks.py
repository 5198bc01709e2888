"""POSIX behaviour of a mounted volume, checked with real system calls from
a process other than the mount. Prints one JSON object: check -> result
(an errno name, 'ok', or a value)."""
import errno
import json
import os
import sys

d = sys.argv[1]
res = {}


def e(name, f):
    try:
        out = f()
        res[name] = 'ok' if out is None else out
    except OSError as x:
        res[name] = errno.errorcode.get(x.errno, str(x.errno))


p = lambda *parts: os.path.join(d, *parts)


def write(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(path, flags, 0o644)
    os.write(fd, data)
    os.close(fd)


def read(path):
    with open(path, 'rb') as f:
        return f.read()


e('mkdir', lambda: os.mkdir(p('a')))
e('mkdir_exists', lambda: os.mkdir(p('a')))
e('mkdir_no_parent', lambda: os.mkdir(p('nope', 'b')))
e('name_too_long', lambda: os.mkdir(p('x' * 256)))
write(p('a', 'f'), b'hello')
e('rmdir_not_empty', lambda: os.rmdir(p('a')))
e('rmdir_file', lambda: os.rmdir(p('a', 'f')))
e('unlink_dir', lambda: os.unlink(p('a')))
e('open_dir_for_write', lambda: os.open(p('a'), os.O_WRONLY))
e('mkdir_under_file', lambda: os.mkdir(p('a', 'f', 'x')))
e('stat_missing', lambda: os.stat(p('missing')))
e('excl_create_exists', lambda: os.open(p('a', 'f'), os.O_CREAT | os.O_EXCL | os.O_WRONLY))

# rename replacing a target, atomically
write(p('new'), b'new contents')
write(p('old'), b'old contents')
e('rename_replace', lambda: os.rename(p('new'), p('old')))
res['rename_result'] = read(p('old')).decode()
os.mkdir(p('d1'))
os.mkdir(p('d2'))
write(p('d2', 'x'), b'1')
e('rename_dir_onto_nonempty', lambda: os.rename(p('d1'), p('d2')))
e('rename_file_onto_dir', lambda: os.rename(p('old'), p('d1')))
e('rename_dir_into_itself', lambda: os.rename(p('d2'), p('d2', 'sub')))

# hard links and unlink of an open file
e('link', lambda: os.link(p('old'), p('old2')))
res['nlink'] = os.stat(p('old')).st_nlink
fd = os.open(p('old2'), os.O_RDONLY)
os.unlink(p('old'))
os.unlink(p('old2'))
res['read_unlinked_open'] = os.read(fd, 100).decode()
os.close(fd)
e('stat_after_unlink', lambda: os.stat(p('old2')))

# symlinks
e('symlink', lambda: os.symlink('a/f', p('ln')))
res['readlink'] = os.readlink(p('ln'))
res['read_through_symlink'] = read(p('ln')).decode()
e('readlink_not_link', lambda: os.readlink(p('a', 'f')))

# truncate, ftruncate, O_APPEND
write(p('t'), b'0123456789')
os.truncate(p('t'), 4)
res['truncated'] = read(p('t')).decode()
fd = os.open(p('t'), os.O_RDWR)
os.ftruncate(fd, 8)
os.close(fd)
res['extended'] = list(read(p('t')))
write(p('t'), b'more', os.O_WRONLY | os.O_APPEND)
res['appended'] = read(p('t'))[-6:].decode('latin1')

# sparse file past 4 GiB
fd = os.open(p('sparse'), os.O_RDWR | os.O_CREAT, 0o644)
os.pwrite(fd, b'far', 5 * 2**30)
os.pwrite(fd, b'near', 100)
res['sparse_size'] = os.fstat(fd).st_size
res['sparse_far'] = os.pread(fd, 3, 5 * 2**30).decode()
res['sparse_hole'] = list(os.pread(fd, 4, 2**30))
os.fsync(fd)
os.close(fd)

# attributes
os.chmod(p('a', 'f'), 0o600)
res['mode'] = oct(os.stat(p('a', 'f')).st_mode & 0o777)
os.chown(p('a', 'f'), 1234, 5678)
st = os.stat(p('a', 'f'))
res['owner'] = [st.st_uid, st.st_gid]
os.utime(p('a', 'f'), (1_000_000, 1_000_000))
res['mtime'] = int(os.stat(p('a', 'f')).st_mtime)

# extended attributes
e('setxattr', lambda: os.setxattr(p('a', 'f'), 'user.note', b'value'))
res['getxattr'] = os.getxattr(p('a', 'f'), 'user.note').decode()
res['listxattr'] = os.listxattr(p('a', 'f'))
e('getxattr_missing', lambda: os.getxattr(p('a', 'f'), 'user.none'))
e('removexattr', lambda: os.removexattr(p('a', 'f'), 'user.note'))
e('getxattr_removed', lambda: os.getxattr(p('a', 'f'), 'user.note'))

# statfs
sv = os.statvfs(d)
res['statfs_ok'] = sv.f_blocks > 0 and sv.f_bsize > 0 and sv.f_namemax == 255

# fsync on a directory handle and on a file
fd = os.open(p('a', 'f'), os.O_RDONLY)
e('fsync_file', lambda: os.fsync(fd))
os.close(fd)
print(json.dumps(res))
