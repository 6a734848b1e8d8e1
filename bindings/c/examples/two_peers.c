/*
 * two_peers.c: two mesh nodes, A and B, reconcile their document sets with negsync.
 *
 * Each node knows its documents by key and version; a document's ID is
 * negsync_id_for_version(key, version), and its timestamp is the document's own last-change time
 * (never the time of the sync), so both nodes give the same document the same item. A initiates;
 * the messages would travel over the mesh, here they are handed across in one process. When A is
 * done it knows what it must send to B and what it must fetch from B.
 *
 * Build and run:  make demo   (or: make build/two_peers && ./build/two_peers)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negsync.h"

/* Both nodes hold this many unchanged sensor readings besides the documents below. */
#define SHARED_READINGS 1000
/* Frame limit for every message either node sends (as on a small-MTU mesh link). */
#define FRAME_LIMIT 4096
/* A safety stop: a real node would also have a timeout. */
#define MAX_ROUND_TRIPS 100

typedef struct {
    const char *key;
    const char *version; /* a content hash or CRDT heads in a real node */
    uint64_t changed_at; /* the document's own time, in seconds */
    bool on_a, on_b;
} document;

/* The documents that make the two nodes differ (and two they share). */
static const document documents[] = {
    {"notes/groceries", "v1", 1717400000, true, true},
    {"contacts/alice", "v3", 1717400100, true, true},
    {"notes/todo", "v1", 1717400200, false, true},      /* B still has the old version... */
    {"notes/todo", "v2", 1717486600, true, false},      /* ...A edited it the next day */
    {"photos/cat.jpg", "v1", 1717400300, true, false},  /* taken on A */
    {"calendar/2024-06", "v1", 1717400400, true, false}, /* created on A */
    {"photos/dog.jpg", "v1", 1717400500, false, true},  /* taken on B */
    {"contacts/bob", "v1", 1717400600, false, true},    /* added on B */
};
#define DOCUMENT_COUNT (sizeof documents / sizeof documents[0])

/* Prints a failed call with the library's description (and the session's detail, if any). */
static bool ok(negsync_result result, const char *call, const negsync_session *session) {
    if (result == NEGSYNC_OK) {
        return true;
    }
    fprintf(stderr, "error: %s: %s", call, negsync_result_str(result));
    if (session != NULL && negsync_session_last_error(session)[0] != '\0') {
        fprintf(stderr, " (%s)", negsync_session_last_error(session));
    }
    fprintf(stderr, "\n");
    return false;
}

static negsync_result document_id(const document *doc, uint8_t id[NEGSYNC_ID_SIZE]) {
    return negsync_id_for_version((const uint8_t *)doc->key, strlen(doc->key),
                                  (const uint8_t *)doc->version, strlen(doc->version), id);
}

/* Adds the shared sensor readings to `set` in one insert_many call. */
static bool add_shared_readings(negsync_set *set) {
    static uint64_t timestamps[SHARED_READINGS];
    static uint8_t ids[SHARED_READINGS * NEGSYNC_ID_SIZE];
    char key[32];
    size_t i;
    for (i = 0; i < SHARED_READINGS; i++) {
        int len = snprintf(key, sizeof key, "sensors/reading-%04u", (unsigned)i);
        timestamps[i] = 1717000000 + 60 * (uint64_t)i; /* one reading a minute */
        if (!ok(negsync_id_for_version((const uint8_t *)key, (size_t)len, (const uint8_t *)"v1",
                                       2, ids + i * NEGSYNC_ID_SIZE),
                "negsync_id_for_version", NULL)) {
            return false;
        }
    }
    return ok(negsync_set_insert_many(set, timestamps, ids, SHARED_READINGS),
              "negsync_set_insert_many", NULL);
}

/* A node's set: the shared readings plus its own documents from the table. */
static negsync_set *build_node(bool node_a) {
    negsync_set *set = NULL;
    size_t i;
    if (!ok(negsync_set_new(&set), "negsync_set_new", NULL)) {
        return NULL;
    }
    if (!add_shared_readings(set)) {
        negsync_set_free(set);
        return NULL;
    }
    for (i = 0; i < DOCUMENT_COUNT; i++) {
        uint8_t id[NEGSYNC_ID_SIZE];
        if (node_a ? !documents[i].on_a : !documents[i].on_b) {
            continue;
        }
        if (!ok(document_id(&documents[i], id), "negsync_id_for_version", NULL) ||
            !ok(negsync_set_insert(set, documents[i].changed_at, id), "negsync_set_insert",
                NULL)) {
            negsync_set_free(set);
            return NULL;
        }
    }
    return set;
}

static void print_hex(const uint8_t *bytes, size_t len) {
    size_t i;
    for (i = 0; i < len; i++) {
        printf("%02x", bytes[i]);
    }
}

static int compare_ids(const void *left, const void *right) {
    return memcmp(left, right, NEGSYNC_ID_SIZE);
}

/*
 * Prints each ID of a lent list with the document it names (a node keeps such an index). The
 * library returns IDs in no particular order (it may differ from run to run); a sorted copy keeps
 * this output stable.
 */
static bool print_ids(const char *title, const uint8_t *lent, size_t count) {
    uint8_t *ids = malloc(count ? count * NEGSYNC_ID_SIZE : 1);
    size_t i, d;
    if (ids == NULL) {
        fprintf(stderr, "error: out of memory\n");
        return false;
    }
    if (count > 0) {
        memcpy(ids, lent, count * NEGSYNC_ID_SIZE);
        qsort(ids, count, NEGSYNC_ID_SIZE, compare_ids);
    }
    printf("%s: %zu\n", title, count);
    for (i = 0; i < count; i++) {
        const uint8_t *id = ids + i * NEGSYNC_ID_SIZE;
        const document *named = NULL;
        printf("  ");
        print_hex(id, NEGSYNC_ID_SIZE);
        for (d = 0; d < DOCUMENT_COUNT && named == NULL; d++) {
            uint8_t candidate[NEGSYNC_ID_SIZE];
            if (document_id(&documents[d], candidate) == NEGSYNC_OK &&
                memcmp(candidate, id, NEGSYNC_ID_SIZE) == 0) {
                named = &documents[d];
            }
        }
        if (named != NULL) {
            printf("  %s @ %s\n", named->key, named->version);
        } else {
            printf("  (not in this example's index)\n");
        }
    }
    free(ids);
    return true;
}

int main(void) {
    int status = EXIT_FAILURE;
    negsync_set *set_a = NULL, *set_b = NULL;
    negsync_session *a = NULL, *b = NULL;
    const uint8_t *to_b = NULL, *to_a = NULL, *have = NULL, *need = NULL;
    size_t to_b_len = 0, to_a_len = 0, have_count = 0, need_count = 0;
    size_t bytes_a_to_b = 0, bytes_b_to_a = 0;
    unsigned round_trips = 0;
    bool a_done = false, b_done = false;

    printf("negsync %s (header %d.%d.%d)\n", negsync_version(), NEGSYNC_VERSION_MAJOR,
           NEGSYNC_VERSION_MINOR, NEGSYNC_VERSION_PATCH);

    set_a = build_node(true);
    set_b = build_node(false);
    if (set_a == NULL || set_b == NULL) {
        goto cleanup;
    }
    printf("node A holds %zu documents, node B %zu; frame limit %d bytes\n\n",
           negsync_set_len(set_a), negsync_set_len(set_b), FRAME_LIMIT);

    /* One session per peer and exchange, over a snapshot of the node's set taken now. */
    if (!ok(negsync_session_new(set_a, FRAME_LIMIT, &a), "negsync_session_new", NULL) ||
        !ok(negsync_session_new(set_b, FRAME_LIMIT, &b), "negsync_session_new", NULL)) {
        goto cleanup;
    }

    /* A opens; then B answers and A reads the answer, until A has nothing more to say. */
    if (!ok(negsync_session_initiate(a, &to_b, &to_b_len), "negsync_session_initiate", a)) {
        goto cleanup;
    }
    while (!a_done) {
        size_t sent_to_b = to_b_len;
        if (round_trips == MAX_ROUND_TRIPS) {
            fprintf(stderr, "error: no end after %d round trips\n", MAX_ROUND_TRIPS);
            goto cleanup;
        }
        round_trips++;
        bytes_a_to_b += to_b_len;
        /* B's reply is lent by B until B's next call; A's next message is lent by A. */
        if (!ok(negsync_session_reconcile(b, to_b, to_b_len, &to_a, &to_a_len, &b_done),
                "negsync_session_reconcile (B)", b)) {
            goto cleanup;
        }
        bytes_b_to_a += to_a_len;
        if (!ok(negsync_session_reconcile(a, to_a, to_a_len, &to_b, &to_b_len, &a_done),
                "negsync_session_reconcile (A)", a)) {
            goto cleanup;
        }
        printf("round trip %u: A -> B %5zu bytes, B -> A %5zu bytes%s%s\n", round_trips,
               sent_to_b, to_a_len, b_done ? " (B: my last message)" : "",
               a_done ? " (A: nothing more to send, done)" : "");
    }

    if (!ok(negsync_session_have_ids(a, &have, &have_count), "negsync_session_have_ids", a) ||
        !ok(negsync_session_need_ids(a, &need, &need_count), "negsync_session_need_ids", a)) {
        goto cleanup;
    }
    printf("\n");
    if (!print_ids("A must send to B (B must fetch)", have, have_count) ||
        !print_ids("A must fetch from B (B must send)", need, need_count)) {
        goto cleanup;
    }
    printf("\nsummary: %u round trips, %zu bytes A -> B, %zu bytes B -> A\n", round_trips,
           bytes_a_to_b, bytes_b_to_a);
    status = EXIT_SUCCESS;

cleanup:
    /* Lent buffers (messages, ID lists) belong to the sessions: freeing these frees them. */
    negsync_session_free(a);
    negsync_session_free(b);
    negsync_set_free(set_a);
    negsync_set_free(set_b);
    return status;
}
