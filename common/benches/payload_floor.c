// The floor for moving 64 MiB to a worker process and back, three ways, in plain C so that no
// code of ours is in it:
//   raw:   one socket, both sides reading into and writing from warm buffers (the bench's peer);
//   memfd: a memory file made per message, its descriptor passed over the socket;
//   arena: two memory files mapped by both sides once, before the child starts, and kept.
// In the last two, each receiver copies the payload into a fresh private buffer (asking for
// huge pages, as common's big_buffer.rs does), as a pool must: the value becomes the caller's.
// The child flips every byte, as the bench's task does.
//
//   gcc -O2 -Wall -o /tmp/payload_floor common/benches/payload_floor.c && /tmp/payload_floor
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SIZE (64u << 20)
#define HUGE_PAGE (2u << 20)
#define ROUNDS 7

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void read_all(int fd, char *buf, size_t n) {
    while (n) {
        ssize_t got = read(fd, buf, n);
        if (got <= 0) exit(1);
        buf += got;
        n -= got;
    }
}

static void write_all(int fd, const char *buf, size_t n) {
    while (n) {
        ssize_t put = write(fd, buf, n);
        if (put <= 0) exit(1);
        buf += put;
        n -= put;
    }
}

static void flip(char *buf) {
    for (size_t i = 0; i < SIZE; i++) buf[i] = ~buf[i];
}

/// A fresh private buffer of SIZE bytes, advised to use huge pages.
static char *fresh(void) {
    char *buf = aligned_alloc(HUGE_PAGE, SIZE);
    if (!buf) exit(1);
    madvise(buf, SIZE, MADV_HUGEPAGE);
    return buf;
}

/// A memory file of SIZE bytes, mapped shared and writable.
static char *memory_file(int *fd) {
    *fd = memfd_create("payload", 0);
    if (*fd < 0 || ftruncate(*fd, SIZE) != 0) exit(1);
    char *at = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (at == MAP_FAILED) exit(1);
    return at;
}

static void send_fd(int line, int fd) {
    char byte = 'f', control[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec io = {&byte, 1};
    struct msghdr msg = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    struct cmsghdr *head = CMSG_FIRSTHDR(&msg);
    head->cmsg_level = SOL_SOCKET;
    head->cmsg_type = SCM_RIGHTS;
    head->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(head), &fd, sizeof fd);
    if (sendmsg(line, &msg, 0) != 1) exit(1);
}

static int receive_fd(int line) {
    char byte, control[CMSG_SPACE(sizeof(int))];
    struct iovec io = {&byte, 1};
    struct msghdr msg = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    if (recvmsg(line, &msg, 0) != 1) exit(1);
    int fd;
    memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof fd);
    return fd;
}

/// Copies a received memory file's bytes into a fresh buffer, and closes it.
static char *copy_out(int fd) {
    char *map = mmap(0, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) exit(1);
    char *value = fresh();
    memcpy(value, map, SIZE);
    munmap(map, SIZE);
    close(fd);
    return value;
}

/// A memory file holding a copy of `bytes`, unmapped (the descriptor keeps it).
static int copy_in(const char *bytes) {
    int fd;
    char *map = memory_file(&fd);
    memcpy(map, bytes, SIZE);
    munmap(map, SIZE);
    return fd;
}

static void child(int line, char *to_child, char *to_parent) {
    char *warm = malloc(SIZE);
    memset(warm, 0, SIZE);
    char mode;
    while (read(line, &mode, 1) == 1) {
        if (mode == 'r') {
            read_all(line, warm, SIZE);
            flip(warm);
            write_all(line, warm, SIZE);
        } else if (mode == 'm') {
            char *value = copy_out(receive_fd(line));
            flip(value);
            int fd = copy_in(value);
            free(value);
            send_fd(line, fd);
            close(fd);
        } else {
            char *value = fresh();
            memcpy(value, to_child, SIZE);
            flip(value);
            memcpy(to_parent, value, SIZE);
            free(value);
            write_all(line, "k", 1);
        }
    }
    exit(0);
}

int main(void) {
    int lines[2], fd;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, lines) != 0) return 1;
    char *to_child = memory_file(&fd), *to_parent = memory_file(&fd);
    memset(to_child, 0, SIZE);
    memset(to_parent, 0, SIZE);
    if (fork() == 0) {
        close(lines[0]);
        child(lines[1], to_child, to_parent);
    }
    close(lines[1]);
    int line = lines[0];
    char *payload = malloc(SIZE), *warm = malloc(SIZE);
    memset(payload, 7, SIZE);
    memset(warm, 0, SIZE);
    for (int round = 0; round < ROUNDS; round++) {
        double start = now_ms();
        write_all(line, "r", 1);
        write_all(line, payload, SIZE);
        read_all(line, warm, SIZE);
        double raw = now_ms() - start;

        start = now_ms();
        write_all(line, "m", 1);
        int out = copy_in(payload);
        send_fd(line, out);
        close(out);
        char *value = copy_out(receive_fd(line));
        double per_message = now_ms() - start;
        if (value[0] != (char)~7) return 2;
        free(value);

        start = now_ms();
        memcpy(to_child, payload, SIZE);
        write_all(line, "a", 1);
        char done;
        read_all(line, &done, 1);
        value = fresh();
        memcpy(value, to_parent, SIZE);
        double arena = now_ms() - start;
        if (value[SIZE - 1] != (char)~7) return 3;
        free(value);

        printf("raw socket %5.1f ms   memfd per message %5.1f ms (%.2fx)   kept arena %5.1f ms "
               "(%.2fx)\n", raw, per_message, per_message / raw, arena, arena / raw);
    }
    return 0;
}
