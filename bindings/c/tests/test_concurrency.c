/*
 * test_concurrency.c: many threads reconciling against one shared negsync_set while another
 * thread keeps changing it.
 *
 * WORKERS threads each run SESSIONS sessions (env NEGSYNC_STRESS_SESSIONS, default 1000) created
 * from ONE shared set, against peers of their own, while a mutator thread keeps inserting items
 * into and removing them from the shared set (singly and with insert_many, plus no-op inserts of
 * present items and removals of absent ones). The set stays bounded: every item comes from a fixed
 * universe of SHARED_ITEMS, and what was inserted is removed again later.
 *
 * Each worker keeps one peer set of its own. For each session it brings the peer to the session's
 * snapshot and then makes them differ: in most sessions by a few items (a realistic sync, which
 * takes fingerprint rounds), in every eighth by half of everything (long ID lists), and in every
 * sixteenth the peer holds only its private items (one side nearly empty).
 *
 * A session reads the snapshot taken when it was created. C cannot see that snapshot, so the test
 * mirrors it: the mutator holds `shared.lock` around every change to the set and to its mirror
 * (`shared.present`), and a worker holds the same lock while it calls negsync_session_new and
 * copies the mirror. That copy is exactly the session's snapshot; the worker then checks the
 * initiator's have/need lists against the difference between that copy and its peer's items.
 * Half of the sessions from the shared set initiate, half respond; frame limits vary.
 *
 * Workers do not use CHECK (check.h is single-threaded); they count failures and print details,
 * and the main thread checks the counts after joining them.
 *
 * Sizes are chosen so that the plain run takes a second or two on a 2-core machine; under
 * valgrind (which runs one thread at a time) the Makefile sets NEGSYNC_STRESS_SESSIONS lower.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negsync.h"
#include "check.h"

#define WORKERS 8
#define DEFAULT_SESSIONS 1000
/* Items the shared set may hold (its universe); the mutator toggles these. */
#define SHARED_ITEMS 1024
/* Items only one worker's peer may hold, per worker. */
#define PRIVATE_ITEMS 32
/* A worker's peer draws from the shared universe and its own private items. */
#define PEER_ITEMS (SHARED_ITEMS + PRIVATE_ITEMS)
#define TOTAL_ITEMS (SHARED_ITEMS + WORKERS * PRIVATE_ITEMS)
/* In most sessions the peer differs from the snapshot in up to this many shared items. */
#define SMALL_DIFFERENCE 16
/* More messages than any exchange here needs. */
#define MAX_ROUNDS 1000
/* Failures each worker describes on stderr before it only counts them. */
#define MAX_REPORTED_FAILURES 5

/* ---- the item universe: item g has a fixed timestamp and ID; the ID's last 4 bytes are g ---- */

static uint64_t universe_timestamp[TOTAL_ITEMS];
static uint8_t universe_id[TOTAL_ITEMS][NEGSYNC_ID_SIZE];

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void universe_init(void) {
    size_t g, i;
    for (g = 0; g < TOTAL_ITEMS; g++) {
        uint64_t state = 0x5eedull * (g + 1);
        for (i = 0; i < NEGSYNC_ID_SIZE - 4; i++) {
            universe_id[g][i] = (uint8_t)(splitmix64(&state) >> 56);
        }
        universe_id[g][28] = (uint8_t)(g >> 24);
        universe_id[g][29] = (uint8_t)(g >> 16);
        universe_id[g][30] = (uint8_t)(g >> 8);
        universe_id[g][31] = (uint8_t)g;
        /* Few distinct timestamps: many ties, so order also falls to the ID bytes. */
        universe_timestamp[g] = 1000 + splitmix64(&state) % 64;
    }
}

/* The universe index an ID names, or TOTAL_ITEMS when it is no ID of the universe. */
static size_t universe_index(const uint8_t *id) {
    size_t g = ((size_t)id[28] << 24) | ((size_t)id[29] << 16) | ((size_t)id[30] << 8) | id[31];
    if (g >= TOTAL_ITEMS || memcmp(id, universe_id[g], NEGSYNC_ID_SIZE) != 0) {
        return TOTAL_ITEMS;
    }
    return g;
}

/* ---- a tiny per-thread PRNG (xorshift64) ---- */

static uint64_t prng_next(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* ---- the shared set, its mirror, and the lock that keeps the two equal ---- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t created_cond;         /* signalled when a session was created */
    negsync_set *set;
    unsigned char present[SHARED_ITEMS]; /* the set's contents, under `lock` */
    bool stop;                           /* under `lock`: the mutator ends */
    unsigned long created;               /* under `lock`: sessions created from the set */
    unsigned long mutations;             /* under `lock`: changes made (no-ops excluded) */
    unsigned long mutator_failures;      /* under `lock` */
} shared = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, {0}, false, 0, 0, 0};

/* Sets item g (< SHARED_ITEMS) present or absent in the shared set; call with `shared.lock`. */
static void shared_put(size_t g, bool present) {
    negsync_result code = present
                              ? negsync_set_insert(shared.set, universe_timestamp[g], universe_id[g])
                              : negsync_set_remove(shared.set, universe_timestamp[g], universe_id[g]);
    if (code != NEGSYNC_OK) {
        shared.mutator_failures++;
        fprintf(stderr, "mutator: %s of item %zu: %s\n", present ? "insert" : "remove", g,
                negsync_result_str(code));
        return;
    }
    if (shared.present[g] != present) {
        shared.mutations++;
    }
    shared.present[g] = present;
}

/* Inserts up to 8 random items in one insert_many call (some may be present already). */
static void shared_put_many(uint64_t *rng) {
    uint64_t timestamps[8];
    uint8_t ids[8 * NEGSYNC_ID_SIZE];
    size_t picked[8], count = 1 + (size_t)(prng_next(rng) % 8), i;
    negsync_result code;
    for (i = 0; i < count; i++) {
        picked[i] = (size_t)(prng_next(rng) % SHARED_ITEMS);
        timestamps[i] = universe_timestamp[picked[i]];
        memcpy(ids + i * NEGSYNC_ID_SIZE, universe_id[picked[i]], NEGSYNC_ID_SIZE);
    }
    code = negsync_set_insert_many(shared.set, timestamps, ids, count);
    if (code != NEGSYNC_OK) {
        shared.mutator_failures++;
        fprintf(stderr, "mutator: insert_many: %s\n", negsync_result_str(code));
        return;
    }
    for (i = 0; i < count; i++) {
        if (!shared.present[picked[i]]) {
            shared.mutations++;
            shared.present[picked[i]] = 1;
        }
    }
}

/*
 * The mutator: changes the shared set, one locked change at a time, until told to stop. After
 * each burst of 1..3 changes it waits for a worker to create a session. A mutex is not fair: a
 * mutator that relocked at once would shut the workers out for whole time slices (and then
 * they would all see one snapshot); pacing it by session creation makes most sessions see a
 * snapshot of their own, however the threads are scheduled (valgrind runs one at a time).
 */
static void *mutator_main(void *unused) {
    uint64_t rng = 0x1234567887654321ull;
    unsigned long seen = 0;
    (void)unused;
    for (;;) {
        unsigned burst = 1 + (unsigned)(prng_next(&rng) % 3), k;
        for (k = 0; k < burst; k++) {
            uint64_t r = prng_next(&rng);
            size_t g = (size_t)((r >> 8) % SHARED_ITEMS);
            pthread_mutex_lock(&shared.lock);
            if (shared.stop) {
                pthread_mutex_unlock(&shared.lock);
                return NULL;
            }
            switch (r % 8) {
            case 0:
                shared_put_many(&rng);
                break;
            case 1: /* a no-op: insert what is there, or remove what is not */
                shared_put(g, shared.present[g] != 0);
                break;
            default: /* toggle: remove what was inserted, insert what was removed */
                shared_put(g, shared.present[g] == 0);
                break;
            }
            pthread_mutex_unlock(&shared.lock);
        }
        pthread_mutex_lock(&shared.lock);
        while (!shared.stop && shared.created == seen) {
            pthread_cond_wait(&shared.created_cond, &shared.lock);
        }
        seen = shared.created;
        pthread_mutex_unlock(&shared.lock);
    }
}

/* ---- a worker ---- */

typedef struct {
    unsigned index;
    unsigned long sessions;   /* how many to run */
    /* results, read by the main thread after join */
    unsigned long completed;  /* sessions whose exchange completed and matched */
    unsigned long failures;   /* sessions that went wrong in any way */
    unsigned long snapshot_changes; /* sessions whose snapshot differed from the previous one */
    unsigned long shared_initiated; /* sessions in which the shared set's side initiated */
    unsigned long ids_checked;      /* have/need IDs verified */
} worker;

static size_t count_present(const unsigned char *flags, size_t count) {
    size_t i, present = 0;
    for (i = 0; i < count; i++) {
        present += flags[i] != 0;
    }
    return present;
}

/* Records one failed session (prints the first few). */
static void worker_fail(worker *w, unsigned long session, const char *what) {
    w->failures++;
    if (w->failures <= MAX_REPORTED_FAILURES) {
        fprintf(stderr, "worker %u, session %lu: %s\n", w->index, session, what);
    }
}

/* Global universe index of a worker's peer item j (< PEER_ITEMS). */
static size_t peer_global(const worker *w, size_t j) {
    return j < SHARED_ITEMS ? j : SHARED_ITEMS + (size_t)w->index * PRIVATE_ITEMS + (j - SHARED_ITEMS);
}

/* The worker's peer item index of global item g, or PEER_ITEMS if g is no item of this peer. */
static size_t peer_local(const worker *w, size_t g) {
    size_t first_private = SHARED_ITEMS + (size_t)w->index * PRIVATE_ITEMS;
    if (g < SHARED_ITEMS) {
        return g;
    }
    if (g >= first_private && g < first_private + PRIVATE_ITEMS) {
        return SHARED_ITEMS + (g - first_private);
    }
    return PEER_ITEMS;
}

/*
 * Checks one ID list of the initiator: exactly the items j with in_initiator[j] && !in_responder[j],
 * each once. `seen` is scratch of PEER_ITEMS bytes. Returns false (with `why` set) on a mismatch.
 */
static bool check_id_list(const worker *w, const uint8_t *ids, size_t count,
                          const unsigned char *in_initiator, const unsigned char *in_responder,
                          unsigned char *seen, const char **why) {
    size_t i, j, expected = 0;
    memset(seen, 0, PEER_ITEMS);
    for (j = 0; j < PEER_ITEMS; j++) {
        expected += in_initiator[j] && !in_responder[j];
    }
    if (count != expected) {
        *why = "wrong number of IDs";
        return false;
    }
    if ((count == 0) != (ids == NULL)) {
        *why = "an ID list's pointer does not fit its count";
        return false;
    }
    for (i = 0; i < count; i++) {
        size_t g = universe_index(ids + i * NEGSYNC_ID_SIZE);
        j = g == TOTAL_ITEMS ? PEER_ITEMS : peer_local(w, g);
        if (j == PEER_ITEMS) {
            *why = "an ID that neither side holds";
            return false;
        }
        if (!in_initiator[j] || in_responder[j]) {
            *why = "an ID outside the difference";
            return false;
        }
        if (seen[j]) {
            *why = "an ID listed twice";
            return false;
        }
        seen[j] = 1;
    }
    return true;
}

/* Drives one exchange to its end. Returns NULL on success, else what went wrong. */
static const char *run_exchange(negsync_session *initiator, negsync_session *responder) {
    const uint8_t *message = NULL;
    size_t message_len = 0;
    unsigned round;
    if (negsync_session_initiate(initiator, &message, &message_len) != NEGSYNC_OK) {
        return "initiate failed";
    }
    for (round = 0; round < MAX_ROUNDS; round++) {
        const uint8_t *reply = NULL;
        size_t reply_len = 0;
        bool responder_done = false, initiator_done = false;
        if (negsync_session_reconcile(responder, message, message_len, &reply, &reply_len,
                                      &responder_done) != NEGSYNC_OK) {
            return "the responder refused a message";
        }
        if (negsync_session_reconcile(initiator, reply, reply_len, &message, &message_len,
                                      &initiator_done) != NEGSYNC_OK) {
            return "the initiator refused a reply";
        }
        if (responder_done && !initiator_done) {
            return "the responder completed but the initiator did not";
        }
        if (initiator_done) {
            return message_len == 0 ? NULL : "the initiator completed with a message to send";
        }
    }
    return "the exchange did not end";
}

static void *worker_main(void *argument) {
    worker *w = argument;
    static const uint64_t frame_limits[] = {0, 4096, 0, 60000};
    uint64_t rng = 0x9e3779b97f4a7c15ull * (w->index + 1);
    unsigned char snapshot[PEER_ITEMS], previous[SHARED_ITEMS], peer[PEER_ITEMS];
    unsigned char wanted[PEER_ITEMS], seen[PEER_ITEMS];
    negsync_set *peer_set = NULL;
    unsigned long s;
    size_t j;

    /* The peer starts empty; each session brings it near that session's snapshot. */
    if (negsync_set_new(&peer_set) != NEGSYNC_OK) {
        worker_fail(w, 0, "cannot create the peer's set");
        return NULL;
    }
    memset(peer, 0, sizeof peer);
    memset(snapshot, 0, sizeof snapshot); /* private items are never in the shared set */
    memset(previous, 0, sizeof previous);

    for (s = 0; s < w->sessions; s++) {
        negsync_session *ours = NULL, *theirs = NULL, *initiator, *responder;
        negsync_session_stats stats;
        const unsigned char *in_initiator, *in_responder;
        const uint8_t *ids = NULL;
        size_t count = 0, t;
        const char *why = NULL;
        bool shared_initiates = (s % 2) == (w->index % 2);
        uint64_t our_limit = frame_limits[(s / 2) % 4], their_limit = frame_limits[(s / 3) % 4];
        negsync_result code;

        /* The session and the copy of its snapshot, taken under the mutator's lock. */
        pthread_mutex_lock(&shared.lock);
        code = negsync_session_new(shared.set, our_limit, &ours);
        memcpy(snapshot, shared.present, SHARED_ITEMS);
        shared.created++;
        pthread_cond_signal(&shared.created_cond);
        pthread_mutex_unlock(&shared.lock);
        if (code != NEGSYNC_OK) {
            worker_fail(w, s, "negsync_session_new on the shared set failed");
            continue;
        }
        if (s > 0 && memcmp(previous, snapshot, SHARED_ITEMS) != 0) {
            w->snapshot_changes++;
        }
        memcpy(previous, snapshot, SHARED_ITEMS);

        /* The peer: the snapshot with a few (or many) differences; `wanted` is what it holds. */
        if (s % 16 == 15) {
            memset(wanted, 0, SHARED_ITEMS);
        } else if (s % 8 == 7) {
            for (j = 0; j < SHARED_ITEMS; j++) {
                wanted[j] = (unsigned char)(prng_next(&rng) & 1);
            }
        } else {
            size_t differences = (size_t)(prng_next(&rng) % (SMALL_DIFFERENCE + 1));
            memcpy(wanted, snapshot, SHARED_ITEMS);
            for (t = 0; t < differences; t++) {
                j = (size_t)(prng_next(&rng) % SHARED_ITEMS);
                wanted[j] = !wanted[j];
            }
        }
        for (j = SHARED_ITEMS; j < PEER_ITEMS; j++) {
            wanted[j] = (prng_next(&rng) % 8) == 0; /* a few private items */
        }
        for (j = 0; j < PEER_ITEMS; j++) {
            size_t g = peer_global(w, j);
            if (peer[j] == wanted[j]) {
                continue;
            }
            code = wanted[j] ? negsync_set_insert(peer_set, universe_timestamp[g], universe_id[g])
                             : negsync_set_remove(peer_set, universe_timestamp[g], universe_id[g]);
            if (code != NEGSYNC_OK) {
                worker_fail(w, s, "cannot change the peer's set");
            }
            peer[j] = wanted[j];
        }
        if (negsync_set_len(peer_set) != count_present(peer, PEER_ITEMS)) {
            worker_fail(w, s, "the peer's set holds other items than were put in");
        }

        if (negsync_session_new(peer_set, their_limit, &theirs) != NEGSYNC_OK) {
            worker_fail(w, s, "negsync_session_new on the peer's set failed");
            negsync_session_free(ours);
            continue;
        }

        if (shared_initiates) {
            initiator = ours, responder = theirs;
            in_initiator = snapshot, in_responder = peer;
            w->shared_initiated++;
        } else {
            initiator = theirs, responder = ours;
            in_initiator = peer, in_responder = snapshot;
        }
        /* have = initiator's side minus the responder's; need = the other way round. (On a
         * mismatch check_id_list sets `why`.) */
        why = run_exchange(initiator, responder);
        if (why == NULL && negsync_session_have_ids(initiator, &ids, &count) != NEGSYNC_OK) {
            why = "have_ids failed";
        }
        if (why == NULL && check_id_list(w, ids, count, in_initiator, in_responder, seen, &why)) {
            w->ids_checked += count;
        }
        if (why == NULL && negsync_session_need_ids(initiator, &ids, &count) != NEGSYNC_OK) {
            why = "need_ids failed";
        }
        if (why == NULL && check_id_list(w, ids, count, in_responder, in_initiator, seen, &why)) {
            w->ids_checked += count;
        }
        if (why == NULL) {
            if (negsync_session_get_stats(initiator, &stats) != NEGSYNC_OK ||
                stats.role != NEGSYNC_ROLE_INITIATOR || !stats.complete || stats.failed) {
                why = "the initiator's stats are wrong";
            } else if (negsync_session_get_stats(responder, &stats) != NEGSYNC_OK ||
                       stats.role != NEGSYNC_ROLE_RESPONDER || stats.failed) {
                why = "the responder's stats are wrong";
            }
        }
        if (why != NULL) {
            worker_fail(w, s, why);
        } else {
            w->completed++;
        }
        /* Free in either order: each session owns its snapshot. */
        if (s % 3 == 0) {
            negsync_session_free(responder);
            negsync_session_free(initiator);
        } else {
            negsync_session_free(initiator);
            negsync_session_free(responder);
        }
    }
    negsync_set_free(peer_set);
    return NULL;
}

/* The session count per worker: NEGSYNC_STRESS_SESSIONS, or DEFAULT_SESSIONS. */
static unsigned long sessions_per_worker(void) {
    const char *text = getenv("NEGSYNC_STRESS_SESSIONS");
    char *end = NULL;
    unsigned long value;
    if (text == NULL || text[0] == '\0') {
        return DEFAULT_SESSIONS;
    }
    value = strtoul(text, &end, 10);
    if (end == NULL || *end != '\0' || value == 0) {
        fprintf(stderr, "NEGSYNC_STRESS_SESSIONS=%s is not a positive number; using %d\n", text,
                DEFAULT_SESSIONS);
        return DEFAULT_SESSIONS;
    }
    return value;
}

/* ---- tests ---- */

/*
 * 8 workers x N sessions from one shared set under concurrent mutation: every session's result is
 * the exact difference between its own snapshot and its peer.
 */
static void test_sessions_match_their_snapshots_under_mutation(void) {
    pthread_t mutator, threads[WORKERS];
    worker workers[WORKERS];
    unsigned long sessions = sessions_per_worker(), completed = 0, failures = 0, changes = 0;
    unsigned long shared_initiated = 0, ids_checked = 0;
    size_t g, present = 0;
    unsigned i;
    bool mutator_started = false;
    uint64_t rng = 42;

    /* The shared set starts with a random half of its universe. */
    REQUIRE(negsync_set_new(&shared.set) == NEGSYNC_OK);
    for (g = 0; g < SHARED_ITEMS; g++) {
        shared.present[g] = 0;
        if (prng_next(&rng) & 1) {
            shared_put(g, true);
        }
    }
    shared.mutations = 0;
    shared.stop = false;

    mutator_started = pthread_create(&mutator, NULL, mutator_main, NULL) == 0;
    CHECK(mutator_started);
    for (i = 0; i < WORKERS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].index = i;
        workers[i].sessions = sessions;
        if (pthread_create(&threads[i], NULL, worker_main, &workers[i]) != 0) {
            CHECK(!"pthread_create failed for a worker");
            workers[i].sessions = 0;
            workers[i].index = WORKERS; /* not joined */
        }
    }
    for (i = 0; i < WORKERS; i++) {
        if (workers[i].index == i) {
            CHECK_EQ(pthread_join(threads[i], NULL), 0);
        }
    }
    pthread_mutex_lock(&shared.lock);
    shared.stop = true;
    pthread_cond_broadcast(&shared.created_cond);
    pthread_mutex_unlock(&shared.lock);
    if (mutator_started) {
        CHECK_EQ(pthread_join(mutator, NULL), 0);
    }

    for (i = 0; i < WORKERS; i++) {
        completed += workers[i].completed;
        failures += workers[i].failures;
        changes += workers[i].snapshot_changes;
        shared_initiated += workers[i].shared_initiated;
        ids_checked += workers[i].ids_checked;
    }
    present = count_present(shared.present, SHARED_ITEMS);
    printf("     %d workers x %lu sessions: %lu matched, %lu failed; %lu with the shared side "
           "initiating; %lu IDs checked; %lu mutations; %lu sessions saw a changed snapshot\n",
           WORKERS, sessions, completed, failures, shared_initiated, ids_checked,
           shared.mutations, changes);
    CHECK_EQ(failures, 0);
    CHECK_EQ(shared.mutator_failures, 0);
    CHECK_EQ(completed, (unsigned long)WORKERS * sessions);
    /* Both roles ran, the set really changed under the workers, and they saw it change. */
    CHECK(shared_initiated > 0 && shared_initiated < completed);
    CHECK(shared.mutations > 0);
    CHECK(changes > 0);
    CHECK(ids_checked > 0);
    /* The mirror and the set agree at the end, and the set stayed within its universe. */
    CHECK_EQ(negsync_set_len(shared.set), present);
    CHECK(present <= SHARED_ITEMS);
    negsync_set_free(shared.set);
    shared.set = NULL;
}

/* ---- sessions that move between threads, outliving their set ---- */

typedef struct {
    negsync_session *initiator, *responder;
    const char *why; /* NULL when the exchange ran and matched */
} handoff;

static void *handoff_main(void *argument) {
    handoff *h = argument;
    const uint8_t *ids = NULL;
    size_t count = 0;
    h->why = run_exchange(h->initiator, h->responder);
    if (h->why == NULL && (negsync_session_have_ids(h->initiator, &ids, &count) != NEGSYNC_OK ||
                           count != 100)) {
        h->why = "wrong have list";
    }
    if (h->why == NULL && (negsync_session_need_ids(h->initiator, &ids, &count) != NEGSYNC_OK ||
                           count != 50)) {
        h->why = "wrong need list";
    }
    return NULL;
}

/*
 * Sessions are created on the main thread, their sets freed, the exchanges run on other threads
 * (all at once), and the sessions freed back on the main thread.
 */
static void test_sessions_move_between_threads(void) {
    enum { PAIRS = 4 };
    negsync_set *a = NULL, *b = NULL;
    handoff pairs[PAIRS];
    pthread_t threads[PAIRS];
    bool started[PAIRS];
    size_t g;
    unsigned i;
    /* a holds items 0..199, b holds 100..249: have 100, need 50. */
    REQUIRE(negsync_set_new(&a) == NEGSYNC_OK);
    REQUIRE(negsync_set_new(&b) == NEGSYNC_OK);
    for (g = 0; g < 250; g++) {
        if (g < 200) {
            CHECK_EQ(negsync_set_insert(a, universe_timestamp[g], universe_id[g]), NEGSYNC_OK);
        }
        if (g >= 100) {
            CHECK_EQ(negsync_set_insert(b, universe_timestamp[g], universe_id[g]), NEGSYNC_OK);
        }
    }
    for (i = 0; i < PAIRS; i++) {
        pairs[i].initiator = pairs[i].responder = NULL;
        pairs[i].why = "not run";
        CHECK_EQ(negsync_session_new(a, i % 2 ? 4096 : 0, &pairs[i].initiator), NEGSYNC_OK);
        CHECK_EQ(negsync_session_new(b, i % 2 ? 0 : 4096, &pairs[i].responder), NEGSYNC_OK);
    }
    negsync_set_free(a);
    negsync_set_free(b);
    for (i = 0; i < PAIRS; i++) {
        started[i] = pairs[i].initiator != NULL && pairs[i].responder != NULL &&
                     pthread_create(&threads[i], NULL, handoff_main, &pairs[i]) == 0;
        CHECK(started[i]);
    }
    for (i = 0; i < PAIRS; i++) {
        if (started[i]) {
            CHECK_EQ(pthread_join(threads[i], NULL), 0);
        }
        if (pairs[i].why != NULL) {
            CHECK(!"a handed-off exchange failed");
            fprintf(stderr, "    pair %u: %s\n", i, pairs[i].why);
        }
        negsync_session_free(pairs[i].initiator);
        negsync_session_free(pairs[i].responder);
    }
}

int main(int argc, char **argv) {
    check_init(argc, argv);
    universe_init();
    CHECK_RUN(test_sessions_match_their_snapshots_under_mutation);
    CHECK_RUN(test_sessions_move_between_threads);
    return check_summary();
}
