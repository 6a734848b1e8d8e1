/*
 * negsync benchmark, C face: the same exchanges and set builds as benches/suite (Rust) and
 * bindings/python/bench/bench.py, on the same data file, through the C ABI only.
 *
 *   bench exchange FILE LIMIT REPS WARMUPS
 *                                    REPS whole exchanges (both sides, every round, this process)
 *                                    after WARMUPS unrecorded ones
 *   bench build FILE REPS            S4: side A built by negsync_set_insert_many (+ the seal),
 *                                    and by a per-item negsync_set_insert loop for comparison
 *
 * Prints one JSON line per measurement (the format of benches/suite/record.rs); benches/run.py
 * collects them. The data file is written by `suite generate` (layout in benches/suite/data.rs).
 * Not a test and not an example: `make bench` builds it, `make test` never does.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "negsync.h"

/* A benchmark has no use for a failed call: say which one and stop. */
#define CHECK(call)                                                                        \
    do {                                                                                   \
        negsync_result check_result_ = (call);                                             \
        if (check_result_ != NEGSYNC_OK) {                                                 \
            fprintf(stderr, "bench: %s failed: %s\n", #call,                               \
                    negsync_result_str(check_result_));                                    \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static void fail(const char *what) {
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One peer's items in insert_many layout: ids holds NEGSYNC_ID_SIZE bytes per timestamp. */
struct side {
    size_t count;
    uint64_t *timestamps;
    uint8_t *ids;
};

static uint64_t read_le64(const uint8_t *bytes) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = (value << 8) | bytes[i];
    return value;
}

static void read_exact(FILE *file, void *into, size_t len) {
    if (len != 0 && fread(into, 1, len, file) != len) fail("data file is shorter than its header says");
}

static struct side read_side(FILE *file, size_t count) {
    struct side side = {count, malloc(count * sizeof(uint64_t) + 1), malloc(count * NEGSYNC_ID_SIZE + 1)};
    if (side.timestamps == NULL || side.ids == NULL) fail("out of memory");
    read_exact(file, side.timestamps, count * sizeof(uint64_t));
    /* The file is little-endian; decode in place so a big-endian host reads it right too. */
    for (size_t i = 0; i < count; i++) side.timestamps[i] = read_le64((const uint8_t *)&side.timestamps[i]);
    read_exact(file, side.ids, count * NEGSYNC_ID_SIZE);
    return side;
}

static void read_pair(const char *path, struct side *a, struct side *b) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) fail("cannot open the data file (run `suite generate DIR` first)");
    uint8_t header[24];
    read_exact(file, header, sizeof header);
    if (memcmp(header, "NSBENCH1", 8) != 0) fail("not a negsync bench data file");
    size_t count_a = (size_t)read_le64(header + 8);
    size_t count_b = (size_t)read_le64(header + 16);
    *a = read_side(file, count_a);
    *b = read_side(file, count_b);
    fclose(file);
}

static void free_side(struct side *side) {
    free(side->timestamps);
    free(side->ids);
}

/* insert_many, then negsync_set_len, which seals the set into its snapshot: the same work as
 * the Rust bench's insert_many + snapshot(). */
static negsync_set *build_set(const struct side *side) {
    negsync_set *set = NULL;
    CHECK(negsync_set_new(&set));
    CHECK(negsync_set_insert_many(set, side->timestamps, side->ids, side->count));
    if (negsync_set_len(set) == 0 && side->count != 0) fail("set is empty after insert_many");
    return set;
}

/* The wrapping sum of each ID's first eight bytes, little-endian: the order-independent check
 * every face computes, so the driver can tell all four found exactly the same IDs. */
static uint64_t id_checksum(const uint8_t *ids, size_t count) {
    uint64_t sum = 0;
    for (size_t i = 0; i < count; i++) sum += read_le64(ids + i * NEGSYNC_ID_SIZE);
    return sum;
}

struct outcome {
    double seconds;
    uint64_t round_trips, bytes_to_responder, bytes_to_initiator;
    size_t have, need;
    uint64_t have_checksum, need_checksum;
};

/* One whole exchange. Messages go from one session straight into the other: each buffer stays
 * lent until the next call on the session that lent it, which comes only after the peer read it,
 * so nothing is copied on this side of the ABI. */
static struct outcome run_exchange(const negsync_set *set_a, const negsync_set *set_b, uint64_t limit) {
    struct outcome out = {0};
    double started = now_seconds();
    negsync_session *initiator = NULL, *responder = NULL;
    CHECK(negsync_session_new(set_a, limit, &initiator));
    CHECK(negsync_session_new(set_b, limit, &responder));
    const uint8_t *message = NULL;
    size_t message_len = 0;
    CHECK(negsync_session_initiate(initiator, &message, &message_len));
    for (;;) {
        const uint8_t *reply = NULL;
        size_t reply_len = 0;
        bool complete = false;
        out.bytes_to_responder += message_len;
        CHECK(negsync_session_reconcile(responder, message, message_len, &reply, &reply_len, &complete));
        out.bytes_to_initiator += reply_len;
        out.round_trips++;
        CHECK(negsync_session_reconcile(initiator, reply, reply_len, &message, &message_len, &complete));
        if (message_len == 0) break;
    }
    const uint8_t *have = NULL, *need = NULL;
    CHECK(negsync_session_have_ids(initiator, &have, &out.have));
    CHECK(negsync_session_need_ids(initiator, &need, &out.need));
    out.seconds = now_seconds() - started;
    out.have_checksum = id_checksum(have, out.have);
    out.need_checksum = id_checksum(need, out.need);
    negsync_session_free(initiator);
    negsync_session_free(responder);
    return out;
}

static void exchange(const char *path, uint64_t limit, long reps, long warmups) {
    struct side a, b;
    read_pair(path, &a, &b);
    negsync_set *set_a = build_set(&a);
    negsync_set *set_b = build_set(&b);
    free_side(&a);
    free_side(&b);
    /* As in the Rust bench: the first exchange in a process also pays for growing the heap. */
    for (long warmup = 0; warmup < warmups; warmup++) (void)run_exchange(set_a, set_b, limit);
    for (long rep = 0; rep < reps; rep++) {
        struct outcome out = run_exchange(set_a, set_b, limit);
        printf("{\"kind\":\"exchange\",\"variant\":\"c\",\"file\":\"%s\",\"frame_limit\":%" PRIu64
               ",\"seconds\":%.9e,\"round_trips\":%" PRIu64 ",\"bytes_to_responder\":%" PRIu64
               ",\"bytes_to_initiator\":%" PRIu64 ",\"have\":%zu,\"need\":%zu,\"have_checksum\":%" PRIu64
               ",\"need_checksum\":%" PRIu64 "}\n",
               path, limit, out.seconds, out.round_trips, out.bytes_to_responder, out.bytes_to_initiator,
               out.have, out.need, out.have_checksum, out.need_checksum);
        fflush(stdout);
    }
    negsync_set_free(set_a);
    negsync_set_free(set_b);
}

static void print_build(const char *method, double seconds, size_t items, size_t distinct) {
    printf("{\"kind\":\"build\",\"variant\":\"c\",\"method\":\"%s\",\"seconds\":%.9e,\"items\":%zu,"
           "\"distinct\":%zu}\n",
           method, seconds, items, distinct);
    fflush(stdout);
}

static void build(const char *path, long reps) {
    struct side a, b;
    read_pair(path, &a, &b);
    free_side(&b);
    for (long rep = 0; rep < reps; rep++) {
        double started = now_seconds();
        negsync_set *set = build_set(&a);
        double seconds = now_seconds() - started;
        print_build("insert_many", seconds, a.count, negsync_set_len(set));
        negsync_set_free(set);

        started = now_seconds();
        CHECK(negsync_set_new(&set));
        for (size_t i = 0; i < a.count; i++) CHECK(negsync_set_insert(set, a.timestamps[i], a.ids + i * NEGSYNC_ID_SIZE));
        size_t distinct = negsync_set_len(set);
        seconds = now_seconds() - started;
        print_build("insert_loop", seconds, a.count, distinct);
        negsync_set_free(set);
    }
    free_side(&a);
}

static long parse_number(const char *text) {
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < 0) fail("expected a non-negative number");
    return value;
}

int main(int argc, char **argv) {
    if (argc == 6 && strcmp(argv[1], "exchange") == 0) {
        exchange(argv[2], (uint64_t)parse_number(argv[3]), parse_number(argv[4]), parse_number(argv[5]));
    } else if (argc == 4 && strcmp(argv[1], "build") == 0) {
        build(argv[2], parse_number(argv[3]));
    } else {
        fprintf(stderr, "usage: bench exchange FILE LIMIT REPS WARMUPS | bench build FILE REPS\n");
        return 2;
    }
    return 0;
}
