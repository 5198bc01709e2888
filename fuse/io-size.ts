/**
 * The largest single read or write the kernel hands the filesystem. libfuse 2
 * speaks a protocol without max_pages, so 128 KiB (32 pages) is the ceiling
 * for max_write and max_read; without big_writes it would send 4 KiB writes.
 * Also reported as st_blksize, the I/O size cp, stdio and others pick from stat.
 */
export const IO_SIZE = 128 * 1024;
