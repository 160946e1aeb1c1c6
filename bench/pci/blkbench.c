/*
 * In-guest block benchmark for bench/pci: O_DIRECT I/O on a block device, one thread,
 * queue depth 1 (what a single busybox guest can drive). Prints one line per test:
 *   blkbench MODE BS OPS SECONDS MBps IOPS
 * Usage: blkbench DEV MODE BS SECONDS   (MODE: seqread seqwrite randread randwrite)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: blkbench DEV seqread|seqwrite|randread|randwrite BS SECONDS\n");
        return 2;
    }
    const char *mode = argv[2];
    long bs = atol(argv[3]);
    double secs = atof(argv[4]);
    int write = strstr(mode, "write") != NULL;
    int rnd = strncmp(mode, "rand", 4) == 0;
    int fd = open(argv[1], (write ? O_RDWR : O_RDONLY) | O_DIRECT);
    if (fd < 0) { perror("open"); return 1; }
    unsigned long long size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) < 0) { perror("BLKGETSIZE64"); return 1; }
    long blocks = size / bs;
    void *buf;
    if (posix_memalign(&buf, 4096, bs)) return 1;
    memset(buf, 0x5a, bs);
    unsigned long long x = 88172645463325252ULL;
    long ops = 0;
    double start = now(), end = start + secs, t = start;
    while (t < end) {
        long blk;
        if (rnd) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; blk = x % blocks; }
        else { blk = ops % blocks; }
        ssize_t r = write ? pwrite(fd, buf, bs, blk * bs) : pread(fd, buf, bs, blk * bs);
        if (r != bs) { perror("io"); return 1; }
        ops++;
        t = now();
    }
    double el = t - start;
    printf("blkbench %s %ld %ld %.3f %.2f %.1f\n", mode, bs, ops, el, ops * (double) bs / el / 1e6, ops / el);
    close(fd);
    return 0;
}
