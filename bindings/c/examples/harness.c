/*
 * harness: one side of a Negentropy exchange, driven over stdin/stdout in the line protocol of the
 * Negentropy reference test suite, so that any test driver written for that suite can run negsync.
 *
 * Build (after `make lib`, i.e. cargo rustc --release --lib --crate-type cdylib,staticlib,
 * from the repository root):
 *   cc -std=c99 -O2 bindings/c/examples/harness.c -Iinclude -Ltarget/release -lnegsync \
 *      -Wl,-rpath,$PWD/target/release -o harness
 *
 * Input, one command per LF-terminated line (fields separated by commas, hex in either case):
 *   item,<timestamp>,<64 hex>   add an item (before seal)
 *   seal                        end the set; the session is created here
 *   initiate                    become the initiator: prints msg,<hex>
 *   msg,<hex>                   a message from the peer. The initiator prints have,<hex> for each
 *                               ID newly found that we hold and the peer lacks, then need,<hex>
 *                               for each newly found that the peer holds, then `done` or the next
 *                               msg,<hex>. The responder prints exactly one msg,<hex>.
 * Empty lines are ignored. Output hex is lowercase; stdout is flushed after every msg and done.
 * The environment variable FRAMESIZELIMIT (decimal; unset, empty or 0 for none) bounds every
 * message this side sends.
 *
 * On any error (a malformed line, a refusal by negsync, a message of ours over the frame limit)
 * the harness writes one line to stderr and exits with status 1 without writing anything more to
 * stdout; a command line argument is a usage error (status 2). End of input ends the program
 * with status 0.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negsync.h"

/* How many hex digits are assembled before each fwrite of a large message. */
#define HEX_OUT_CHUNK 8192

/* A growable byte array: input lines and decoded messages can be many megabytes. */
struct buffer {
    uint8_t *data;
    size_t len;
    size_t cap;
};

/* Everything the harness owns, so that every exit path can free it (and valgrind stays quiet). */
struct harness {
    negsync_set *set;
    negsync_session *session;
    uint64_t frame_size_limit;
    bool sealed;
    bool initiated;
    /* negsync accumulates have/need over all rounds; these count what was already printed, so
     * each round prints only what it added. */
    size_t have_printed;
    size_t need_printed;
    unsigned long line_number;
    struct buffer line;
    struct buffer message;
};

static void harness_free(struct harness *h) {
    negsync_session_free(h->session);
    negsync_set_free(h->set);
    free(h->line.data);
    free(h->message.data);
    memset(h, 0, sizeof *h);
}

/* Reports an error on stderr, frees everything and exits with status 1. */
static void fail(struct harness *h, const char *format, ...) {
    va_list args;
    if (h->line_number > 0) {
        fprintf(stderr, "harness: input line %lu: ", h->line_number);
    } else {
        fputs("harness: ", stderr);
    }
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    harness_free(h);
    exit(1);
}

/* Fails with negsync's explanation of `result`, plus the session's detail when there is one. */
static void check(struct harness *h, negsync_result result, const char *call) {
    const char *detail;
    if (result == NEGSYNC_OK) {
        return;
    }
    detail = h->session != NULL ? negsync_session_last_error(h->session) : "";
    fail(h, "%s failed: %s%s%s", call, negsync_result_str(result), detail[0] != '\0' ? ": " : "",
         detail);
}

static void buffer_reserve(struct harness *h, struct buffer *b, size_t extra) {
    size_t wanted;
    uint8_t *grown;
    if (extra <= b->cap - b->len) {
        return;
    }
    if (extra > SIZE_MAX - b->len) {
        fail(h, "input too large");
    }
    wanted = b->cap > 0 ? b->cap : 256;
    while (wanted - b->len < extra) {
        wanted = wanted <= SIZE_MAX / 2 ? wanted * 2 : SIZE_MAX;
    }
    grown = realloc(b->data, wanted);
    if (grown == NULL) {
        fail(h, "out of memory (asked for %zu bytes)", wanted);
    }
    b->data = grown;
    b->cap = wanted;
}

/* Reads the next line (without its LF) into h->line, however long. A last line with no LF still
 * counts. Returns false at the end of input.
 *
 * Character by character on purpose: the harness is driven interactively through a pipe, and
 * fread would wait for a whole block that the driver will only send after our reply. getc hands
 * over what the pipe holds; fgets would too, but it cannot tell a NUL byte from the line's end. */
static bool read_line(struct harness *h) {
    int c;
    h->line.len = 0;
    while ((c = getc(stdin)) != EOF) {
        if (c == '\n') {
            return true;
        }
        if (h->line.len == h->line.cap) {
            buffer_reserve(h, &h->line, 1);
        }
        h->line.data[h->line.len++] = (uint8_t)c;
    }
    if (ferror(stdin)) {
        fail(h, "cannot read stdin");
    }
    return h->line.len > 0;
}

static int hex_digit_value(uint8_t c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes `len` hex digits at `hex` into `out` (reset first). */
static void decode_hex(struct harness *h, const uint8_t *hex, size_t len, struct buffer *out,
                       const char *what) {
    size_t i;
    out->len = 0;
    if (len % 2 != 0) {
        fail(h, "%s: odd number of hex digits (%zu)", what, len);
    }
    buffer_reserve(h, out, len / 2);
    for (i = 0; i < len; i += 2) {
        int high = hex_digit_value(hex[i]);
        int low = hex_digit_value(hex[i + 1]);
        if (high < 0 || low < 0) {
            fail(h, "%s: not a hex digit at offset %zu", what, high < 0 ? i : i + 1);
        }
        out->data[out->len++] = (uint8_t)(high << 4 | low);
    }
}

/* Parses a decimal u64 with no sign, spaces or other characters. Returns false if it is not one. */
static bool parse_u64(const uint8_t *text, size_t len, uint64_t *out) {
    uint64_t value = 0;
    size_t i;
    if (len == 0) {
        return false;
    }
    for (i = 0; i < len; i++) {
        unsigned digit;
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        digit = (unsigned)(text[i] - '0');
        if (value > (UINT64_MAX - digit) / 10) {
            return false;
        }
        value = value * 10 + digit;
    }
    *out = value;
    return true;
}

static void flush_stdout(struct harness *h) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fail(h, "cannot write to stdout");
    }
}

/* Writes `<label>,<lowercase hex>\n`, in chunks, so that a large message needs no second copy. */
static void print_hex_line(const char *label, const uint8_t *bytes, size_t len) {
    static const char digits[] = "0123456789abcdef";
    char chunk[HEX_OUT_CHUNK];
    size_t used = 0;
    size_t i;
    fputs(label, stdout);
    fputc(',', stdout);
    for (i = 0; i < len; i++) {
        if (used == sizeof chunk) {
            fwrite(chunk, 1, used, stdout);
            used = 0;
        }
        chunk[used++] = digits[bytes[i] >> 4];
        chunk[used++] = digits[bytes[i] & 0x0f];
    }
    fwrite(chunk, 1, used, stdout);
    fputc('\n', stdout);
}

static void print_ids(const char *label, const uint8_t *ids, size_t from, size_t to) {
    size_t i;
    for (i = from; i < to; i++) {
        print_hex_line(label, ids + i * NEGSYNC_ID_SIZE, NEGSYNC_ID_SIZE);
    }
}

/* A message we are about to send must respect our own frame limit: negsync promises it, and this
 * is where a test suite would notice if it broke the promise. */
static void check_frame_limit(struct harness *h, size_t len) {
    if (h->frame_size_limit != 0 && (uint64_t)len > h->frame_size_limit) {
        fail(h, "our message of %zu bytes exceeds FRAMESIZELIMIT %llu", len,
             (unsigned long long)h->frame_size_limit);
    }
}

/* Counts the comma-separated fields of the line and finds where each of the first three starts. */
static size_t split_fields(const struct buffer *line, const uint8_t *starts[3], size_t lens[3]) {
    size_t count = 0;
    size_t field_start = 0;
    size_t i;
    for (i = 0; i <= line->len; i++) {
        if (i == line->len || line->data[i] == ',') {
            if (count < 3) {
                starts[count] = line->data + field_start;
                lens[count] = i - field_start;
            }
            count++;
            field_start = i + 1;
        }
    }
    return count;
}

static bool field_is(const uint8_t *start, size_t len, const char *word) {
    return len == strlen(word) && memcmp(start, word, len) == 0;
}

static void expect_fields(struct harness *h, size_t got, size_t wanted, const char *usage) {
    if (got != wanted) {
        fail(h, "expected `%s`", usage);
    }
}

static void command_item(struct harness *h, const uint8_t *timestamp_text, size_t timestamp_len,
                         const uint8_t *id_hex, size_t id_hex_len) {
    uint64_t timestamp;
    if (h->sealed) {
        fail(h, "item after seal");
    }
    if (!parse_u64(timestamp_text, timestamp_len, &timestamp)) {
        fail(h, "timestamp is not a decimal number from 0 to 2^64-1");
    }
    if (id_hex_len != 2 * NEGSYNC_ID_SIZE) {
        fail(h, "an ID is %d hex digits, not %zu", 2 * NEGSYNC_ID_SIZE, id_hex_len);
    }
    decode_hex(h, id_hex, id_hex_len, &h->message, "item ID");
    check(h, negsync_set_insert(h->set, timestamp, h->message.data), "negsync_set_insert");
}

static void command_seal(struct harness *h) {
    if (h->sealed) {
        fail(h, "seal twice");
    }
    check(h, negsync_session_new(h->set, h->frame_size_limit, &h->session), "negsync_session_new");
    h->sealed = true;
}

static void command_initiate(struct harness *h) {
    const uint8_t *message;
    size_t message_len;
    if (!h->sealed) {
        fail(h, "initiate before seal");
    }
    check(h, negsync_session_initiate(h->session, &message, &message_len),
          "negsync_session_initiate");
    h->initiated = true;
    check_frame_limit(h, message_len);
    print_hex_line("msg", message, message_len);
    flush_stdout(h);
}

static void command_msg(struct harness *h, const uint8_t *hex, size_t hex_len) {
    const uint8_t *reply;
    size_t reply_len;
    bool complete;
    if (!h->sealed) {
        fail(h, "msg before seal");
    }
    decode_hex(h, hex, hex_len, &h->message, "message");
    check(h,
          negsync_session_reconcile(h->session, h->message.data, h->message.len, &reply, &reply_len,
                                    &complete),
          "negsync_session_reconcile");
    /* Everything is checked before anything of this round is printed: on an error, stdout gets
     * nothing more. */
    if (reply_len > 0) {
        check_frame_limit(h, reply_len);
    }
    if (h->initiated) {
        const uint8_t *have;
        const uint8_t *need;
        size_t have_count;
        size_t need_count;
        check(h, negsync_session_have_ids(h->session, &have, &have_count),
              "negsync_session_have_ids");
        check(h, negsync_session_need_ids(h->session, &need, &need_count),
              "negsync_session_need_ids");
        if (complete != (reply_len == 0)) {
            fail(h, "negsync broke its promise: the initiator is %scomplete with %s to send",
                 complete ? "" : "not ", reply_len == 0 ? "nothing" : "a message");
        }
        print_ids("have", have, h->have_printed, have_count);
        print_ids("need", need, h->need_printed, need_count);
        h->have_printed = have_count;
        h->need_printed = need_count;
        if (complete) {
            fputs("done\n", stdout);
        } else {
            print_hex_line("msg", reply, reply_len);
        }
    } else {
        if (reply_len == 0) {
            fail(h, "negsync broke its promise: the responder has no reply");
        }
        print_hex_line("msg", reply, reply_len);
    }
    flush_stdout(h);
}

static void run_line(struct harness *h) {
    const uint8_t *starts[3] = {NULL, NULL, NULL};
    size_t lens[3] = {0, 0, 0};
    size_t fields;
    if (h->line.len == 0) {
        return;
    }
    fields = split_fields(&h->line, starts, lens);
    if (field_is(starts[0], lens[0], "item")) {
        expect_fields(h, fields, 3, "item,<timestamp>,<64 hex>");
        command_item(h, starts[1], lens[1], starts[2], lens[2]);
    } else if (field_is(starts[0], lens[0], "seal")) {
        expect_fields(h, fields, 1, "seal");
        command_seal(h);
    } else if (field_is(starts[0], lens[0], "initiate")) {
        expect_fields(h, fields, 1, "initiate");
        command_initiate(h);
    } else if (field_is(starts[0], lens[0], "msg")) {
        expect_fields(h, fields, 2, "msg,<hex>");
        command_msg(h, starts[1], lens[1]);
    } else {
        fail(h, "unknown command (expected item, seal, initiate or msg)");
    }
}

/* Reads FRAMESIZELIMIT and lets negsync judge it now, so a bad value fails before any input. */
static void read_frame_size_limit(struct harness *h) {
    const char *text = getenv("FRAMESIZELIMIT");
    negsync_session *probe = NULL;
    if (text == NULL || text[0] == '\0') {
        return;
    }
    if (!parse_u64((const uint8_t *)text, strlen(text), &h->frame_size_limit)) {
        fail(h, "FRAMESIZELIMIT=%s is not a decimal number", text);
    }
    if (negsync_session_new(h->set, h->frame_size_limit, &probe) != NEGSYNC_OK) {
        fail(h, "FRAMESIZELIMIT=%s refused: 0 means none, otherwise at least 4096", text);
    }
    negsync_session_free(probe);
}

int main(int argc, char **argv) {
    struct harness h;
    memset(&h, 0, sizeof h);
    if (argc > 1) {
        fprintf(stderr,
                "usage: %s < commands\n"
                "  (item,<ts>,<hex id> | seal | initiate | msg,<hex>), one per line;\n"
                "  env FRAMESIZELIMIT bounds this side's messages\n",
                argv[0]);
        return 2;
    }
    check(&h, negsync_set_new(&h.set), "negsync_set_new");
    read_frame_size_limit(&h);
    while (read_line(&h)) {
        h.line_number++;
        run_line(&h);
    }
    harness_free(&h);
    return 0;
}
