// What touching fresh memory costs on this machine, round after round: map 64 MiB (advised
// for huge pages, as common's big_buffer.rs does), fill it twice, unmap it, pause. The first
// fill pays for the pages; the second is a warm copy, for scale. On a virtual machine whose
// host takes back freed memory (virtio_balloon free page reporting, DAMON pageout), some
// first fills cost ten times the others although the guest counts the same page faults:
// the pages were reported free and the host faults them in again. See common/README.md,
// "64 MiB ByteBuf there and back", and src/process_pool/kept.rs.
//
//   gcc -O2 -Wall -o /tmp/fresh_pages common/benches/fresh_pages.c
//   /tmp/fresh_pages 0; /tmp/fresh_pages 3000     (the pause between rounds, in ms)
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SIZE (64u << 20)
#define ROUNDS 12

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    int pause_ms = argc > 1 ? atoi(argv[1]) : 0;
    printf("fresh fill / warm fill of 64 MiB, ms, %d ms apart:\n", pause_ms);
    for (int i = 0; i < ROUNDS; i++) {
        char *p = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return 1;
        madvise(p, SIZE, MADV_HUGEPAGE);
        double t0 = now_ms();
        memset(p, 1, SIZE);
        double t1 = now_ms();
        memset(p, 2, SIZE);
        double t2 = now_ms();
        printf("%6.1f/%4.1f ", t1 - t0, t2 - t1);
        fflush(stdout);
        munmap(p, SIZE);
        usleep(pause_ms * 1000);
    }
    printf("\n");
    return 0;
}
